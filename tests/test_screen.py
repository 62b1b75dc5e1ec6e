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


def test_at_startup_a_clustered_llm_candidate_gives_way_to_a_random_draw() -> None:
    study, trial = _study_with_history(5)
    tpe = optuna.samplers.TPESampler(n_startup_trials=10, seed=0)
    earlier = study.trials[0].params
    near = {"x": earlier["x"] + 0.01, "c": earlier["c"]}
    clustered = screen_candidates(tpe, study, trial, SPACE, [near], seed=1)
    assert clustered.phase == "startup" and not clustered.chose_llm
    assert clustered.params != near
    assert clustered.best_llm_score < clustered.best_tpe_score  # novelty below the random bar
    # A candidate as far from every earlier trial as the space allows is taken.
    finished = [t.params for t in study.trials if t.params]
    xs = [p["x"] for p in finished]
    far_x = -5.0 if min(xs) - (-5.0) > 5.0 - max(xs) else 5.0
    cs = [p["c"] for p in finished]
    far = {"x": far_x, "c": min(("a", "b"), key=cs.count)}
    novel = screen_candidates(tpe, study, trial, SPACE, [far], seed=1)
    assert novel.chose_llm and novel.params == far


def test_no_llm_candidate_still_gets_a_configuration_in_both_phases() -> None:
    tpe = optuna.samplers.TPESampler(n_startup_trials=10, seed=0)
    for n_trials, phase in ((3, "startup"), (20, "model")):
        study, trial = _study_with_history(n_trials)
        result = screen_candidates(tpe, study, trial, SPACE, [], seed=0)
        assert result.phase == phase and not result.chose_llm
        assert SPACE.keys() == result.params.keys()
        assert -5 <= result.params["x"] <= 5


def test_configurations_of_earlier_trials_are_avoided_on_a_small_grid() -> None:
    grid = {"a": CategoricalDistribution([0, 1, 2]), "b": CategoricalDistribution([0, 1])}

    def grid_objective(trial: optuna.Trial) -> float:
        return trial.suggest_categorical("a", [0, 1, 2]) + trial.suggest_categorical("b", [0, 1])

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for a, b in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]:
        study.enqueue_trial({"a": a, "b": b})
    study.optimize(grid_objective, n_trials=5)
    seen = [t.params for t in study.trials]
    trial = study._storage.get_trial(study.ask()._trial_id)
    tpe = optuna.samplers.TPESampler(n_startup_trials=3, seed=0)
    result = screen_candidates(
        tpe, study, trial, grid, [{"a": 0, "b": 0}], llm_bonus=100.0,
        is_duplicate=lambda params: dict(params) in seen, seed=0,
    )
    # The LLM repeats trial 0 and is ignored despite its bonus; the one unseen cell is chosen.
    assert result.phase == "model" and not result.chose_llm
    assert result.params == {"a": 2, "b": 1}
