"""optuna-vmle: an LLM as an Optuna sampler that proposes, reflects and remembers."""

from __future__ import annotations

from optuna_vmle._failures import record_errors
from optuna_vmle._history import HistoryLimits
from optuna_vmle._sampler import VirtualMLESampler


__version__ = "0.1.0"

__all__ = ["HistoryLimits", "VirtualMLESampler", "record_errors"]
