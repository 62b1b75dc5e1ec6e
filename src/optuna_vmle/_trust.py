"""How far to trust the LLM: credit for each source from the outcomes of the trials it chose.

Every finished trial records who chose its configuration (user attr ``vmle:source``): the LLM
(``llm``, ``llm-repaired``) or the classical sampler (``fallback``); enqueued trials belong to
neither. The credit of a source is a Beta posterior over "a trial it chooses beats a trial of
the other source" (the Mann-Whitney view of two samples):

* each finished trial scores the fraction of the other source's trials it beats (ties count
  half; pruned and failed trials lose to every complete one), so the credit is scale-free, and
  a source whose old winners are now beaten by the other's new trials loses credit;
* recent trials weigh more, both as evidence and as rivals (half-life ``half_life`` trials),
  so trust decays when the LLM's proposals stop winning and recovers when they start again;
* both sources start from the same uniform prior.

The LLM's *share* is the Thompson-sampling probability that its posterior is the better one,
``P(theta_llm > theta_classical)``, kept within ``[floor, 1 - floor]`` so that neither source is
ever shut out: a misleading LLM still gets a ``floor`` of the trials (and can earn trust back),
an excellent one leaves TPE at least that much.

Everything is computed from the trials in the storage, so every worker sharing a study sees
the same trust, and a resumed study continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState


SOURCE_ATTR = "vmle:source"
LLM_SOURCES = frozenset({"llm", "llm-repaired"})
CLASSICAL_SOURCES = frozenset({"fallback"})

DEFAULT_FLOOR = 0.05
DEFAULT_HALF_LIFE = 15.0


@dataclass(frozen=True)
class TrustState:
    """The LLM's share of the trials and the evidence behind it.

    ``llm_credit`` and ``classical_credit`` are posterior means in [0, 1] (0.5 without
    evidence); ``llm_trials``/``classical_trials`` count the finished trials each source chose;
    ``llm_running`` counts LLM-chosen trials still running.
    """

    share: float
    llm_credit: float
    classical_credit: float
    llm_trials: int
    classical_trials: int
    llm_running: int


def trust_from_trials(
    trials: Sequence[FrozenTrial],
    direction: StudyDirection,
    *,
    floor: float = DEFAULT_FLOOR,
    half_life: float = DEFAULT_HALF_LIFE,
) -> TrustState:
    """The trust state of a study from its trials (any order; the current one may be included).

    ``direction`` is the study's (the first one of a multi-objective study).
    """
    if not 0.0 <= floor <= 0.5:
        raise ValueError("floor must be in [0, 0.5]")
    scored = [t for t in trials if t.user_attrs.get(SOURCE_ATTR) is not None]
    finished = [(t, _side(t)) for t in scored if t.state.is_finished()]
    finished = [(t, side) for t, side in finished if side is not None]
    latest = max((t.number for t, _ in finished), default=0)
    posterior = {"llm": [1.0, 1.0], "classical": [1.0, 1.0]}
    counts = {"llm": 0, "classical": 0}
    by_side: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for side in counts:
        mine = [t for t, s in finished if s == side]
        counts[side] = len(mine)
        by_side[side] = (
            np.array([_score(t, direction) for t in mine], dtype=float),
            np.array([0.5 ** ((latest - t.number) / half_life) for t in mine], dtype=float),
        )
    for side, other in (("llm", "classical"), ("classical", "llm")):
        scores, weights = by_side[side]
        beaten = _shares_beaten(scores, *by_side[other])
        if beaten is not None:  # None: nothing to compare with yet, no evidence either way
            posterior[side][0] += float(weights @ beaten)
            posterior[side][1] += float(weights @ (1.0 - beaten))
    running = sum(t.state == TrialState.RUNNING and _side(t) == "llm" for t in scored)
    share = _probability_better(posterior["llm"], posterior["classical"])
    return TrustState(
        share=float(min(max(share, floor), 1.0 - floor)),
        llm_credit=_mean(posterior["llm"]),
        classical_credit=_mean(posterior["classical"]),
        llm_trials=counts["llm"],
        classical_trials=counts["classical"],
        llm_running=int(running),
    )


def _side(trial: FrozenTrial) -> str | None:
    source = trial.user_attrs.get(SOURCE_ATTR)
    if source in LLM_SOURCES:
        return "llm"
    if source in CLASSICAL_SOURCES:
        return "classical"
    return None


def _score(trial: FrozenTrial, direction: StudyDirection) -> float:
    """Higher is better; a pruned, failed or NaN trial is worse than any complete one.
    Multi-objective trials are compared on their first objective."""
    values = trial.values if trial.state == TrialState.COMPLETE else None
    value = values[0] if values else None
    if value is None or math.isnan(value):
        return -math.inf
    return value if direction == StudyDirection.MAXIMIZE else -value


def _shares_beaten(
    scores: np.ndarray, rival_scores: np.ndarray, rival_weights: np.ndarray
) -> np.ndarray | None:
    """For each score, the weighted fraction of the rivals it beats (a tie counts half)."""
    total = rival_weights.sum()
    if rival_scores.size == 0 or total <= 0:
        return None
    order = np.argsort(rival_scores, kind="stable")
    sorted_scores = rival_scores[order]
    cumulative = np.concatenate([[0.0], np.cumsum(rival_weights[order])])
    below = cumulative[np.searchsorted(sorted_scores, scores, side="left")]
    below_or_tied = cumulative[np.searchsorted(sorted_scores, scores, side="right")]
    return (below + 0.5 * (below_or_tied - below)) / total


def _mean(beta: Sequence[float]) -> float:
    return beta[0] / (beta[0] + beta[1])


def _probability_better(a: Sequence[float], b: Sequence[float]) -> float:
    """P(X > Y) for independent Beta posteriors, by the normal approximation."""
    mean_a, mean_b = _mean(a), _mean(b)
    var_a = a[0] * a[1] / ((a[0] + a[1]) ** 2 * (a[0] + a[1] + 1))
    var_b = b[0] * b[1] / ((b[0] + b[1]) ** 2 * (b[0] + b[1] + 1))
    z = (mean_a - mean_b) / math.sqrt(var_a + var_b)
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
