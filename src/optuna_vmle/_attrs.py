"""Names of the ``vmle:`` trial user attributes, and the one function that writes them.

They make every trial's provenance visible in ``trial.user_attrs`` and in optuna-dashboard. The
usage of the LLM calls of a trial is one attribute (``vmle:llm``), so that recording a decision
takes a few storage writes, not one per number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna


PREFIX = "vmle:"
SOURCE = PREFIX + "source"
RATIONALE = PREFIX + "rationale"
PROPOSAL = PREFIX + "proposal"  # the parameters the trial was given to run
LLM_PROPOSAL = PREFIX + "llm_proposal"  # the LLM's idea, when the trial runs something else
FALLBACK_REASON = PREFIX + "fallback_reason"
FALLBACK_KIND = PREFIX + "fallback_kind"
LLM = PREFIX + "llm"  # {"model", "calls", "prompt_tokens", "completion_tokens", "latency_s", ...}
INDEPENDENT_PARAMS = PREFIX + "independent_params"
ERROR = PREFIX + "error"
SCREEN = PREFIX + "screen"
MEMORY_IDS = PREFIX + "memory_ids"
TRANSFERRED_FROM = PREFIX + "transferred_from"
WARM_STARTED = PREFIX + "warm_started"  # study system attr: the warm start was enqueued

SOURCE_LLM = "llm"
SOURCE_LLM_REPAIRED = "llm-repaired"
SOURCE_FALLBACK = "fallback"
SOURCE_ENQUEUED = "enqueued"


def set_trial_attrs(study: optuna.Study, trial_id: int, attrs: Mapping[str, Any]) -> None:
    """Write several user attrs of a running trial through the study's storage."""
    for key, value in attrs.items():
        study._storage.set_trial_user_attr(trial_id, key, value)


def llm_usage(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The ``vmle:llm`` usage of a trial (empty when no LLM was asked).

    Example:
        >>> import optuna
        >>> from optuna_vmle._attrs import llm_usage
        >>> trial = optuna.trial.create_trial(value=1.0, user_attrs={"vmle:llm": {"calls": 2}})
        >>> llm_usage(trial)["calls"]
        2
    """
    usage = trial.user_attrs.get(LLM)
    return dict(usage) if isinstance(usage, dict) else {}
