"""Choose each trial's configuration so that a weak LLM cannot make the search worse than TPE.

Two phases, matching TPE's own:

* **Startup** (fewer finished trials than TPE's ``n_startup_trials``): TPE would draw at random,
  which covers the space. An LLM proposal is taken only if it is at least as far from every
  earlier trial as a typical random draw; otherwise a random draw is used. A weak LLM that keeps
  proposing variations of one configuration cannot then crowd the startup into one corner, which
  would leave TPE's density model worse informed than its own random startup.
* **Model phase**: TPE proposes by drawing candidates from l(x), the density of the good trials,
  and keeping the one with the largest log l(x) - log g(x). The LLM's candidates join TPE's draws
  in that same comparison (raised by ``llm_bonus``): a good LLM idea wins when TPE's model agrees
  it is promising, a bad one loses to TPE's own candidate.

In both phases a configuration that repeats an earlier trial is skipped while an unseen one can
be found: re-running a configuration of a deterministic objective spends a trial and learns
nothing, and on small discrete spaces TPE and random search repeat themselves often.

This uses TPESampler internals of Optuna 5 (the Parzen estimators); the package pins optuna<6.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.samplers import RandomSampler
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import _split_trials
from optuna.samplers._tpe.sampler import default_gamma
from optuna.samplers._tpe.sampler import default_gamma_multiobjective
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


# Extra rounds of TPE draws when all of a round's candidates repeat earlier trials.
EXTRA_DRAW_ROUNDS = 4
# Random draws that set the startup novelty bar and serve as unseen fallbacks.
RANDOM_DRAWS = 32

DuplicateCheck = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ScreenResult:
    """The chosen configuration, whether it came from the LLM, and why.

    ``phase`` is ``"startup"`` or ``"model"``. In the model phase the scores are TPE's acquisition
    values of the best LLM candidate (bonus included) and of TPE's best draw; at startup they are
    novelties: the LLM candidate's distance to the nearest earlier trial, and the median of the
    same for random draws (the bar it had to reach).
    """

    params: dict[str, Any]
    chose_llm: bool
    phase: str
    best_llm_score: float | None
    best_tpe_score: float | None


def screen_candidates(
    tpe: TPESampler,
    study: Study,
    trial: FrozenTrial,
    search_space: Mapping[str, BaseDistribution],
    llm_candidates: Sequence[Mapping[str, Any]],
    *,
    llm_bonus: float = 0.0,
    is_duplicate: DuplicateCheck | None = None,
    seed: int | None = None,
) -> ScreenResult:
    """Pick this trial's configuration from the LLM's candidates and TPE's (or random) draws.

    ``llm_candidates`` may be empty (the LLM gave nothing usable): the result is then TPE's or a
    random draw. ``is_duplicate`` tells whether a configuration repeats an earlier trial; such
    configurations are avoided unless no unseen one is found. ``seed`` seeds the random draws.
    """
    space = dict(search_space)
    is_duplicate = is_duplicate or (lambda params: False)
    fresh_llm = [dict(c) for c in llm_candidates if not is_duplicate(c)]
    trials = _finished_trials(study, space)
    rng = np.random.RandomState(seed)
    if len(trials) < max(tpe._n_startup_trials, 2):
        return _startup_choice(study, trial, space, fresh_llm, is_duplicate, rng)
    return _model_choice(tpe, study, space, trials, fresh_llm, llm_bonus, is_duplicate, rng)


def _finished_trials(study: Study, space: Mapping[str, BaseDistribution]) -> list[FrozenTrial]:
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return [
        t
        for t in study._get_trials(deepcopy=False, states=states, use_cache=True)
        if space.keys() <= t.params.keys()
    ]


def _startup_choice(
    study: Study,
    trial: FrozenTrial,
    space: dict[str, BaseDistribution],
    fresh_llm: list[dict[str, Any]],
    is_duplicate: DuplicateCheck,
    rng: np.random.RandomState,
) -> ScreenResult:
    earlier = [
        t.params
        for t in study._get_trials(deepcopy=False, use_cache=True)
        if t.number != trial.number and t.state != TrialState.FAIL and space.keys() <= t.params.keys()
    ]
    draws = _random_draws(space, rng, RANDOM_DRAWS)
    unseen = [d for d in draws if not is_duplicate(d)] or draws
    if fresh_llm and not earlier:
        return ScreenResult(fresh_llm[0], True, "startup", None, None)
    if fresh_llm:
        bar = float(np.median([_novelty(space, d, earlier) for d in draws]))
        novelties = [_novelty(space, c, earlier) for c in fresh_llm]
        best = int(np.argmax(novelties))
        if novelties[best] >= bar:
            return ScreenResult(fresh_llm[best], True, "startup", novelties[best], bar)
        return ScreenResult(unseen[0], False, "startup", novelties[best], bar)
    return ScreenResult(unseen[0], False, "startup", None, None)


def _model_choice(
    tpe: TPESampler,
    study: Study,
    space: dict[str, BaseDistribution],
    trials: list[FrozenTrial],
    fresh_llm: list[dict[str, Any]],
    llm_bonus: float,
    is_duplicate: DuplicateCheck,
    rng: np.random.RandomState,
) -> ScreenResult:
    gamma = tpe._gamma or (
        default_gamma if len(study.directions) <= 1 else default_gamma_multiobjective
    )
    below, above = _split_trials(study, trials, gamma(len(trials)))
    below_estimator = tpe._build_parzen_estimator(study, space, below, handle_below=True)
    above_estimator = tpe._build_parzen_estimator(study, space, above, handle_below=False)

    def score(samples: dict[str, np.ndarray]) -> np.ndarray:
        return tpe._compute_acquisition_func(samples, below_estimator, above_estimator)

    best_tpe: tuple[float, dict[str, Any]] | None = None
    first_draw: tuple[float, dict[str, Any]] | None = None
    for _ in range(1 + EXTRA_DRAW_ROUNDS):
        samples = below_estimator.sample(tpe._rng.rng, tpe._n_ei_candidates)
        scores = score(samples)
        configs = [
            {name: d.to_external_repr(samples[name][i].item()) for name, d in space.items()}
            for i in range(len(scores))
        ]
        order = np.argsort(-scores, kind="stable")
        if first_draw is None:
            first_draw = (float(scores[order[0]]), configs[order[0]])
        best_tpe = next(
            ((float(scores[i]), configs[i]) for i in order if not is_duplicate(configs[i])), None
        )
        if best_tpe is not None:
            break
    if best_tpe is None:
        # TPE keeps drawing seen configurations: an unseen random one, scored like the rest.
        unseen = [d for d in _random_draws(space, rng, RANDOM_DRAWS) if not is_duplicate(d)]
        best_tpe = (float(score(_internal(space, unseen[:1]))[0]), unseen[0]) if unseen else first_draw
    assert best_tpe is not None
    if fresh_llm:
        llm_scores = score(_internal(space, fresh_llm)) + llm_bonus
        best_llm = int(np.argmax(llm_scores))
        llm_score = float(llm_scores[best_llm])
        if llm_score >= best_tpe[0]:
            return ScreenResult(fresh_llm[best_llm], True, "model", llm_score, best_tpe[0])
        return ScreenResult(best_tpe[1], False, "model", llm_score, best_tpe[0])
    return ScreenResult(best_tpe[1], False, "model", None, best_tpe[0])


def _internal(
    space: Mapping[str, BaseDistribution], configs: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray]:
    return {
        name: np.asarray([d.to_internal_repr(c[name]) for c in configs], dtype=float)
        for name, d in space.items()
    }


def _random_draws(
    space: Mapping[str, BaseDistribution], rng: np.random.RandomState, n: int
) -> list[dict[str, Any]]:
    sampler = RandomSampler(seed=int(rng.randint(2**31 - 1)))
    # RandomSampler ignores the study and trial arguments of sample_independent.
    return [
        {name: sampler.sample_independent(None, None, name, d) for name, d in space.items()}  # type: ignore[arg-type]
        for _ in range(n)
    ]


def _novelty(
    space: Mapping[str, BaseDistribution],
    config: Mapping[str, Any],
    earlier: Sequence[Mapping[str, Any]],
) -> float:
    """Distance to the nearest earlier configuration: the mean over parameters of a per-parameter
    distance in [0, 1] (categorical: differs or not; numeric: gap over the range, in log scale
    for log distributions)."""
    return min(
        float(np.mean([_gap(d, config[name], other[name]) for name, d in space.items()]))
        for other in earlier
    )


def _gap(distribution: BaseDistribution, a: Any, b: Any) -> float:
    if isinstance(distribution, CategoricalDistribution):
        return float(distribution.to_internal_repr(a) != distribution.to_internal_repr(b))
    low, high = float(distribution.low), float(distribution.high)  # type: ignore[attr-defined]
    if high <= low:
        return 0.0
    if distribution.log:  # type: ignore[attr-defined]
        return abs(np.log(a) - np.log(b)) / (np.log(high) - np.log(low))
    return abs(a - b) / (high - low)
