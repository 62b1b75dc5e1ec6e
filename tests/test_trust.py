"""Credit assignment between the LLM and TPE, and the adapter around TPE's internals."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import TrialState
import pytest

from optuna_vmle import _tpe
from optuna_vmle._trust import trust_from_trials


SPACE = {"x": FloatDistribution(-5, 5)}


def _trial(number: int, value: float | None, source: str | None, state=TrialState.COMPLETE):
    trial = optuna.trial.create_trial(
        params={"x": 0.0},
        distributions=SPACE,
        value=value,
        state=state,
        user_attrs={} if source is None else {"vmle:source": source},
    )
    trial.number = number
    return trial


def _history(llm_values, classical_values):  # type: ignore[no-untyped-def]
    """LLM and classical trials alternating, in order."""
    trials = []
    for llm, classical in zip(llm_values, classical_values):
        trials.append(_trial(len(trials), llm, "llm"))
        trials.append(_trial(len(trials), classical, "fallback"))
    return trials


def test_without_evidence_both_sources_are_trusted_equally():
    state = trust_from_trials([], StudyDirection.MINIMIZE)
    assert state.share == pytest.approx(0.5)
    assert (state.llm_trials, state.classical_trials) == (0, 0)


def test_a_misleading_llm_falls_to_the_floor_and_a_good_one_rises_to_the_ceiling():
    bad = _history(llm_values=[10.0 + i for i in range(8)], classical_values=range(8))
    good = _history(llm_values=[-1.0 - i for i in range(8)], classical_values=range(8))
    assert trust_from_trials(bad, StudyDirection.MINIMIZE, floor=0.1).share == 0.1
    assert trust_from_trials(good, StudyDirection.MINIMIZE, floor=0.1).share == 0.9
    # The direction decides which trials are good.
    assert trust_from_trials(bad, StudyDirection.MAXIMIZE, floor=0.1).share == 0.9


def test_a_few_trials_that_beat_every_rival_are_enough_evidence():
    # Two LLM trials better than both random draws: trust is high from the fifth trial on.
    trials = _history(llm_values=[0.1, 0.2], classical_values=[5.0, 7.0])
    assert trust_from_trials(trials, StudyDirection.MINIMIZE, floor=0.0).share > 0.9
    # One LLM trial and nothing to compare it with is no evidence at all.
    alone = trust_from_trials(trials[:1], StudyDirection.MINIMIZE, floor=0.0)
    assert alone.share == pytest.approx(0.5) and alone.llm_trials == 1


def test_trust_decays_when_the_llm_winners_stop_winning():
    early_winner = _history([-5.0] * 6 + [5.0] * 6, [0.0] * 12)
    late_winner = _history([5.0] * 6 + [-5.0] * 6, [0.0] * 12)
    decayed = trust_from_trials(early_winner, StudyDirection.MINIMIZE, floor=0.0, half_life=5)
    rising = trust_from_trials(late_winner, StudyDirection.MINIMIZE, floor=0.0, half_life=5)
    assert decayed.share < 0.5 < rising.share


def test_failed_trials_count_against_their_source_and_enqueued_ones_for_neither():
    trials = _history([1.0, 2.0], [1.5, 2.5])
    trials.append(_trial(len(trials), None, "llm", state=TrialState.FAIL))
    trials.append(_trial(len(trials), -100.0, "enqueued"))
    trials.append(_trial(len(trials), None, "llm", state=TrialState.RUNNING))
    state = trust_from_trials(trials, StudyDirection.MINIMIZE, floor=0.0)
    without_failure = trust_from_trials(trials[:4], StudyDirection.MINIMIZE, floor=0.0)
    assert (state.llm_trials, state.classical_trials, state.llm_running) == (3, 2, 1)
    assert state.llm_credit < without_failure.llm_credit


def test_a_multi_objective_study_is_credited_by_its_first_objective():
    study = optuna.create_study(directions=["minimize", "maximize"])
    for number, (first, second) in enumerate([(0.0, 0.0), (5.0, 9.0), (0.1, 0.0), (4.0, 9.0)]):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.0},
                distributions=SPACE,
                values=[first, second],
                user_attrs={"vmle:source": "llm" if number % 2 == 0 else "fallback"},
            )
        )
    state = trust_from_trials(study.trials, study.directions[0], floor=0.0)
    assert state.share > 0.5


def test_the_trust_of_a_study_is_read_from_its_storage_by_every_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="shared")
    for number, value in enumerate([0.0, 4.0, 0.1, 4.5]):
        source = "llm" if number % 2 == 0 else "fallback"
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": value},
                distributions=SPACE,
                value=value,
                user_attrs={"vmle:source": source},
            )
        )
    other_worker = optuna.load_study(study_name="shared", storage=url)
    state = trust_from_trials(other_worker.get_trials(), other_worker.direction, floor=0.0)
    assert state.llm_trials == 2 and state.share > 0.5


# --- The TPE adapter ------------------------------------------------------------------------


def test_the_tpe_adapter_matches_the_pinned_optuna_version():
    assert int(optuna.__version__.split(".")[0]) == _tpe.SUPPORTED_OPTUNA_MAJOR
    tpe = optuna.samplers.TPESampler(n_startup_trials=7, seed=0)
    assert _tpe.n_startup_trials(tpe) == 7 and _tpe.uses_constant_liar(tpe)


def _quadratic_study(n_trials: int) -> optuna.Study:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2) ** 2, n_trials=n_trials)
    return study


def test_tpe_view_prefers_the_good_region_and_draws_tpes_own_pick_first():
    study = _quadratic_study(30)
    trial = study._storage.get_trial(study.ask()._trial_id)
    view = _tpe.TPEView(optuna.samplers.TPESampler(seed=0), study, trial, SPACE)
    good, bad = view.score([{"x": 2.0}, {"x": -4.5}])
    assert good > bad
    draws = view.draw(np.random.RandomState(0), 24)
    assert len(draws) == 25 and abs(draws[0]["x"] - 2) < 1.5


def test_with_constant_liar_a_running_trial_counts_as_a_bad_observation():
    study = _quadratic_study(30)
    running = study.ask({"x": FloatDistribution(-5, 5)})  # suggests x now
    running_x = running.params["x"]
    current = study._storage.get_trial(study.ask()._trial_id)

    def score(constant_liar: bool) -> float:
        tpe = optuna.samplers.TPESampler(seed=0, constant_liar=constant_liar)
        return float(_tpe.TPEView(tpe, study, current, SPACE).score([{"x": running_x}])[0])

    assert score(constant_liar=True) < score(constant_liar=False)


def test_a_chosen_configuration_is_published_for_other_workers_tpe():
    study = _quadratic_study(3)
    trial = study._storage.get_trial(study.ask()._trial_id)
    tpe = optuna.samplers.TPESampler(seed=0)
    _tpe.share_running_params(tpe, study, trial, {"x": 1.5})
    fresh = study._storage.get_trial(trial._trial_id)
    assert tpe._get_params(fresh, study) == {"x": 1.5}
