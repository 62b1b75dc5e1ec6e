"""optuna-vmle: an LLM as an Optuna sampler that proposes, reflects and remembers."""

from __future__ import annotations

from optuna_vmle._db import SchemaVersionError
from optuna_vmle._failures import record_errors
from optuna_vmle._history import HistoryLimits
from optuna_vmle._learning import Learner
from optuna_vmle._llm import LLMConfigurationError
from optuna_vmle._options import LearningOptions
from optuna_vmle._options import LLMOptions
from optuna_vmle._options import StoreOptions
from optuna_vmle._options import TransferOptions
from optuna_vmle._report import study_report
from optuna_vmle._retrieval import descriptor_similarity
from optuna_vmle._sampler import VirtualMLESampler
from optuna_vmle._search_space import suggest
from optuna_vmle._summary_files import export_summaries
from optuna_vmle._summary_files import import_summaries


__version__ = "0.1.0"

__all__ = [
    "HistoryLimits",
    "LLMConfigurationError",
    "LLMOptions",
    "Learner",
    "LearningOptions",
    "SchemaVersionError",
    "StoreOptions",
    "TransferOptions",
    "VirtualMLESampler",
    "descriptor_similarity",
    "export_summaries",
    "import_summaries",
    "record_errors",
    "study_report",
    "suggest",
]
