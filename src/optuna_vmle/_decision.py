"""Which configuration a trial runs, where it came from, and the attributes that record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna_vmle import _attrs
from optuna_vmle._proposer import ProposalResult
from optuna_vmle._screen import ScreenResult


@dataclass(frozen=True)
class Decision:
    """The relative parameters a trial runs (None: ask the fallback sampler), and why."""

    params: dict[str, Any] | None
    source: str
    reason: str | None
    reason_kind: str | None


def decide(result: ProposalResult, screened: ScreenResult | None, *, enqueued: bool) -> Decision:
    """Combine the LLM's proposal with the guard's choice.

    Example:
        >>> from optuna_vmle._decision import decide
        >>> from optuna_vmle._proposer import ProposalResult
        >>> decide(ProposalResult(None, failure="timeout", failure_kind="timeout"), None,
        ...        enqueued=False).source
        'fallback'
    """
    if result.proposal is None:
        params = screened.params if screened is not None else None
        return Decision(params, _attrs.SOURCE_FALLBACK, result.failure, result.failure_kind)
    if screened is not None and not screened.chose_llm:
        return Decision(screened.params, _attrs.SOURCE_FALLBACK, screened_out_reason(screened), "guard")
    if enqueued:
        source = _attrs.SOURCE_ENQUEUED
    else:
        source = _attrs.SOURCE_LLM_REPAIRED if result.repaired else _attrs.SOURCE_LLM
    return Decision(result.proposal.params, source, None, None)


def decision_attrs(
    decision: Decision,
    result: ProposalResult,
    screened: ScreenResult | None,
    ran: dict[str, Any],
    usage: dict[str, Any],
) -> dict[str, Any]:
    """The ``vmle:`` attributes of a decided trial; ``ran`` is what the trial was given."""
    attrs: dict[str, Any] = {
        _attrs.SOURCE: decision.source,
        _attrs.LLM: usage,
        _attrs.PROPOSAL: ran,
    }
    if result.proposal is not None:
        attrs[_attrs.RATIONALE] = result.proposal.rationale
        if result.proposal.params != ran:
            attrs[_attrs.LLM_PROPOSAL] = result.proposal.params
    if decision.reason is not None:
        attrs[_attrs.FALLBACK_REASON] = decision.reason[:300]
        attrs[_attrs.FALLBACK_KIND] = decision.reason_kind or "other"
    if screened is not None:
        attrs[_attrs.SCREEN] = {
            "phase": screened.phase,
            "llm": _rounded(screened.best_llm_score),
            "tpe": _rounded(screened.best_tpe_score),
        }
    return attrs


def screened_out_reason(screened: ScreenResult) -> str:
    """Why the guard ran another configuration than the LLM's."""
    if screened.best_llm_score is None:
        return "screened out: the proposal repeats an earlier trial"
    if screened.phase == "startup":
        return (
            f"screened out at startup: novelty {screened.best_llm_score:.3g} is below "
            f"random draws' median {screened.best_tpe_score:.3g}"
        )
    return (
        f"screened out: TPE's candidate scores {screened.best_tpe_score:.3g}, "
        f"the LLM's {screened.best_llm_score:.3g}"
    )


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 4)
