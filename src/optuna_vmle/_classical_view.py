"""The classical sampler's view of the study, for the proposal prompt.

A hybrid works best when each side knows what the other sees (the "Centaur" result: an LLM
told a classical optimiser's state steers it). The LLM is told two things computed in code
from the storage, so every worker shows the same:

* **where TPE would look**: the ranges (numeric) or values (categorical) of the trials TPE
  models as good, its l(x), once that set has at least two trials;
* **how far it is trusted**: how the trials it chose compare with the classical sampler's, and
  the share of the coming trials its proposals are expected to decide (see ``_trust``).

Example:
    >>> import optuna
    >>> from optuna_vmle._classical_view import classical_view
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study()
    >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=30)
    >>> view = classical_view(study, optuna.samplers.TPESampler())
    >>> view.good_trials, sorted(view.good_ranges)
    (3, ['x'])
    >>> view.trust is None  # no trial records who chose it
    True
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import optuna
from optuna.samplers import TPESampler
from optuna.study import StudyDirection
from optuna.trial import TrialState

from optuna_vmle import _tpe
from optuna_vmle._evidence import good_ranges
from optuna_vmle._trust import trust_from_trials
from optuna_vmle._trust import TrustState


# A "good region" of one trial is that trial, already listed among the best ones.
MIN_GOOD_TRIALS = 2


@dataclass(frozen=True)
class ClassicalView:
    """What the prompt tells the LLM about the classical sampler's side of the search.

    ``good_ranges`` maps each parameter to ``{"low", "high"}`` or ``{"values"}`` over TPE's
    ``good_trials`` (empty while fewer than :data:`MIN_GOOD_TRIALS`); ``trust`` is ``None``
    until both sources have finished trials.
    """

    good_trials: int
    good_ranges: dict[str, dict[str, Any]]
    trust: TrustState | None


def classical_view(study: optuna.Study, tpe: TPESampler) -> ClassicalView:
    """TPE's good region and the LLM's trust share, from the trials in ``study``'s storage."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and math.isfinite(t.values[0])]
    # TPE splits by its gamma of the finished trials; a multi-objective study is ranked here
    # by its first objective, as the trust credit is.
    n_finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    n_good = min(_tpe.good_trial_count(tpe, study, n_finished), len(complete))
    sign = -1.0 if study.directions[0] == StudyDirection.MAXIMIZE else 1.0
    good = sorted(complete, key=lambda t: sign * t.values[0])[:n_good]
    trust = trust_from_trials(trials, study.directions[0])
    both_sides = trust.llm_trials > 0 and trust.classical_trials > 0
    return ClassicalView(
        good_trials=len(good),
        good_ranges=good_ranges(good) if len(good) >= MIN_GOOD_TRIALS else {},
        trust=trust if both_sides else None,
    )
