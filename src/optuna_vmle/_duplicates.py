"""Which earlier trial a configuration repeats, if any.

Running trials count (with the parameters they were given but have not suggested yet), failed
ones do not: a failure may be transient, and the LLM may want to retry it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs


DuplicateFinder = Callable[[Mapping[str, Any]], "int | None"]
"""Returns the number of an earlier trial with the same parameters, or None."""


def duplicate_finder(
    study: optuna.Study, trial: FrozenTrial, fixed: Mapping[str, Any] | None = None
) -> DuplicateFinder:
    """A finder over every other trial of ``study`` that has not failed.

    A proposal duplicates a trial when it agrees on every parameter that trial used: conditional
    parameters a trial never suggested (e.g. ``weight_decay`` when ``use_weight_decay`` is false)
    do not make an otherwise identical proposal new. ``fixed`` (enqueued) values are part of
    every candidate.

    Example:
        >>> import optuna
        >>> from optuna_vmle._duplicates import duplicate_finder
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"x": 1.0})
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)
        >>> current = study.ask()
        >>> find = duplicate_finder(study, study._storage.get_trial(current._trial_id))
        >>> find({"x": 1.0}), find({"x": 0.5})
        (0, None)
    """
    existing = [
        (t.number, _params_for_duplicates(t))
        for t in study.get_trials(deepcopy=False)
        if t.number != trial.number and t.state != TrialState.FAIL
    ]

    def find(params: Mapping[str, Any]) -> int | None:
        candidate = {**params, **(fixed or {})}
        for number, other in existing:
            shared = other.keys() & candidate.keys()
            if shared and all(_same(other[k], candidate[k]) for k in shared):
                return number
        return None

    return find


def _params_for_duplicates(trial: FrozenTrial) -> dict[str, Any]:
    """The parameters a finished trial used; for a running trial, also what it was given to run
    and has not suggested yet."""
    if trial.state.is_finished():
        return dict(trial.params)
    proposal = trial.user_attrs.get(_attrs.PROPOSAL)
    params = dict(proposal) if isinstance(proposal, dict) else {}
    params.update(trial.params)
    return params


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python, but a boolean choice and an integer choice are different values.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
