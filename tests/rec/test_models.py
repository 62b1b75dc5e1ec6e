from __future__ import annotations

import pytest
import torch

from optuna_vmle.rec import HSTU
from optuna_vmle.rec import LOSSES
from optuna_vmle.rec import next_item_loss
from optuna_vmle.rec import SASRec


N_ITEMS, MAXLEN = 40, 12
MODELS = {
    "sasrec": lambda: SASRec(
        n_items=N_ITEMS, maxlen=MAXLEN, hidden_size=16, num_blocks=2, num_heads=2, dropout=0.1
    ),
    "hstu": lambda: HSTU(
        n_items=N_ITEMS, maxlen=MAXLEN, hidden_size=16, num_blocks=2, num_heads=2, dropout=0.1
    ),
}


def left_padded_batch():
    items = torch.randint(1, N_ITEMS + 1, (5, MAXLEN), generator=torch.Generator().manual_seed(0))
    for row, length in enumerate([MAXLEN, 7, 3, 1, 5]):
        items[row, : MAXLEN - length] = 0
    targets = items.roll(-1, dims=1)
    targets[:, -1] = 3
    targets[items == 0] = 0
    return items, targets


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_every_model_trains_with_every_loss(model_name, loss):
    torch.manual_seed(0)
    model = MODELS[model_name]()
    items, targets = left_padded_batch()
    hidden = model.encode(items)
    assert hidden.shape == (5, MAXLEN, 16)
    value = next_item_loss(
        hidden,
        targets,
        model.output_embeddings(),
        loss=loss,
        logit_scale=model.logit_scale,
        num_negatives=8,
    )
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    item_grad = model.embedding.items.weight.grad
    assert item_grad is not None and item_grad[1:].abs().sum() > 0
    assert model.score_next(items).shape == (5, N_ITEMS + 1)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_padding_and_batch_trimming_do_not_change_predictions(model_name):
    torch.manual_seed(0)
    model = MODELS[model_name]().eval()
    items, _ = left_padded_batch()
    short = items[2:4]  # lengths 3 and 1
    with torch.no_grad():
        full = model.score_next(short)
        trimmed = model.score_next(short[:, -3:])
        alone = model.score_next(short[1:, -1:])
    torch.testing.assert_close(full, trimmed)
    torch.testing.assert_close(full[1:], alone)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_predictions_are_causal(model_name):
    torch.manual_seed(0)
    model = MODELS[model_name]().eval()
    items, _ = left_padded_batch()
    changed = items.clone()
    changed[:, -1] = (changed[:, -1] % N_ITEMS) + 1
    with torch.no_grad():
        before, after = model.encode(items), model.encode(changed)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])
    assert not torch.allclose(before[:, -1], after[:, -1])


def test_hstu_embeddings_are_unit_norm_and_scaled_by_temperature():
    model = HSTU(n_items=N_ITEMS, maxlen=MAXLEN, hidden_size=16, temperature=0.1)
    norms = model.output_embeddings()[1:].norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert model.logit_scale == pytest.approx(10.0)


@pytest.mark.parametrize("model_class", [SASRec, HSTU])
def test_hidden_size_must_be_divisible_by_heads(model_class):
    with pytest.raises(ValueError, match="not divisible by num_heads 4"):
        model_class(n_items=N_ITEMS, maxlen=MAXLEN, hidden_size=50, num_heads=4)


def test_unknown_loss_is_rejected():
    hidden, targets = torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="loss must be one of"):
        next_item_loss(hidden, targets, torch.zeros(5, 4), loss="hinge")


def test_sasrec_starts_from_small_normal_weights_with_a_zero_padding_row():
    torch.manual_seed(0)
    model = SASRec(n_items=2000, maxlen=50, hidden_size=32)
    items = model.embedding.items.weight
    assert torch.all(items[0] == 0)
    assert items[1:].std().item() == pytest.approx(0.02, rel=0.05)
    assert model.embedding.positions.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert all(torch.all(block.attention.qkv.bias == 0) for block in model.blocks)
    xavier = SASRec(n_items=2000, maxlen=50, hidden_size=32, init="xavier")
    # Xavier scales by fan-in + fan-out: 50 positions get 5x the spread of 2,000 items.
    assert xavier.embedding.positions.weight.std() > 4 * xavier.embedding.items.weight.std()
    with pytest.raises(ValueError, match="init must be one of"):
        SASRec(n_items=10, init="uniform")
