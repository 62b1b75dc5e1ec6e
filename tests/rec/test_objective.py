from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
import pytest
import torch

from optuna_vmle.rec import _train
from optuna_vmle.rec import fit
from optuna_vmle.rec import hstu_objective
from optuna_vmle.rec import hstu_search_space
from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import make_synthetic_dataset
from optuna_vmle.rec import random_ranking_ndcg
from optuna_vmle.rec import rec_objective
from optuna_vmle.rec import RecTrainingError
from optuna_vmle.rec import SASRec
from optuna_vmle.rec import sasrec_objective
from optuna_vmle.rec import sasrec_search_space
from optuna_vmle.rec import TrainingConfig


SMALL = {"maxlen": 20, "hidden_size": 32, "num_blocks": 1, "batch_size": 128, "num_heads": 2}


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_dataset(n_users=200, n_items=80, seed=0)


def test_objective_reports_every_epoch_and_records_test_metrics(dataset):
    objective = sasrec_objective(
        dataset, search_space=SMALL, max_epochs=2, patience=None, device="cpu"
    )
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=2)

    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert sorted(trial.intermediate_values) == [1, 2]
        attrs = trial.user_attrs
        assert (
            trial.value
            == max(trial.intermediate_values.values())
            == attrs["rec:valid_metrics"]["ndcg@10"]
        )
        assert set(attrs["rec:test_metrics"]) == {
            "hr@5",
            "hr@10",
            "hr@20",
            "ndcg@5",
            "ndcg@10",
            "ndcg@20",
            "mrr",
        }
        assert attrs["rec:epochs"] == 2 and attrs["rec:best_epoch"] in (1, 2)
        assert (
            attrs["rec:device"] == "cpu"
            and attrs["rec:n_params"] > 0
            and attrs["rec:wall_time_s"] > 0
        )
        # Fixed values are used and recorded but not searched.
        assert not set(SMALL) & set(trial.params)
        assert attrs["rec:fixed_params"] == {**SMALL, "patience": None}
        assert ("num_negatives" in trial.params) == (trial.params["loss"] == "sampled_softmax")
        assert ("weight_decay" in trial.params) == trial.params["use_weight_decay"]


def test_hstu_objective_trains_with_its_temperature(dataset):
    space = {**SMALL, "loss": "full_ce", "temperature": 0.1}
    objective = hstu_objective(dataset, search_space=space, max_epochs=1, device="cpu")
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert 0 < trial.value <= 1
    searched = {
        "lr",
        "dropout",
        "optimizer",
        "use_weight_decay",
        "train_targets",
        "train_window_size",
        "patience",
    }
    hstu_only = {"linear_dim", "attention_dim", "attention_dropout"}
    assert set(trial.params) == searched | hstu_only | ({"weight_decay"} & set(trial.params))


def test_default_spaces_follow_the_documented_ranges():
    sasrec, hstu = sasrec_search_space(), hstu_search_space()
    assert sasrec["lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert sasrec["num_blocks"].high == 4 and hstu["num_blocks"].high == 8
    assert set(sasrec["loss"].choices) == {"bce", "sampled_softmax", "full_ce"}
    for space in (sasrec, hstu):
        assert all(
            h % n == 0 for h in space["hidden_size"].choices for n in space["num_heads"].choices
        )


def test_objective_exposes_search_space_and_task_description(dataset):
    objective = hstu_objective(
        dataset, search_space={"maxlen": 20, "loss": CategoricalDistribution(["full_ce"])}
    )
    assert "maxlen" not in objective.search_space and objective.fixed_params == {"maxlen": 20}
    assert objective.search_space["loss"] == CategoricalDistribution(["full_ce"])
    assert "temperature" in objective.search_space
    description = objective.task_description
    assert "HSTU" in description and "NDCG@10" in description and "200 users" in description
    with pytest.raises(ValueError, match="unknown HSTU hyperparameters"):
        hstu_objective(dataset, search_space={"hiden_size": 32})


def test_pruned_trials_stop_after_the_reported_epoch(dataset):
    class PruneAfterFirstEpoch(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    objective = sasrec_objective(dataset, search_space=SMALL, max_epochs=5, device="cpu")
    study = optuna.create_study(direction="maximize", pruner=PruneAfterFirstEpoch())
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    assert "rec:test_metrics" not in trial.user_attrs


def test_nan_loss_fails_the_trial_with_a_clear_message(dataset, monkeypatch):
    real_loss = _train.next_item_loss
    monkeypatch.setattr(_train, "next_item_loss", lambda *a, **k: real_loss(*a, **k) * float("nan"))
    objective = sasrec_objective(
        dataset, search_space={**SMALL, "lr": 1e-3}, max_epochs=3, device="cpu"
    )
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1, catch=(RecTrainingError,))
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL
    assert trial.user_attrs["vmle:error"].startswith("loss became NaN at epoch 1 (lr=0.001")
    with pytest.raises(RecTrainingError, match="loss became NaN at epoch 1"):
        study.optimize(objective, n_trials=1)


def test_indivisible_hidden_size_fails_the_trial_clearly(dataset):
    objective = sasrec_objective(dataset, search_space={**SMALL, "hidden_size": 30, "num_heads": 4})
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1, catch=(RecTrainingError,))
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert (
        "hidden_size 30 is not divisible by num_heads 4" in study.trials[0].user_attrs["vmle:error"]
    )


def test_early_stopping_and_time_budget_end_training(dataset):
    split = leave_one_out(dataset)
    model = SASRec(n_items=dataset.n_items, maxlen=20, hidden_size=16, num_blocks=1)
    result = fit(model, split, TrainingConfig(lr=1e-7, max_epochs=50, patience=2), device="cpu")
    assert result.stop_reason == "patience" and len(result.history) == result.best_epoch + 2
    result = fit(
        model, split, TrainingConfig(max_epochs=50, patience=None, time_budget_s=0.0), device="cpu"
    )
    assert result.stop_reason == "time_budget" and len(result.history) == 1


def test_trained_model_clearly_beats_random_ranking(dataset):
    split = leave_one_out(dataset)
    torch.manual_seed(0)
    model = SASRec(
        n_items=dataset.n_items, maxlen=20, hidden_size=32, num_blocks=1, num_heads=1, dropout=0.1
    )
    result = fit(
        model,
        split,
        TrainingConfig(loss="full_ce", lr=3e-3, batch_size=64, max_epochs=12),
        device="cpu",
    )
    assert result.test["ndcg@10"] > 5 * random_ranking_ndcg(dataset.n_items)
    assert result.test["hr@10"] > 0.4


def test_recall_at_10_can_be_the_selection_metric(dataset):
    objective = sasrec_objective(
        dataset, search_space=SMALL, max_epochs=3, patience=None, metric="hr@10"
    )
    assert (
        "Recall@10" in objective.task_description
        and objective.task_descriptors["metric"] == "hr@10"
    )
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.value == trial.user_attrs["rec:valid_metrics"]["hr@10"]
    assert trial.value == max(trial.intermediate_values.values())
    with pytest.raises(ValueError, match="selection_metric"):
        sasrec_objective(dataset, metric="recall@10")


def test_a_registered_model_gets_an_objective(dataset, monkeypatch):
    from optuna_vmle.rec import model_spec
    from optuna_vmle.rec import MODELS
    from optuna_vmle.rec import ModelSpec
    from optuna_vmle.rec import register_model

    built = []

    def build(n_items, params):
        built.append(params["hidden_size"])
        return SASRec(n_items=n_items, maxlen=params["maxlen"], hidden_size=params["hidden_size"])

    space = {**sasrec_search_space(), "hidden_size": CategoricalDistribution([8, 16])}
    monkeypatch.setitem(MODELS, "tiny", None)  # restored (removed) after the test
    register_model(ModelSpec(name="Tiny", build=build, search_space=lambda: dict(space)))
    assert model_spec("TINY").name == "Tiny"
    objective = rec_objective(
        "tiny", dataset, search_space={**SMALL, "hidden_size": 8, "loss": "bce"}, max_epochs=1
    )
    assert objective.model_name == "Tiny" and "Tiny" in objective.task_description
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    assert built == [8] and study.trials[0].state == optuna.trial.TrialState.COMPLETE
    with pytest.raises(ValueError, match="unknown model 'bert4rec'; registered: .*'sasrec'"):
        rec_objective("bert4rec", dataset)
