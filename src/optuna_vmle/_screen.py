"""Choose each trial's configuration: the LLM's proposal or the classical sampler's, by trust.

How far the LLM is trusted is learnt during the study (``_trust``): each source earns credit
when the trials it chose beat the other source's, and the LLM's *share* is the probability that
it is the better source, kept within ``[floor, 1 - floor]``. The decision, with ``u`` a seeded uniform
draw per trial:

* **Probe**: the LLM's first ``probe`` proposals are evaluated as they are (unless they repeat
  an earlier trial). An informed default is often the single most valuable trial, and the
  outcome of these trials is the first evidence of how good the LLM is. The next trial is the
  classical sampler's: credit is relative, so the first comparison needs one trial of each.
* **Startup** (fewer finished trials than TPE's ``n_startup_trials``): TPE would draw at random.
  An LLM proposal at least as far from the earlier trials as a typical random draw is taken
  when ``u < share``; one closer to them (a refinement near a good configuration, or a weak
  LLM's clustering) when ``u < share ** 2``, so that an LLM of neutral trust cannot crowd the
  startup into one corner, which would leave TPE's density model worse informed than its own
  random startup. Otherwise a random draw is used.
* **Model phase**: TPE draws candidates from l(x), the density of the good trials, and scores
  them by log l(x) - log g(x). The LLM's proposal is taken when ``u < share``, or, when TPE's
  model agrees with it (its acquisition plus ``llm_bonus`` reaches TPE's best candidate's), when
  ``u < max(share, 1/2)``. Otherwise TPE's candidate is used.

A misleading LLM thus loses its probe trials and then gets about ``floor`` of the trials; a
knowledgeable one gets up to ``1 - floor`` of them from the first trials on. In every phase a
configuration that repeats an earlier trial is skipped while an unseen one can be found:
re-running a configuration of a deterministic objective spends a trial and learns nothing.

TPE's internals are reached only through ``_tpe``; the trust state only from the storage.
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
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _tpe
from optuna_vmle._trust import DEFAULT_FLOOR
from optuna_vmle._trust import DEFAULT_HALF_LIFE
from optuna_vmle._trust import trust_from_trials
from optuna_vmle._trust import TrustState


# Extra rounds of TPE draws when all of a round's candidates repeat earlier trials.
EXTRA_DRAW_ROUNDS = 4
# Random draws that set the startup novelty bar and serve as unseen fallbacks.
RANDOM_DRAWS = 32
# How many of the LLM's first proposals are evaluated without screening.
DEFAULT_PROBE = 1

DuplicateCheck = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class ScreenResult:
    """The chosen configuration, whether it came from the LLM, and why.

    ``phase`` is ``"startup"`` or ``"model"``. In the model phase the scores are TPE's acquisition
    values of the best LLM candidate (bonus included) and of TPE's best draw; at startup they are
    novelties: the LLM candidate's distance to the nearest earlier trial, and the median of the
    same for random draws. ``trust`` is the LLM's share at this trial (see ``_trust``),
    ``reason`` one of ``"probe"``, ``"agreed"``, ``"trusted"``, ``"novel"`` (the LLM's
    proposal was taken) or ``"duplicate"``, ``"not-trusted"``, ``"no-proposal"`` (it was not).
    """

    params: dict[str, Any]
    chose_llm: bool
    phase: str
    best_llm_score: float | None
    best_tpe_score: float | None
    trust: float | None = None
    reason: str | None = None
    llm_credit: float | None = None
    classical_credit: float | None = None


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
    probe: int = DEFAULT_PROBE,
    trust_floor: float = DEFAULT_FLOOR,
    trust_half_life: float = DEFAULT_HALF_LIFE,
) -> ScreenResult:
    """Pick this trial's configuration from the LLM's candidates and TPE's (or random) draws.

    ``llm_candidates`` may be empty (the LLM gave nothing usable): the result is then TPE's or a
    random draw. ``is_duplicate`` tells whether a configuration repeats an earlier trial; such
    configurations are avoided unless no unseen one is found. ``seed`` seeds the random draws
    and the trust draw. With ``constant_liar``, the chosen configuration is published for the
    other workers' TPE as TPE publishes its own.
    """
    space = dict(search_space)
    is_duplicate = is_duplicate or (lambda params: False)
    fresh_llm = [dict(c) for c in llm_candidates if not is_duplicate(c)]
    others = [
        t for t in study._get_trials(deepcopy=False, use_cache=False) if t.number != trial.number
    ]
    trust = trust_from_trials(
        others, study.directions[0], floor=trust_floor, half_life=trust_half_life
    )
    rng = np.random.RandomState(seed)
    draw = float(rng.uniform())
    decide = _Decision(trust, draw, bool(llm_candidates))
    if len(others) == 0 or _tpe.finished_trial_count(study) < max(_tpe.n_startup_trials(tpe), 2):
        result = _startup_choice(space, others, fresh_llm, is_duplicate, rng, decide, probe)
    else:
        view = _tpe.TPEView(tpe, study, trial, space)
        result = _model_choice(view, space, fresh_llm, llm_bonus, is_duplicate, rng, decide, probe)
    _tpe.share_running_params(tpe, study, trial, result.params)
    return result


@dataclass(frozen=True)
class _Decision:
    """The trust draw of one trial, and the result it leads to."""

    trust: TrustState
    draw: float
    had_proposal: bool

    def probing(self, probe: int) -> bool:
        return self.trust.llm_trials + self.trust.llm_running < probe

    @property
    def awaiting_comparison(self) -> bool:
        """The LLM has trials but the classical sampler none yet: nothing to compare them with."""
        return self.trust.llm_trials > 0 and self.trust.classical_trials == 0

    def result(
        self,
        params: dict[str, Any],
        chose_llm: bool,
        phase: str,
        scores: tuple[float | None, float | None],
        reason: str,
    ) -> ScreenResult:
        if not chose_llm and reason == "not-trusted" and not self.had_proposal:
            reason = "no-proposal"
        return ScreenResult(
            params,
            chose_llm,
            phase,
            scores[0],
            scores[1],
            trust=self.trust.share,
            reason=reason,
            llm_credit=self.trust.llm_credit,
            classical_credit=self.trust.classical_credit,
        )


def _startup_choice(
    space: dict[str, BaseDistribution],
    others: list[FrozenTrial],
    fresh_llm: list[dict[str, Any]],
    is_duplicate: DuplicateCheck,
    rng: np.random.RandomState,
    decide: _Decision,
    probe: int,
) -> ScreenResult:
    earlier = [t.params for t in others if t.state != TrialState.FAIL and t.params]
    draws = _random_draws(space, rng, RANDOM_DRAWS)
    unseen = [d for d in draws if not is_duplicate(d)] or draws
    if not fresh_llm:
        reason = "duplicate" if decide.had_proposal else "no-proposal"
        return decide.result(unseen[0], False, "startup", (None, None), reason)
    if not earlier or decide.probing(probe):
        return decide.result(fresh_llm[0], True, "startup", (None, None), "probe")
    if decide.awaiting_comparison:
        return decide.result(unseen[0], False, "startup", (None, None), "not-trusted")
    bar = float(np.median([_novelty(space, d, earlier) for d in draws]))
    novelties = [_novelty(space, c, earlier) for c in fresh_llm]
    best = int(np.argmax(novelties))
    scores = (novelties[best], bar)
    share = decide.trust.share
    if novelties[best] >= bar and decide.draw < share:
        return decide.result(fresh_llm[best], True, "startup", scores, "novel")
    if novelties[best] < bar and decide.draw < share**2:
        return decide.result(fresh_llm[best], True, "startup", scores, "trusted")
    return decide.result(unseen[0], False, "startup", scores, "not-trusted")


def _model_choice(
    view: _tpe.TPEView,
    space: dict[str, BaseDistribution],
    fresh_llm: list[dict[str, Any]],
    llm_bonus: float,
    is_duplicate: DuplicateCheck,
    rng: np.random.RandomState,
    decide: _Decision,
    probe: int,
) -> ScreenResult:
    best_tpe: dict[str, Any] | None = None
    first_draw: dict[str, Any] | None = None
    for _ in range(1 + EXTRA_DRAW_ROUNDS):
        candidates = view.draw(view.rng)
        first_draw = first_draw or candidates[0]
        best_tpe = next((c for c in candidates if not is_duplicate(c)), None)
        if best_tpe is not None:
            break
    if best_tpe is None:
        # TPE keeps drawing seen configurations: an unseen random one instead.
        unseen = [d for d in _random_draws(space, rng, RANDOM_DRAWS) if not is_duplicate(d)]
        best_tpe = unseen[0] if unseen else first_draw
    assert best_tpe is not None
    tpe_score = float(view.score([best_tpe])[0])
    if not fresh_llm:
        reason = "duplicate" if decide.had_proposal else "no-proposal"
        return decide.result(best_tpe, False, "model", (None, tpe_score), reason)
    llm_scores = view.score(fresh_llm) + llm_bonus
    best = int(np.argmax(llm_scores))
    scores = (float(llm_scores[best]), tpe_score)
    share = decide.trust.share
    if decide.probing(probe):
        return decide.result(fresh_llm[0], True, "model", scores, "probe")
    if decide.awaiting_comparison:
        return decide.result(best_tpe, False, "model", scores, "not-trusted")
    if decide.draw < share:
        return decide.result(fresh_llm[best], True, "model", scores, "trusted")
    if scores[0] >= tpe_score and decide.draw < max(share, 0.5):
        return decide.result(fresh_llm[best], True, "model", scores, "agreed")
    return decide.result(best_tpe, False, "model", scores, "not-trusted")


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
    """Distance to the nearest earlier configuration: the mean, over the parameters both have,
    of a per-parameter distance in [0, 1] (categorical: differs or not; numeric: gap over the
    range, in log scale for log distributions). A trial without a conditional parameter is
    compared on the others."""
    distances = []
    for other in earlier:
        shared = [name for name in space if name in other and name in config]
        if shared:
            distances.append(float(np.mean([_gap(space[n], config[n], other[n]) for n in shared])))
    return min(distances, default=1.0)


def _gap(distribution: BaseDistribution, a: Any, b: Any) -> float:
    if isinstance(distribution, CategoricalDistribution):
        return float(distribution.to_internal_repr(a) != distribution.to_internal_repr(b))
    low, high = float(distribution.low), float(distribution.high)  # type: ignore[attr-defined]
    if high <= low:
        return 0.0
    if distribution.log:  # type: ignore[attr-defined]
        return abs(np.log(a) - np.log(b)) / (np.log(high) - np.log(low))
    return abs(a - b) / (high - low)
