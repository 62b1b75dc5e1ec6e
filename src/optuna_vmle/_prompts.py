"""All prompt text: templates and the functions that fill them. No I/O happens here."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from string import Template
from typing import Any

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
            text += " feasible" if feasible else " INFEASIBLE " + ", ".join(
                f"{k}={format_value(v)}" for k, v in trial.constraints.items() if v > 0
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
