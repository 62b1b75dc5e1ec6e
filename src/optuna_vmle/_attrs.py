"""Names of the ``vmle:`` trial user attributes and the one function that writes them.

They make every trial's provenance visible in ``trial.user_attrs`` and in optuna-dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna


PREFIX = "vmle:"
SOURCE = PREFIX + "source"
MODEL = PREFIX + "model"
RATIONALE = PREFIX + "rationale"
PROPOSAL = PREFIX + "proposal"
FALLBACK_REASON = PREFIX + "fallback_reason"
INDEPENDENT_PARAMS = PREFIX + "independent_params"
LLM_CALLS = PREFIX + "llm_calls"
PROMPT_TOKENS = PREFIX + "prompt_tokens"
COMPLETION_TOKENS = PREFIX + "completion_tokens"
LATENCY_S = PREFIX + "latency_s"
COST_USD = PREFIX + "cost_usd"
FROM_STORE = PREFIX + "from_store"
ERROR = PREFIX + "error"
SCREEN = PREFIX + "screen"
REFLECTION_PROMPT_TOKENS = PREFIX + "reflection_prompt_tokens"
REFLECTION_COMPLETION_TOKENS = PREFIX + "reflection_completion_tokens"
REFLECTION_LATENCY_S = PREFIX + "reflection_latency_s"
REFLECTION = PREFIX + "reflection"
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
