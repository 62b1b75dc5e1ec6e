"""optuna-vmle: an LLM as an Optuna sampler that proposes, reflects and remembers."""

from __future__ import annotations

from optuna_vmle._db import SchemaVersionError
from optuna_vmle._failures import record_errors
from optuna_vmle._history import HistoryLimits
from optuna_vmle._sampler import VirtualMLESampler
from optuna_vmle._transfer import descriptor_similarity
from optuna_vmle._transfer import export_summaries
from optuna_vmle._transfer import import_summaries


__version__ = "0.1.0"

__all__ = [
    "HistoryLimits",
    "SchemaVersionError",
    "VirtualMLESampler",
    "descriptor_similarity",
    "export_summaries",
    "import_summaries",
    "record_errors",
]
