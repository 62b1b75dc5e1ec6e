from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution

from optuna_vmle._screen import screen_candidates


SPACE = {"x": FloatDistribution(-5, 5), "c": CategoricalDistribution(["a", "b"])}


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    return (x - 2) ** 2 + (trial.suggest_categorical("c", ["a", "b"]) == "b")


def _study_with_history(n_trials: int) -> tuple[optuna.Study, optuna.trial.FrozenTrial]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials)
    running = study.ask()
    return study, study._storage.get_trial(running._trial_id)


def test_a_bad_llm_candidate_loses_to_tpe_and_a_good_one_can_win() -> None:
    study, trial = _study_with_history(30)
    tpe = optuna.samplers.TPESampler(multivariate=True, seed=0)
    bad = screen_candidates(tpe, study, trial, SPACE, [{"x": -4.5, "c": "b"}])
    assert bad is not None and not bad.chose_llm
    assert abs(bad.params["x"] - 2) < 1.5  # TPE's own draw is in the good region
    good = screen_candidates(tpe, study, trial, SPACE, [{"x": 2.0, "c": "a"}], llm_bonus=0.5)
    assert good is not None and good.chose_llm
    assert good.params == {"x": 2.0, "c": "a"}
    assert good.best_llm_score > bad.best_llm_score


def test_no_screening_before_tpe_has_enough_trials() -> None:
    study, trial = _study_with_history(5)
    tpe = optuna.samplers.TPESampler(multivariate=True, n_startup_trials=10, seed=0)
    assert screen_candidates(tpe, study, trial, SPACE, [{"x": 2.0, "c": "a"}]) is None
