"""A bounded view of a study's trials for the proposal prompt.

Whatever the number of trials, the view holds at most ``best_k + recent_k + failed_k +
running_k`` trials, so the prompt size stays flat as the study grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


@dataclass(frozen=True)
class HistoryLimits:
    """How many trials of each kind the prompt shows."""

    best_k: int = 5
    recent_k: int = 5
    failed_k: int = 3
    running_k: int = 8


@dataclass(frozen=True)
class StudyView:
    """The trials the LLM sees, already selected and ordered."""

    directions: list[StudyDirection]
    n_complete: int
    n_failed: int
    n_pruned: int
    best: list[FrozenTrial]
    recent: list[FrozenTrial]
    failed: list[FrozenTrial]
    running: list[FrozenTrial]


def build_study_view(study: optuna.Study, current: FrozenTrial, limits: HistoryLimits) -> StudyView:
    """Select the best, most recent, failed/pruned and running trials of ``study``."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state in (TrialState.FAIL, TrialState.PRUNED)]
    running = [t for t in trials if t.state == TrialState.RUNNING and t.number != current.number]
    best = _best_trials(complete, study.directions, limits.best_k)
    best_numbers = {t.number for t in best}
    recent = [t for t in complete if t.number not in best_numbers][-limits.recent_k :]
    return StudyView(
        directions=list(study.directions),
        n_complete=len(complete),
        n_failed=sum(t.state == TrialState.FAIL for t in trials),
        n_pruned=sum(t.state == TrialState.PRUNED for t in trials),
        best=best,
        recent=recent,
        failed=failed[-limits.failed_k :],
        running=running[-limits.running_k :],
    )


def _best_trials(
    complete: Sequence[FrozenTrial], directions: Sequence[StudyDirection], k: int
) -> list[FrozenTrial]:
    feasible = [t for t in complete if _is_feasible(t)] or list(complete)
    if len(directions) == 1:
        sign = -1.0 if directions[0] == StudyDirection.MAXIMIZE else 1.0
        return sorted(feasible, key=lambda t: sign * t.values[0])[:k]
    # Multi-objective: the first Pareto front, then the rest by their first objective.
    front = _pareto_front(feasible, directions)
    return front[:k]


def _pareto_front(
    trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]
) -> list[FrozenTrial]:
    signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions]
    losses = [[s * v for s, v in zip(signs, t.values)] for t in trials]

    def dominated(i: int) -> bool:
        return any(
            all(a <= b for a, b in zip(losses[j], losses[i])) and losses[j] != losses[i]
            for j in range(len(trials))
        )

    return [t for i, t in enumerate(trials) if not dominated(i)]


def _is_feasible(trial: FrozenTrial) -> bool:
    return all(value <= 0.0 for value in trial.constraints.values())


def last_intermediate(trial: FrozenTrial) -> tuple[int, float] | None:
    """The last reported (step, value) of a trial, if any."""
    if not trial.intermediate_values:
        return None
    step = max(trial.intermediate_values)
    return step, trial.intermediate_values[step]
