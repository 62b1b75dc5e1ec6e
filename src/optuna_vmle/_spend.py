"""What a study has spent on LLM calls so far, from its trials' records (shared by all workers)."""

from __future__ import annotations

import optuna

from optuna_vmle._attrs import llm_usage
from optuna_vmle._memory import StudyMemory


def spent_usd(study: optuna.Study) -> float:
    """The cost litellm reported for the study's proposals and notes, in US dollars."""
    proposals = sum(
        float(llm_usage(t).get("cost_usd") or 0.0) for t in study.get_trials(deepcopy=False)
    )
    notes = sum(
        float((n.get("llm") or {}).get("cost_usd") or 0.0) for n in StudyMemory(study).notes()
    )
    return proposals + notes
