"""The decision layer: the LLM's proposal or TPE's, by the trust the LLM has earned."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
import pytest

from optuna_vmle._screen import screen_candidates


SPACE = {"x": FloatDistribution(-5, 5), "c": CategoricalDistribution(["a", "b"])}


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    return (x - 2) ** 2 + (trial.suggest_categorical("c", ["a", "b"]) == "b")


def _study_with_history(
    n_trials: int, llm_record: str | None = None
) -> tuple[optuna.Study, optuna.trial.FrozenTrial]:
    """A study of random trials. ``llm_record`` "good"/"bad": the LLM chose every third trial,
    and those were the best/worst configurations (x near 2 / near -5)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rng = np.random.default_rng(0)
    for number in range(n_trials):
        llm_chose = llm_record is not None and number % 3 == 0
        if llm_chose and llm_record == "good":
            params = {"x": 2.0 + 0.01 * number, "c": "a"}
        elif llm_chose:
            params = {"x": -5.0 + 0.01 * number, "c": "b"}
        else:
            params = {"x": float(rng.uniform(-5, 5)), "c": str(rng.choice(["a", "b"]))}
        value = (params["x"] - 2) ** 2 + (params["c"] == "b")
        source = "llm" if llm_chose else "fallback"
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=SPACE, value=value, user_attrs={"vmle:source": source}
            )
        )
    running = study.ask()
    return study, study._storage.get_trial(running._trial_id)


def _decisions(study, trial, candidate, seeds=range(20), **kwargs):  # type: ignore[no-untyped-def]
    tpe = optuna.samplers.TPESampler(seed=0)
    return [
        screen_candidates(tpe, study, trial, SPACE, [candidate], seed=s, **kwargs) for s in seeds
    ]


def test_an_llm_whose_trials_were_bad_rarely_gets_the_next_one():
    study, trial = _study_with_history(30, llm_record="bad")
    results = _decisions(study, trial, {"x": -4.5, "c": "b"})
    assert results[0].phase == "model"
    assert max(r.trust for r in results) == 0.05  # at the floor
    assert sum(r.chose_llm for r in results) <= 3
    chosen_by_tpe = [r for r in results if not r.chose_llm]
    assert all(abs(r.params["x"] - 2) < 2.5 for r in chosen_by_tpe)  # TPE's good region


def test_an_llm_whose_trials_were_good_gets_most_trials_but_not_all():
    study, trial = _study_with_history(30, llm_record="good")
    results = _decisions(study, trial, {"x": 2.3, "c": "a"}, seeds=range(40))
    assert min(r.trust for r in results) == 0.95  # at the ceiling, 1 - floor
    assert 33 <= sum(r.chose_llm for r in results) < 40
    assert all(r.params == {"x": 2.3, "c": "a"} for r in results if r.chose_llm)


def test_the_llm_first_proposals_are_evaluated_even_if_they_are_not_novel():
    study, trial = _study_with_history(3)
    earlier = study.trials[0].params
    near = {"x": earlier["x"] + 0.01, "c": earlier["c"]}
    result = _decisions(study, trial, near, seeds=[0])[0]
    assert result.phase == "startup" and result.chose_llm and result.reason == "probe"
    assert result.params == near


def test_after_the_probe_the_classical_sampler_gets_a_trial_to_compare_with():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 2.0, "c": "a"},
            distributions=SPACE,
            value=0.0,
            user_attrs={"vmle:source": "llm"},
        )
    )
    trial = study._storage.get_trial(study.ask()._trial_id)
    results = _decisions(study, trial, {"x": -3.0, "c": "b"}, seeds=range(10))
    assert not any(r.chose_llm for r in results)


def test_at_startup_a_clustered_llm_of_neutral_trust_mostly_gives_way_to_random_draws():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    # Values 10 and 42 for the LLM, 1, 40 and 45 for random draws: each source's trials beat
    # half of the other's, so neither has earned more trust.
    for value, source in (
        (10, "llm"),
        (1, "fallback"),
        (40, "fallback"),
        (42, "llm"),
        (45, "fallback"),
    ):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 2.0 - np.sqrt(value) if value > 1 else 3.0, "c": "a"},
                distributions=SPACE,
                value=float(value),
                user_attrs={"vmle:source": source},
            )
        )
    trial = study._storage.get_trial(study.ask()._trial_id)
    earlier = study.trials[0].params
    near = {"x": earlier["x"] + 0.01, "c": earlier["c"]}
    # (An infinite half-life: no recency weighting, so the two records are exactly even.)
    results = _decisions(study, trial, near, seeds=range(40), trust_half_life=float("inf"))
    assert all(r.phase == "startup" and r.trust == pytest.approx(0.5) for r in results)
    assert all(r.best_llm_score < r.best_tpe_score for r in results)  # below the novelty bar
    assert sum(r.chose_llm for r in results) <= 40 * 0.4  # about share ** 2 = 1/4 of them
    assert all(r.params != near for r in results if not r.chose_llm)


def test_no_llm_candidate_still_gets_a_configuration_in_both_phases():
    tpe = optuna.samplers.TPESampler(n_startup_trials=10, seed=0)
    for n_trials, phase in ((3, "startup"), (20, "model")):
        study, trial = _study_with_history(n_trials)
        result = screen_candidates(tpe, study, trial, SPACE, [], seed=0)
        assert result.phase == phase and not result.chose_llm
        assert result.reason == "no-proposal"
        assert SPACE.keys() == result.params.keys()
        assert -5 <= result.params["x"] <= 5


def test_configurations_of_earlier_trials_are_avoided_on_a_small_grid():
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
        tpe,
        study,
        trial,
        grid,
        [{"a": 0, "b": 0}],
        llm_bonus=100.0,
        is_duplicate=lambda params: dict(params) in seen,
        seed=0,
    )
    # The LLM repeats trial 0 and is ignored despite its bonus; the one unseen cell is chosen.
    assert result.phase == "model" and not result.chose_llm and result.reason == "duplicate"
    assert result.params == {"a": 2, "b": 1}


def test_trials_without_a_conditional_parameter_still_count():
    space = {
        "optimizer": CategoricalDistribution(["adam", "sgd"]),
        "lr": FloatDistribution(1e-4, 1.0, log=True),
        "momentum": FloatDistribution(0.0, 1.0),
    }

    def conditional(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            return abs(trial.suggest_float("momentum", 0.0, 1.0) - 0.9) + abs(lr - 0.1)
        return 1.0 + abs(lr - 0.01)

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(conditional, n_trials=30)
    assert any("momentum" not in t.params for t in study.trials)
    trial = study._storage.get_trial(study.ask()._trial_id)
    tpe = optuna.samplers.TPESampler(n_startup_trials=10, seed=0)
    result = screen_candidates(tpe, study, trial, space, [], seed=0)
    # Every trial counts (30 finished: the model phase), and TPE prefers the better sgd branch.
    assert result.phase == "model" and result.params["optimizer"] == "sgd"
    assert space.keys() == result.params.keys()
