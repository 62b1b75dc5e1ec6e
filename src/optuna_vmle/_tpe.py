"""The one adapter around TPESampler's private internals (Optuna 5).

The decision layer (``_screen``) needs what TPE itself computes when it samples a trial: the
split of the trials into good and bad ones, the Parzen estimators l(x) and g(x), draws from
l(x), and the acquisition log l(x) - log g(x) of any configuration. Optuna exposes none of this
publicly, so every private name is used here and only here; ``tests/test_trust.py`` pins the
Optuna version this was written against.

Unlike a plain call of ``_build_parzen_estimator`` over the whole space, :class:`TPEView`
handles conditional parameters the way TPE does: the parameters that every trial has form one
joint group (multivariate TPE), and each parameter that some trials lack gets its own
univariate estimator built from the trials that have it. A trial without a conditional
parameter therefore still counts.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import json
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import _RELATIVE_PARAMS_KEY
from optuna.samplers._tpe.sampler import _split_trials
from optuna.samplers._tpe.sampler import _SYSTEM_ATTR_MAX_LENGTH
from optuna.samplers._tpe.sampler import default_gamma
from optuna.samplers._tpe.sampler import default_gamma_multiobjective
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


# The Optuna major version whose TPESampler internals this module uses.
SUPPORTED_OPTUNA_MAJOR = 5

Config = dict[str, Any]


def n_startup_trials(tpe: TPESampler) -> int:
    """How many finished trials TPE waits for before its model takes over."""
    return int(tpe._n_startup_trials)


def uses_constant_liar(tpe: TPESampler) -> bool:
    return bool(tpe._constant_liar)


def good_trial_count(tpe: TPESampler, study: Study, n_finished: int) -> int:
    """How many of ``n_finished`` trials TPE counts as good (its gamma), l(x)'s share."""
    return int(_gamma(tpe, study)(n_finished))


def finished_trial_count(study: Study) -> int:
    """The count TPE compares with ``n_startup_trials`` (complete and pruned, any parameters)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study._get_trials(deepcopy=False, states=states, use_cache=True))


class TPEView:
    """TPE's model of the study at this trial: draws from l(x) and acquisition values.

    The trials are those TPE itself would use: complete and pruned ones, plus running ones
    (as "bad" observations) when ``constant_liar`` is on, never the current trial.
    """

    def __init__(
        self,
        tpe: TPESampler,
        study: Study,
        trial: FrozenTrial,
        search_space: Mapping[str, BaseDistribution],
    ) -> None:
        self._tpe = tpe
        self._space = dict(search_space)
        states = [TrialState.COMPLETE, TrialState.PRUNED]
        if tpe._constant_liar:
            states.append(TrialState.RUNNING)
        trials = [
            t
            for t in study._get_trials(deepcopy=False, states=states, use_cache=False)
            if t.number != trial.number
        ]
        n_finished = sum(t.state != TrialState.RUNNING for t in trials)
        below, above = _split_trials(study, trials, _gamma(tpe, study)(n_finished))
        self._groups = _parameter_groups(
            self._space, [tpe._get_params(t, study) for t in trials], tpe._is_multivariate(study)
        )
        self._estimators = [
            (
                group,
                tpe._build_parzen_estimator(study, group, below, handle_below=True),
                tpe._build_parzen_estimator(study, group, above, handle_below=False),
            )
            for group in self._groups
        ]

    def score(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """TPE's acquisition value (sum over the parameter groups) of each configuration."""
        total = np.zeros(len(configs))
        if not configs:
            return total
        for group, below, above in self._estimators:
            samples = _internal(group, configs)
            total += self._tpe._compute_acquisition_func(samples, below, above)
        return total

    def draw(self, rng: np.random.RandomState, n: int | None = None) -> list[Config]:
        """TPE's candidates, best first: TPE's own pick (each group's best draw), then the
        joint draws in order of acquisition."""
        n = n or int(self._tpe._n_ei_candidates)
        per_group = []
        best: Config = {}
        for group, below, above in self._estimators:
            samples = below.sample(rng, n)
            scores = self._tpe._compute_acquisition_func(samples, below, above)
            external = [
                {name: d.to_external_repr(samples[name][i].item()) for name, d in group.items()}
                for i in range(n)
            ]
            best.update(external[int(np.argmax(scores))])
            per_group.append(external)
        joint = [{k: v for part in parts for k, v in part.items()} for parts in zip(*per_group)]
        order = np.argsort(-self.score(joint), kind="stable")
        return [best, *(joint[i] for i in order)]

    @property
    def rng(self) -> np.random.RandomState:
        """TPE's own random state, so that draws continue TPE's sequence."""
        return self._tpe._rng.rng


def share_running_params(
    tpe: TPESampler, study: Study, trial: FrozenTrial, params: Mapping[str, Any]
) -> None:
    """Publish a running trial's chosen configuration where other workers' TPE reads it.

    With ``constant_liar`` TPE treats running trials as bad observations, reading their
    relative parameters from a system attr that its own ``sample_relative`` writes; a trial
    whose configuration the decision layer chose must be visible the same way.
    """
    if not tpe._constant_liar or not params:
        return
    text = json.dumps(dict(params))
    for i in range(0, len(text), _SYSTEM_ATTR_MAX_LENGTH):
        study._storage.set_trial_system_attr(
            trial._trial_id,
            f"{_RELATIVE_PARAMS_KEY}:{i // _SYSTEM_ATTR_MAX_LENGTH}",
            text[i : i + _SYSTEM_ATTR_MAX_LENGTH],
        )


def _gamma(tpe: TPESampler, study: Study) -> Callable[[int], int]:
    return tpe._gamma or (
        default_gamma if len(study.directions) <= 1 else default_gamma_multiobjective
    )


def _parameter_groups(
    space: Mapping[str, BaseDistribution],
    trial_params: Sequence[Mapping[str, Any]],
    multivariate: bool,
) -> list[dict[str, BaseDistribution]]:
    """One joint group of the parameters every trial has (or one group each, univariate TPE),
    and one group for each conditional parameter."""
    always = {
        name: d for name, d in space.items() if all(name in params for params in trial_params)
    }
    conditional = [{name: d} for name, d in space.items() if name not in always]
    if not always:
        return conditional
    if multivariate:
        return [always, *conditional]
    return [{name: d} for name, d in always.items()] + conditional


def _internal(
    space: Mapping[str, BaseDistribution], configs: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    return {
        name: np.asarray([d.to_internal_repr(c[name]) for c in configs], dtype=float)
        for name, d in space.items()
    }
