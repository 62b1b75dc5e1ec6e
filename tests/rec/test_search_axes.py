"""Every search axis of the VirtualMLE paper changes what is trained, not only what is recorded."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
import pytest
import torch

from optuna_vmle.rec import fit
from optuna_vmle.rec import HSTU
from optuna_vmle.rec import hstu_objective
from optuna_vmle.rec import hstu_search_space
from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import make_synthetic_dataset
from optuna_vmle.rec import next_item_loss
from optuna_vmle.rec import rec_objective
from optuna_vmle.rec import SASRec
from optuna_vmle.rec import sasrec_objective
from optuna_vmle.rec import sasrec_search_space
from optuna_vmle.rec import training_windows
from optuna_vmle.rec import TrainingConfig


SMALL = {"maxlen": 20, "hidden_size": 16, "num_blocks": 1, "batch_size": 64, "num_heads": 1}


@pytest.fixture(scope="module")
def split():
    return leave_one_out(
        make_synthetic_dataset(n_users=120, n_items=60, min_length=5, max_length=30, seed=1)
    )


def train(split, **config):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = SASRec(n_items=split.n_items, maxlen=20, hidden_size=16, num_blocks=1, dropout=0.1)
    result = fit(model, split, TrainingConfig(max_epochs=2, patience=None, **config), device="cpu")
    return model, result


def same_weights(first, second) -> bool:
    return all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values())
    )


def test_the_paper_axes_are_in_both_search_spaces():
    for space in (sasrec_search_space(), hstu_search_space()):
        assert set(space["optimizer"].choices) == {"adam", "adamw"}
        assert set(space["train_targets"].choices) == {"all_positions", "last_position"}
        assert 0 in space["train_window_size"].choices
        assert max(space["num_negatives"].choices) == 500
        assert 3 in space["patience"].choices
    hstu = hstu_search_space()
    assert {"linear_dim", "attention_dim", "attention_dropout"} <= set(hstu)
    assert hstu["attention_dropout"].low == 0.0


def test_adamw_decays_weights_differently_from_adam_only_when_there_is_decay(split):
    adam, _ = train(split, optimizer="adam", weight_decay=0.1)
    adamw, _ = train(split, optimizer="adamw", weight_decay=0.1)
    assert not same_weights(adam, adamw)
    adam, _ = train(split, optimizer="adam", weight_decay=0.0)
    adamw, _ = train(split, optimizer="adamw", weight_decay=0.0)
    assert same_weights(adam, adamw)


def test_weight_decay_shrinks_the_weights(split):
    plain, _ = train(split, optimizer="adamw", weight_decay=0.0, lr=1e-3)
    decayed, _ = train(split, optimizer="adamw", weight_decay=100.0, lr=1e-3)
    assert decayed.embedding.items.weight.norm() < 0.9 * plain.embedding.items.weight.norm()


def test_last_position_targets_keep_one_target_per_window(split):
    every = training_windows(split, 20)
    last = training_windows(split, 20, targets="last_position")
    assert torch.equal(every.inputs, last.inputs)
    assert torch.equal(last.targets[:, -1], every.targets[:, -1])
    assert last.n_targets == len(last) < every.n_targets
    _, all_result = train(split, train_targets="all_positions")
    _, last_result = train(split, train_targets="last_position")
    assert all_result.history[0].loss != last_result.history[0].loss


def test_sliding_windows_cover_a_long_history_once():
    dataset = make_synthetic_dataset(n_users=1, n_items=60, min_length=27, max_length=27, seed=0)
    split = leave_one_out(dataset)  # 25 training items: 24 (input, next item) pairs
    history = split.train[0]
    truncated = training_windows(split, 10)
    assert len(truncated) == 1 and truncated.n_targets == 10
    windows = training_windows(split, 10, window_size=10)
    assert len(windows) == 3 and windows.n_targets == 24
    targets = windows.targets[windows.targets != 0]
    assert sorted(targets.tolist()) == sorted(history[1:].tolist())
    # The most recent window ends with the last training item.
    assert windows.targets[0, -1] == history[-1] and windows.inputs[0, -1] == history[-2]
    with pytest.raises(ValueError, match="window_size"):
        training_windows(split, 10, window_size=11)


def test_window_size_changes_training(split):
    _, whole = train(split, train_window_size=0)
    _, windowed = train(split, train_window_size=5)
    assert whole.history[0].loss != windowed.history[0].loss


def test_more_negatives_make_the_sampled_softmax_harder():
    generator = torch.Generator().manual_seed(0)
    hidden = torch.zeros(64, 1, 8)  # every logit 0: the loss is log(1 + number of negatives)
    targets = torch.randint(1, 1001, (64, 1), generator=generator)
    embeddings = torch.randn(1001, 8, generator=generator)
    losses = {
        k: float(
            next_item_loss(hidden, targets, embeddings, loss="sampled_softmax", num_negatives=k)
        )
        for k in (100, 500)
    }
    assert losses[100] == pytest.approx(torch.log(torch.tensor(101.0)).item(), abs=0.02)
    assert losses[500] == pytest.approx(torch.log(torch.tensor(501.0)).item(), abs=0.02)


def test_objective_passes_the_sampled_axes_to_training(split):
    objective = sasrec_objective(
        split,
        search_space={
            **SMALL,
            "loss": "sampled_softmax",
            "num_negatives": 500,
            "optimizer": "adamw",
            "train_targets": "last_position",
            "train_window_size": 10,
            "use_weight_decay": True,
            "weight_decay": 1e-4,
        },
        patience=1,
    )
    trial = optuna.trial.FixedTrial({"lr": 1e-3, "dropout": 0.2})
    config = objective.training_config(objective.sample_params(trial), seed=0)
    assert (config.loss, config.num_negatives, config.optimizer) == (
        "sampled_softmax",
        500,
        "adamw",
    )
    assert (config.train_targets, config.train_window_size, config.patience) == (
        "last_position",
        10,
        1,
    )
    assert config.weight_decay == 1e-4


def test_sampled_patience_stops_training(split):
    epochs = {}
    for patience in (1, 3):
        objective = rec_objective(
            "sasrec",
            split,
            search_space={**SMALL, "lr": 1e-7, "patience": patience},
            max_epochs=20,
            device="cpu",
        )
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
        )
        study.optimize(objective, n_trials=1)
        attrs = study.trials[0].user_attrs
        assert attrs["rec:stop_reason"] == "patience"
        epochs[patience] = attrs["rec:epochs"] - attrs["rec:best_epoch"]
    assert epochs == {1: 1, 3: 3}


def test_patience_is_searched_unless_fixed(split):
    assert "patience" in rec_objective("sasrec", split).search_space
    fixed = rec_objective("sasrec", split, patience=5)
    assert "patience" not in fixed.search_space and fixed.fixed_params["patience"] == 5
    with pytest.raises(ValueError, match="not both"):
        rec_objective(
            "sasrec", split, patience=5, search_space={"patience": CategoricalDistribution([3, 5])}
        )


def test_hstu_linear_and_attention_dims_set_the_projection_widths(split):
    params = {}
    for linear_dim, attention_dim in ((8, 8), (8, 32), (32, 8)):
        objective = hstu_objective(
            split,
            search_space={**SMALL, "linear_dim": linear_dim, "attention_dim": attention_dim},
        )
        trial = optuna.trial.FixedTrial(
            {
                "lr": 1e-3,
                "dropout": 0.2,
                "optimizer": "adam",
                "use_weight_decay": False,
                "loss": "full_ce",
            }
            | {"temperature": 0.05, "attention_dropout": 0.0, "train_targets": "all_positions"}
            | {"train_window_size": 0, "patience": 3}
        )
        model = objective.build_model(objective.sample_params(trial), seed=0)
        block = model.blocks[0]
        assert block.uvqk.out_features == 2 * linear_dim + 2 * attention_dim
        assert block.out.in_features == linear_dim
        params[linear_dim, attention_dim] = sum(p.numel() for p in model.parameters())
    assert len(set(params.values())) == 3


def test_hstu_attention_dropout_acts_in_training_only():
    items = torch.randint(1, 41, (4, 12), generator=torch.Generator().manual_seed(0))
    outputs = {}
    for attention_dropout in (0.0, 0.5):
        torch.manual_seed(0)
        model = HSTU(
            n_items=40,
            maxlen=12,
            hidden_size=16,
            num_blocks=1,
            dropout=0.0,
            attention_dropout=attention_dropout,
        )
        with torch.random.fork_rng():
            torch.manual_seed(1)
            trained = model.train().encode(items)
        outputs[attention_dropout] = (trained, model.eval().encode(items))
    assert not torch.allclose(outputs[0.0][0], outputs[0.5][0])
    assert torch.allclose(outputs[0.0][1], outputs[0.5][1])


def test_fit_is_reproducible_and_leaves_the_global_random_state_alone(split):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, first_result = train(split, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    second, second_result = train(split, seed=7)
    assert (
        same_weights(first, second)
        and first_result.history[-1].loss == second_result.history[-1].loss
    )
    _, other = train(split, seed=8)
    assert other.history[-1].loss != first_result.history[-1].loss


def test_objective_builds_models_without_touching_the_global_random_state(split):
    objective = sasrec_objective(
        split, search_space={**SMALL, "loss": "bce"}, max_epochs=1, patience=None
    )
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=1)
    assert torch.equal(torch.rand(3), expected)


def test_windows_longer_than_a_fixed_maxlen_are_refused_up_front(split):
    with pytest.raises(
        ValueError, match=r"train_window_size \[10, 20\] longer than the fixed maxlen 8"
    ):
        rec_objective("sasrec", split, search_space={"maxlen": 8})
    objective = rec_objective(
        "sasrec",
        split,
        search_space={"maxlen": 8, "train_window_size": CategoricalDistribution([0, 4])},
    )
    assert objective.search_space["train_window_size"].choices == (0, 4)


def test_sampled_softmax_negatives_are_drawn_per_position_sequence_or_batch():
    # Items 1..3; the target 1 and item 2 score 0, item 3 scores 10. With one negative per
    # softmax a position's loss is 0 (the negative is the target, masked), log 2 or about 10,
    # so the mean over positions shows whether they drew different negatives.
    embeddings = torch.tensor([[0.0], [0.0], [0.0], [1.0]])
    hidden = torch.full((2, 2, 1), 10.0)
    targets = torch.ones(2, 2, dtype=torch.long)

    def mean_losses(negatives_per):
        return {
            round(
                float(
                    next_item_loss(
                        hidden,
                        targets,
                        embeddings,
                        loss="sampled_softmax",
                        num_negatives=1,
                        generator=torch.Generator().manual_seed(seed),
                        negatives_per=negatives_per,
                    )
                ),
                1,
            )
            for seed in range(40)
        }

    same_negative = {0.0, 0.7, 10.0}
    two_sets = {0.0, 0.3, 0.7, 5.0, 5.3, 10.0}  # the two sequences' means, averaged
    assert mean_losses("batch") <= same_negative  # every position shares one negative
    assert mean_losses("sequence") <= two_sets  # each sequence's two positions share one
    assert mean_losses("sequence") - same_negative
    assert mean_losses("position") - two_sets  # four independent draws
    with pytest.raises(ValueError, match="negatives_per"):
        TrainingConfig(loss="sampled_softmax", negatives_per="user")
