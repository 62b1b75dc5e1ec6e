"""Screen LLM candidates with TPE's density ratio, so a weak LLM cannot make the search worse.

TPE proposes by drawing candidates from l(x), the density of the good trials, and keeping the
one with the largest log l(x) - log g(x). Here the LLM's candidates join TPE's own draws in that
same comparison: a good LLM idea wins when TPE's model agrees it is promising, a bad one loses to
TPE's own candidate. The search is then at least as informed as TPE's.

This uses TPESampler internals of Optuna 5 (the Parzen estimators); the package pins optuna<6.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import _split_trials
from optuna.samplers._tpe.sampler import default_gamma
from optuna.samplers._tpe.sampler import default_gamma_multiobjective
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


@dataclass(frozen=True)
class ScreenResult:
    """The chosen configuration, whether it came from the LLM, and both acquisition values."""

    params: dict[str, Any]
    chose_llm: bool
    best_llm_score: float
    best_tpe_score: float


def screen_candidates(
    tpe: TPESampler,
    study: Study,
    trial: FrozenTrial,
    search_space: Mapping[str, BaseDistribution],
    llm_candidates: Sequence[Mapping[str, Any]],
    *,
    llm_bonus: float = 0.0,
) -> ScreenResult | None:
    """Pick the best of the LLM candidates and TPE's own draws by TPE's acquisition function.

    ``llm_bonus`` (in log density-ratio units) tilts ties towards the LLM. Returns ``None`` while
    TPE still has fewer finished trials than its ``n_startup_trials``.
    """
    space = dict(search_space)
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    trials = [
        t
        for t in study._get_trials(deepcopy=False, states=states, use_cache=True)
        if space.keys() <= t.params.keys()
    ]
    if len(trials) < max(tpe._n_startup_trials, 2) or not llm_candidates:
        return None
    gamma = tpe._gamma or (
        default_gamma if len(study.directions) <= 1 else default_gamma_multiobjective
    )
    below, above = _split_trials(study, trials, gamma(len(trials)))
    below_estimator = tpe._build_parzen_estimator(study, space, below, handle_below=True)
    above_estimator = tpe._build_parzen_estimator(study, space, above, handle_below=False)

    tpe_samples = below_estimator.sample(tpe._rng.rng, tpe._n_ei_candidates)
    tpe_scores = tpe._compute_acquisition_func(tpe_samples, below_estimator, above_estimator)
    llm_samples = {
        name: np.asarray([d.to_internal_repr(c[name]) for c in llm_candidates], dtype=float)
        for name, d in space.items()
    }
    llm_scores = (
        tpe._compute_acquisition_func(llm_samples, below_estimator, above_estimator) + llm_bonus
    )
    best_llm, best_tpe = int(np.argmax(llm_scores)), int(np.argmax(tpe_scores))
    chose_llm = bool(llm_scores[best_llm] >= tpe_scores[best_tpe])
    if chose_llm:
        params = dict(llm_candidates[best_llm])
    else:
        params = {
            name: d.to_external_repr(tpe_samples[name][best_tpe].item())
            for name, d in space.items()
        }
    return ScreenResult(
        params=params,
        chose_llm=chose_llm,
        best_llm_score=float(llm_scores[best_llm]),
        best_tpe_score=float(tpe_scores[best_tpe]),
    )
