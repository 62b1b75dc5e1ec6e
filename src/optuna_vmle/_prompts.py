"""All prompt text: templates and the functions that fill them. No I/O happens here."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from string import Template
from typing import Any
from typing import TYPE_CHECKING

from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import IntDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs
from optuna_vmle._history import last_intermediate
from optuna_vmle._history import StudyView
from optuna_vmle._search_space import describe
from optuna_vmle._search_space import format_value


if TYPE_CHECKING:
    from optuna_vmle._classical_view import ClassicalView


PROPOSAL_SYSTEM = (
    "You are a careful machine-learning engineer tuning hyperparameters. "
    "Each turn you propose the next configuration to evaluate. Learn from finished, failed "
    "and pruned trials, do not repeat a configuration, balance exploring untested regions "
    "with refining the best ones, and answer with JSON only."
)

PROPOSAL_USER = Template(
    """Task: $task
Objective: $objective
Progress: $progress

Search space:
$space
$sections
Propose the next configuration. Reply with one JSON object exactly like:
$example
Use every parameter listed, each within its range or choices. "rationale" is one short sentence."""
)

REPAIR_USER = Template(
    """Your reply could not be used:
$problems
Reply again with one corrected JSON object of the same form."""
)

_MAX_ERROR_CHARS = 160


def build_proposal_messages(
    *,
    task: str,
    search_space: Mapping[str, BaseDistribution],
    view: StudyView,
    budget: int | None,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> list[dict[str, str]]:
    """The chat messages asking for one configuration.

    ``extra_sections`` are (title, body) pairs added after the trial history, e.g. study insights.
    """
    sections = [
        ("Best trials so far", _trial_lines(view.best, search_space)),
        ("Most recent trials", _trial_lines(view.recent, search_space)),
        ("Failed or pruned trials (learn what to avoid)", _trial_lines(view.failed, search_space)),
        (
            "Running now on other workers (do not propose these again)",
            _trial_lines(view.running, search_space),
        ),
        *extra_sections,
    ]
    body = "".join(f"\n{title}:\n{text}\n" for title, text in sections if text)
    # Placeholders, not values: small models copy example values verbatim.
    example = (
        '{"params": {'
        + ", ".join(f'"{name}": <{_placeholder(d)}>' for name, d in search_space.items())
        + '}, "rationale": "<one short sentence>"}'
    )
    user = PROPOSAL_USER.substitute(
        task=task.strip() or "(not described)",
        objective=_objective_text(view.directions),
        progress=_progress_text(view, budget),
        space="\n".join(f"- {describe(name, d)}" for name, d in search_space.items()),
        sections=body,
        example=example,
    )
    return [{"role": "system", "content": PROPOSAL_SYSTEM}, {"role": "user", "content": user}]


def build_repair_messages(
    messages: list[dict[str, str]], reply_text: str, problems: Sequence[str]
) -> list[dict[str, str]]:
    """The conversation extended with the invalid reply and what was wrong with it."""
    feedback = REPAIR_USER.substitute(problems="\n".join(f"- {p}" for p in problems))
    return [
        *messages,
        {"role": "assistant", "content": reply_text[:2000]},
        {"role": "user", "content": feedback},
    ]


def _objective_text(directions: Sequence[StudyDirection]) -> str:
    names = [d.name.lower() for d in directions]
    if len(names) == 1:
        return f"{names[0]} the value"
    return "multi-objective: " + ", ".join(f"value {i}: {n}" for i, n in enumerate(names))


def _progress_text(view: StudyView, budget: int | None) -> str:
    text = f"{view.n_complete} complete, {view.n_pruned} pruned, {view.n_failed} failed"
    if budget is not None:
        done = view.n_complete + view.n_pruned + view.n_failed
        text += f"; about {max(budget - done, 0)} of {budget} trials left"
    return text


def _trial_lines(trials: Sequence[FrozenTrial], search_space: Mapping[str, Any]) -> str:
    return "\n".join(_trial_line(t, search_space) for t in trials)


def _trial_line(trial: FrozenTrial, search_space: Mapping[str, Any]) -> str:
    params = ", ".join(
        f"{name}={format_value(value)}"
        for name, value in trial.params.items()
        if name in search_space
    )
    return f"#{trial.number} {_outcome(trial)} | {params}"


def _outcome(trial: FrozenTrial) -> str:
    if trial.state == TrialState.COMPLETE:
        values = trial.values
        text = (
            f"value={format_value(values[0])}"
            if len(values) == 1
            else "values=[" + ", ".join(format_value(v) for v in values) + "]"
        )
        if trial.constraints:
            feasible = all(v <= 0 for v in trial.constraints.values())
            text += (
                " feasible"
                if feasible
                else " INFEASIBLE "
                + ", ".join(f"{k}={format_value(v)}" for k, v in trial.constraints.items() if v > 0)
            )
        return text
    if trial.state == TrialState.RUNNING:
        return "RUNNING"
    text = trial.state.name
    intermediate = last_intermediate(trial)
    if intermediate is not None:
        step, value = intermediate
        text += f" at step {step} (last value {format_value(value)})"
    error = trial.user_attrs.get(_attrs.ERROR)
    if error:
        text += f" error: {str(error)[:_MAX_ERROR_CHARS]}"
    return text


def _placeholder(distribution: BaseDistribution) -> str:
    if isinstance(distribution, CategoricalDistribution):
        return "one of the choices"
    return "int" if isinstance(distribution, IntDistribution) else "float"


REFLECTION_SYSTEM = (
    "You review one finished trial of a hyperparameter search and write a short lab note. "
    "Failed and pruned trials are the most informative: say what made them fail. "
    "Answer with JSON only."
)

REFLECTION_USER = Template(
    """Task: $task
Objective: $objective

Trial #$number ($state)
Parameters: $params
Changed versus $reference
Outcome: $outcome
Expectation before the run: $expectation

Reply with one JSON object exactly like:
{"hypothesis": "<what this trial tested>", "verdict": "<confirmed|refuted|inconclusive>", "rule": "<one reusable sentence>", "next_action": "<what to try next>"}
Each text is one short sentence."""
)

INSIGHTS_SYSTEM = (
    "You keep the lessons of a hyperparameter search: a short list of principles that held and "
    "failure modes to avoid, each backed by the numbers of the trials that support it. "
    "Answer with JSON only."
)

INSIGHTS_USER = Template(
    """Task: $task

Current lessons:
$current

New trial notes:
$notes

Merge the new notes into the lessons. Keep at most $max_items principles and at most $max_items failure modes; merge duplicates, drop lessons the evidence contradicts, and list the supporting trial numbers of each. Reply with one JSON object exactly like:
{"principles": [{"text": "<one sentence>", "trials": [<trial numbers>]}], "failure_modes": [{"text": "<one sentence>", "trials": [<trial numbers>]}]}"""
)

DISTILL_SYSTEM = (
    "You distil what a finished hyperparameter search learned into rules another engineer can "
    "apply to a similar task. Answer with JSON only."
)

DISTILL_USER = Template(
    """Task: $task
Task descriptors: $descriptors

Lessons of the study:
$lessons

Evidence:
$evidence

Write at most $max_rules transferable rules, each one sentence tied to the evidence or to the task descriptors. Reply with one JSON object exactly like:
{"rules": ["<one sentence>"]}"""
)

INSIGHTS_SECTION_TITLE = "Lessons from this study's own trials (principles and failure modes)"
TRANSFER_SECTION_TITLE = (
    "Hypotheses from similar past studies (not confirmed here: test them, and trust this "
    "study's own trials when they disagree)"
)


def build_reflection_messages(
    *,
    task: str,
    directions: Sequence[StudyDirection],
    number: int,
    state: str,
    params: Mapping[str, Any],
    reference: str,
    changed: str,
    outcome: str,
    expectation: str,
) -> list[dict[str, str]]:
    """The chat messages asking for the note of one finished trial."""
    user = REFLECTION_USER.substitute(
        task=task.strip() or "(not described)",
        objective=_objective_text(directions),
        number=number,
        state=state,
        params=_params_text(params),
        reference=f"{reference}: {changed}",
        outcome=outcome,
        expectation=expectation or "(none recorded)",
    )
    return [{"role": "system", "content": REFLECTION_SYSTEM}, {"role": "user", "content": user}]


def build_insights_messages(
    *,
    task: str,
    current: Mapping[str, Any] | None,
    notes: Sequence[Mapping[str, Any]],
    max_items: int,
) -> list[dict[str, str]]:
    """The chat messages asking to merge new trial notes into the bounded study lessons."""
    user = INSIGHTS_USER.substitute(
        task=task.strip() or "(not described)",
        current=format_insights(current) if current else "(none yet)",
        notes="\n".join(_note_line(note) for note in notes) or "(none)",
        max_items=max_items,
    )
    return [{"role": "system", "content": INSIGHTS_SYSTEM}, {"role": "user", "content": user}]


def build_distill_messages(
    *,
    task: str,
    descriptors: Mapping[str, Any],
    insights: Mapping[str, Any] | None,
    evidence: Mapping[str, Any],
    max_rules: int,
) -> list[dict[str, str]]:
    """The chat messages asking for the transferable rules of a finished study."""
    user = DISTILL_USER.substitute(
        task=task.strip() or "(not described)",
        descriptors=_params_text(descriptors) or "(none)",
        lessons=format_insights(insights) if insights else "(none)",
        evidence=format_evidence(evidence),
        max_rules=max_rules,
    )
    return [{"role": "system", "content": DISTILL_SYSTEM}, {"role": "user", "content": user}]


def format_insights(insights: Mapping[str, Any]) -> str:
    """Principles and failure modes, one line each with their supporting trials."""
    lines = [
        f"- {kind}: {item['text']}{_trials_text(item.get('trials', []))}"
        for kind, key in (("principle", "principles"), ("failure mode", "failure_modes"))
        for item in insights.get(key, [])
    ]
    return "\n".join(lines)


def format_transferred(summaries: Sequence[tuple[float, Mapping[str, Any]]]) -> str:
    """Retrieved cognition summaries with their similarity to this task."""
    blocks = []
    for similarity, summary in summaries:
        header = (
            f"[{str(summary['id'])[:8]}] study {summary.get('study_name', '?')} "
            f"(similarity {similarity:.2f}; {_params_text(summary.get('descriptors', {}))})"
        )
        rules = "".join(f"\n  - rule: {rule}" for rule in summary.get("rules", []))
        blocks.append(header + rules + "\n" + format_evidence(summary, indent="  "))
    return "\n".join(blocks)


def format_evidence(evidence: Mapping[str, Any], indent: str = "") -> str:
    """Top configurations, good parameter ranges and failure regions, one line each."""
    lines = [
        f"top config (value {format_value(c['value'])}): {_params_text(c['params'])}"
        for c in evidence.get("top_configs", [])[:3]
    ]
    lines += [
        f"good {name}: {_range_text(good)}"
        for name, good in evidence.get("param_ranges", {}).items()
    ]
    lines += [
        f"failed with {_params_text(region['params'])}: {region.get('error') or 'no error text'}"
        for region in evidence.get("failure_regions", [])[:3]
    ]
    return "\n".join(f"{indent}- {line}" for line in lines) or f"{indent}- (no evidence)"


CLASSICAL_SECTION_TITLE = "The classical sampler's view (TPE, computed from the trials)"


def format_classical_view(view: ClassicalView, search_space: Mapping[str, Any]) -> str:
    """TPE's good region and the LLM's trust, as the proposal prompt shows them."""
    lines = []
    if view.good_ranges:
        parts = [
            f"{name} " + _range_text(view.good_ranges[name])
            for name in search_space
            if name in view.good_ranges
        ]
        lines.append(f"- good region (TPE's {view.good_trials} best trials): " + "; ".join(parts))
    if view.trust is not None:
        trust = view.trust
        lines.append(
            f"- your proposals chose {trust.llm_trials} finished trials, TPE "
            f"{trust.classical_trials}; yours beat TPE's about {trust.llm_credit:.0%} of the time "
            f"(recent trials weigh more), so about {trust.share:.0%} of the next trials use "
            "your proposal and the rest TPE's"
        )
    return "\n".join(lines)


def _range_text(good: Mapping[str, Any]) -> str:
    if "values" in good:
        return ", ".join(format_value(v) for v in good["values"])
    return f"{format_value(good['low'])} to {format_value(good['high'])}"


def _note_line(note: Mapping[str, Any]) -> str:
    text = f"#{note['trial']} {note.get('state', '?')}: {note.get('outcome', '')}"
    if note.get("changed"):
        text += f" | changed: {note['changed']}"
    if note.get("rule"):
        text += f" | rule: {note['rule']}"
    return text


def _trials_text(trials: Sequence[int], shown: int = 5) -> str:
    if not trials:
        return ""
    more = f" and {len(trials) - shown} more" if len(trials) > shown else ""
    return " (trials " + ", ".join(f"#{n}" for n in trials[:shown]) + more + ")"


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={format_value(value)}" for name, value in params.items())
