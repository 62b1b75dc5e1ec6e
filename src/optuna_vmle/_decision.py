"""Which configuration a trial runs, where it came from, and how that is recorded and logged."""

from __future__ import annotations

from dataclasses import dataclass
import threading
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from optuna_vmle import _attrs
from optuna_vmle._proposer import ProposalResult
from optuna_vmle._proposer import Usage
from optuna_vmle._screen import ScreenResult


_logger = optuna.logging.get_logger(f"optuna.{__name__}")


@dataclass(frozen=True)
class Decision:
    """The relative parameters a trial runs (None: ask the fallback sampler), and why."""

    params: dict[str, Any] | None
    source: str
    reason: str | None = None
    reason_kind: str | None = None


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
        if enqueued and result.failure is None:  # every parameter was given: nothing to ask
            return Decision(None, _attrs.SOURCE_ENQUEUED)
        params = screened.params if screened is not None else None
        return Decision(params, _attrs.SOURCE_FALLBACK, result.failure, result.failure_kind)
    if screened is not None and not screened.chose_llm:
        return Decision(
            screened.params, _attrs.SOURCE_FALLBACK, screened_out_reason(screened), "guard"
        )
    if enqueued:
        return Decision(result.proposal.params, _attrs.SOURCE_ENQUEUED)
    source = _attrs.SOURCE_LLM_REPAIRED if result.repaired else _attrs.SOURCE_LLM
    return Decision(result.proposal.params, source)


class DecisionRecorder:
    """Writes each decision to its trial's attrs (in one batch), logs a line per trial, and warns
    once per study and cause when the LLM could not be used."""

    def __init__(self, model: str, fallback_name: str) -> None:
        self._model = model
        self._fallback_name = fallback_name
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        decision: Decision,
        result: ProposalResult,
        screened: ScreenResult | None,
        ran: dict[str, Any],
    ) -> None:
        attrs = decision_attrs(
            decision, result, screened, ran, usage_attr(self._model, result.usage)
        )
        _attrs.set_trial_attrs(study, trial._trial_id, attrs)
        usage = result.usage
        latency = f" after {usage.latency_s:.1f} s of LLM calls" if usage.calls else ""
        why = attrs.get(_attrs.RATIONALE) if decision.reason is None else decision.reason
        _logger.info(
            f"Trial {trial.number}: {decision.source}{latency}" + (f": {why}" if why else ".")
        )
        if decision.reason_kind not in (None, "guard"):
            self._warn_once(study.study_name, decision.reason_kind, decision.reason or "")

    def _warn_once(self, study_name: str, kind: str, reason: str) -> None:
        with self._lock:
            first = (study_name, kind) not in self._warned
            self._warned.add((study_name, kind))
        if first:
            _logger.warning(
                f"LLM proposal unusable ({kind}): {reason}; using {self._fallback_name}. Further "
                f"'{kind}' fallbacks are counted in the trials' vmle:fallback_kind "
                "(python -m optuna_vmle show) without a warning."
            )


def decision_attrs(
    decision: Decision,
    result: ProposalResult,
    screened: ScreenResult | None,
    ran: dict[str, Any],
    usage: dict[str, Any],
) -> dict[str, Any]:
    """The ``vmle:`` attributes of a decided trial; ``ran`` is what the trial was given."""
    attrs: dict[str, Any] = {_attrs.SOURCE: decision.source, _attrs.PROPOSAL: ran}
    if result.usage.calls:
        attrs[_attrs.LLM] = usage
    if result.memory_ids:
        attrs[_attrs.MEMORY_IDS] = result.memory_ids
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
            **({"reason": screened.reason} if screened.reason else {}),
            **({"trust": _rounded(screened.trust)} if screened.trust is not None else {}),
        }
    return attrs


def usage_attr(model: str, usage: Usage) -> dict[str, Any]:
    """The ``vmle:llm`` attribute of a trial."""
    attrs: dict[str, Any] = {
        "model": model,
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "latency_s": round(usage.latency_s, 4),
        "from_store": usage.from_store,
    }
    if usage.cost_usd is not None:
        attrs["cost_usd"] = usage.cost_usd
    return attrs


def screened_out_reason(screened: ScreenResult) -> str:
    """Why the guard ran another configuration than the LLM's."""
    if screened.reason == "duplicate":
        return "screened out: the proposal repeats an earlier trial"
    if screened.reason == "not-trusted" and screened.trust is not None:
        source = "a random draw" if screened.phase == "startup" else "TPE's candidate"
        return (
            f"screened out: the LLM's trust share is {screened.trust:.2f} in this study "
            f"({screened.phase} phase); {source} ran instead"
        )
    return f"screened out ({screened.phase} phase, {screened.reason or 'no reason recorded'})"


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 4)
