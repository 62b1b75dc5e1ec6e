"""Reflection: one finished trial becomes a short structured note.

The facts (what changed versus the reference trial, the outcome, the learning curve, the error)
are computed here in code; the LLM only adds what it can judge: the hypothesis the trial tested,
whether the outcome confirmed it, one reusable rule and the next action. Its reply is untrusted
text: only strings are kept, each truncated, and nothing in it is ever executed.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Sequence
import dataclasses
from dataclasses import asdict
from dataclasses import dataclass
import functools
import math
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs
from optuna_vmle._client import ask_json
from optuna_vmle._client import LLMClient
from optuna_vmle._client import Purpose
from optuna_vmle._llm import LLMReply
from optuna_vmle._prompts import build_reflection_messages
from optuna_vmle._proposal import extract_json_object
from optuna_vmle._relevance import relevance_problem
from optuna_vmle._search_space import format_value


NOTE_TEXT_MAX_CHARS = 160
VERDICTS = ("confirmed", "refuted", "inconclusive")
_MAX_CHANGES = 8
_LLM_FIELDS = ("hypothesis", "verdict", "rule", "next_action")

_logger = optuna.logging.get_logger(f"optuna.{__name__}")


class InvalidReflection(ValueError):
    """A reflection reply that is not a JSON object with a non-empty rule."""


@dataclass(frozen=True)
class TrialFacts:
    """What happened in a trial, computed from the storage (no LLM involved)."""

    trial: int
    state: str
    value: float | None
    reference: str
    changed: str
    outcome: str
    expectation: str


def reflection_schema() -> dict[str, Any]:
    """The JSON schema of a reflection reply."""
    text = {"type": "string", "maxLength": NOTE_TEXT_MAX_CHARS}
    return {
        "type": "object",
        "properties": {
            "hypothesis": text,
            "verdict": {"enum": list(VERDICTS)},
            "rule": text,
            "next_action": text,
        },
        "required": list(_LLM_FIELDS),
        "additionalProperties": False,
    }


def trial_facts(
    study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
) -> TrialFacts:
    """The facts of a trial that is finishing with ``state`` and ``values``.

    ``trial`` should be fresh from the storage, so that attrs written during the run (the error
    text, the proposal's rationale) are present. The reference is the best of the trials
    numbered before it.
    """
    reference_trial = _reference_trial(study, trial)
    if reference_trial is None:
        reference, changed = "nothing", "first finished trial"
    else:
        label = "best" if len(study.directions) == 1 else "previous"
        reference = f"the {label} trial #{reference_trial.number}"
        changed = _changes(reference_trial.params, trial.params)
    complete = state == TrialState.COMPLETE and values is not None and len(values) == 1
    value = float(values[0]) if complete else None
    return TrialFacts(
        trial=trial.number,
        state=state.name,
        value=value,
        reference=reference,
        changed=changed,
        outcome=_outcome(study, trial, state, values, reference_trial),
        expectation=_truncate(str(trial.user_attrs.get(_attrs.RATIONALE, ""))),
    )


def reflect_on_trial(
    client: LLMClient,
    study: optuna.Study,
    trial: FrozenTrial,
    state: TrialState,
    values: Sequence[float] | None,
    *,
    task: str,
    seed: int | None,
    vocabulary: Collection[str] | None = None,
) -> tuple[dict[str, Any], LLMReply | None]:
    """The note of one trial: the facts, plus the LLM's judgement when its reply is usable;
    and the LLM reply (None when the call failed), for its token and latency accounting.

    An LLM error or an invalid reply is logged and leaves the facts-only note.
    """
    facts = trial_facts(study, trial, state, values)
    if vocabulary is not None and relevance_problem(facts.expectation, vocabulary=vocabulary):
        # The proposal's rationale is LLM text too: off-topic, it is neither shown nor kept.
        facts = dataclasses.replace(facts, expectation="")
    note: dict[str, Any] = asdict(facts)
    messages = build_reflection_messages(
        task=task,
        directions=study.directions,
        number=facts.trial,
        state=facts.state,
        params=trial.params,
        reference=facts.reference,
        changed=facts.changed,
        outcome=facts.outcome,
        expectation=facts.expectation,
    )
    purpose = Purpose("reflection", study.study_name, trial.number, seed)
    parse = functools.partial(parse_reflection, vocabulary=vocabulary)
    answer = ask_json(client, messages, reflection_schema(), parse, purpose)
    if answer.value is not None:
        note.update(answer.value)
    else:
        _logger.warning(f"Trial {trial.number}: reflection skipped ({answer.error}).")
        note["reflection_error"] = _truncate(str(answer.error))
    reply = answer.reply
    return note, reply


def parse_reflection(text: str, vocabulary: Collection[str] | None = None) -> dict[str, str]:
    """The validated LLM part of a note: strings only, whitespace collapsed, truncated.

    With a ``vocabulary`` (see ``_relevance``), a hypothesis, rule or next action that names
    nothing of the task is dropped; a dropped rule leaves ``no_usable_rule`` with the reason.
    """
    try:
        reply = extract_json_object(text)
    except ValueError:
        raise InvalidReflection("the reply is not a JSON object") from None
    fields = {
        name: _truncate(" ".join(reply[name].split()))
        for name in _LLM_FIELDS
        if isinstance(reply.get(name), str)
    }
    if not fields.get("rule"):
        raise InvalidReflection('the reply has no "rule" text')
    if vocabulary is not None:
        for name in ("hypothesis", "rule", "next_action"):
            problem = relevance_problem(fields.get(name, ""), vocabulary=vocabulary)
            if name in fields and problem is not None:
                del fields[name]
                if name == "rule":
                    fields["no_usable_rule"] = problem
    if fields.get("verdict", "").lower() not in VERDICTS:
        fields["verdict"] = "inconclusive"
    else:
        fields["verdict"] = fields["verdict"].lower()
    return fields


def learning_curve_text(trial: FrozenTrial, direction: StudyDirection) -> str | None:
    """``"5 steps (0-4): first 0.9 at 0, best 0.5 at 3, last 0.6 at 4"``, or None."""
    curve = {s: v for s, v in trial.intermediate_values.items() if math.isfinite(v)}
    if not curve:
        return None
    steps = sorted(curve)
    pick = max if direction == StudyDirection.MAXIMIZE else min
    best = pick(steps, key=lambda s: curve[s])
    first, last = steps[0], steps[-1]
    return (
        f"{len(steps)} steps ({first}-{last}): first {format_value(curve[first])} at {first}, "
        f"best {format_value(curve[best])} at {best}, last {format_value(curve[last])} at {last}"
    )


def _reference_trial(study: optuna.Study, trial: FrozenTrial) -> FrozenTrial | None:
    # Only earlier trials: the note must not depend on how far other trials got meanwhile.
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.number < trial.number
    ]
    if not complete:
        return None
    if len(study.directions) > 1:
        return complete[-1]
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    return min(complete, key=lambda t: sign * t.values[0])


def _changes(reference: dict[str, Any], params: dict[str, Any]) -> str:
    changes = [
        f"{name} {format_value(reference.get(name))} -> {format_value(value)}"
        for name, value in params.items()
        if reference.get(name, _MISSING) != value
    ]
    if not changes:
        return "same parameters"
    more = len(changes) - _MAX_CHANGES
    return ", ".join(changes[:_MAX_CHANGES]) + (f" and {more} more" if more > 0 else "")


def _outcome(
    study: optuna.Study,
    trial: FrozenTrial,
    state: TrialState,
    values: Sequence[float] | None,
    reference: FrozenTrial | None,
) -> str:
    direction = study.directions[0]
    if state == TrialState.COMPLETE and values:
        if len(values) > 1:
            return "values [" + ", ".join(format_value(float(v)) for v in values) + "]"
        return _value_versus_best(float(values[0]), direction, reference)
    text = "failed" if state == TrialState.FAIL else state.name.lower()
    error = trial.user_attrs.get(_attrs.ERROR)
    if state == TrialState.FAIL:
        text += f": {error}" if error else " (no error text recorded)"
    curve = learning_curve_text(trial, direction)
    if curve:
        text += f"; learning curve {curve}"
    return _truncate(text)


def _value_versus_best(
    value: float, direction: StudyDirection, reference: FrozenTrial | None
) -> str:
    if reference is None or len(reference.values) != 1:
        return f"value {format_value(value)} (first complete trial)"
    best = reference.values[0]
    better = value > best if direction == StudyDirection.MAXIMIZE else value < best
    if better:
        previous = f"{format_value(best)} at #{reference.number}"
        return f"value {format_value(value)}, new best (was {previous})"
    return (
        f"value {format_value(value)}, not better than the best {format_value(best)} "
        f"at #{reference.number} (difference {format_value(abs(value - best))})"
    )


def _truncate(text: str) -> str:
    return text if len(text) <= NOTE_TEXT_MAX_CHARS else text[: NOTE_TEXT_MAX_CHARS - 1] + "…"


_MISSING = object()
