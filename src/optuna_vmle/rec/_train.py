"""The training loop: epochs, validation, early stopping, time budget and failure handling."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import TYPE_CHECKING

import torch

from optuna_vmle.rec._batches import evaluation_data
from optuna_vmle.rec._batches import TRAIN_TARGETS
from optuna_vmle.rec._batches import training_windows
from optuna_vmle.rec._losses import LOSSES
from optuna_vmle.rec._losses import NEGATIVES_PER
from optuna_vmle.rec._losses import next_item_loss
from optuna_vmle.rec._metrics import evaluate


if TYPE_CHECKING:
    from collections.abc import Callable

    from optuna_vmle.rec._data import LeaveOneOutSplit
    from optuna_vmle.rec._layers import SequentialRecommender

SELECTION_METRIC = "ndcg@10"
SELECTION_METRICS = ("ndcg@5", "ndcg@10", "ndcg@20", "hr@5", "hr@10", "hr@20", "mrr")
OPTIMIZERS = ("adam", "adamw")


class RecTrainingError(RuntimeError):
    """Training failed (NaN loss, out of memory); the message says when and with what settings."""


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How to train; the model's own shape lives in the model.

    Attributes:
        loss: One of ``"bce"``, ``"sampled_softmax"``, ``"full_ce"``.
        num_negatives: Negatives per softmax for the sampled softmax.
        negatives_per: How often the sampled softmax draws fresh negatives: every
            ``"position"`` (default), ``"sequence"`` or ``"batch"``; sharing trains worse.
        optimizer: ``"adam"`` (weight decay as an L2 penalty in the gradient) or ``"adamw"``
            (decoupled weight decay).
        lr: Learning rate.
        betas: Adam's moment decay rates; (0.9, 0.98) as in SASRec.
        weight_decay: L2 penalty (``adam``) or decoupled decay (``adamw``).
        train_targets: ``"all_positions"`` (every position predicts its next item) or
            ``"last_position"`` (only the last one).
        train_window_size: ``0``: each user contributes the last ``maxlen`` inputs. Otherwise
            histories are cut into windows of this many inputs (see :func:`training_windows`).
        batch_size: Users per batch.
        max_epochs: Upper bound on epochs.
        patience: Stop after this many epochs without a better validation
            ``selection_metric`` (None: never).
        selection_metric: The validation metric that picks the best epoch: ``"ndcg@10"``, or
            ``"hr@10"`` (Recall@10 with one target per user), ``@5``/``@20`` or ``"mrr"``.
        time_budget_s: Stop after the first epoch that ends past this many seconds.
        grad_clip: Gradient-norm clipping threshold (None: no clipping).
        eval_batch_size: Users per full-ranking evaluation batch. Small batches keep the
            ``[batch, n_items]`` score matrix in cache: on CPU, 256 is about 1.7x faster than 1024.
        seed: Seeds dropout, shuffling and negative sampling (the global RNG is left untouched).
        track_test: Also evaluate the test split after every epoch (for learning curves).
        bucketed_batches: Batch users of similar length together (see
            :meth:`TrainingWindows.epoch_batches`). Each batch's loss is weighted by its number
            of positions, so every position weighs the same as with random batches.
    """

    loss: str = "bce"
    num_negatives: int = 256
    negatives_per: str = "position"
    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    train_targets: str = "all_positions"
    train_window_size: int = 0
    batch_size: int = 128
    max_epochs: int = 200
    patience: int | None = 10
    selection_metric: str = SELECTION_METRIC
    time_budget_s: float | None = None
    grad_clip: float | None = 5.0
    eval_batch_size: int = 256
    seed: int = 0
    track_test: bool = False
    bucketed_batches: bool = True

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {self.max_epochs}")
        if self.selection_metric not in SELECTION_METRICS:
            raise ValueError(
                f"selection_metric must be one of {SELECTION_METRICS}, "
                f"got {self.selection_metric!r}"
            )
        if self.negatives_per not in NEGATIVES_PER:
            raise ValueError(
                f"negatives_per must be one of {NEGATIVES_PER}, got {self.negatives_per!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.train_targets not in TRAIN_TARGETS:
            raise ValueError(
                f"train_targets must be one of {TRAIN_TARGETS}, got {self.train_targets!r}"
            )
        if self.train_window_size < 0:
            raise ValueError(
                f"train_window_size must be 0 (maxlen) or positive, got {self.train_window_size}"
            )

    def make_optimizer(self, parameters) -> torch.optim.Optimizer:
        """The optimizer this configuration names, over ``parameters``."""
        optimizer_class = torch.optim.AdamW if self.optimizer == "adamw" else torch.optim.Adam
        return optimizer_class(
            parameters, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
        )


@dataclasses.dataclass(frozen=True)
class EpochResult:
    epoch: int
    loss: float
    valid: dict[str, float]
    test: dict[str, float] | None
    wall_time_s: float


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`; ``test`` is measured with the weights of ``best_epoch``."""

    history: list[EpochResult]
    best_epoch: int
    best_valid: dict[str, float]
    test: dict[str, float]
    wall_time_s: float
    stop_reason: str
    n_params: int
    device: str


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _autocast_dtype(device: torch.device) -> torch.dtype | None:
    return torch.bfloat16 if device.type == "cuda" else None


def train_epoch(
    model: SequentialRecommender,
    split: LeaveOneOutSplit,
    optimizer: torch.optim.Optimizer,
    config: TrainingConfig,
    *,
    device: torch.device,
    generator: torch.Generator,
    device_generator: torch.Generator,
) -> float:
    """One pass over every user's training window; returns the mean batch loss."""
    windows = training_windows(
        split, model.maxlen, window_size=config.train_window_size, targets=config.train_targets
    )
    autocast_dtype = _autocast_dtype(device)
    model.train()
    total = torch.zeros((), device=device)
    batches = windows.epoch_batches(
        config.batch_size, generator=generator, bucketed=config.bucketed_batches
    )
    targets_per_batch = windows.n_targets / len(batches)
    for rows in batches:
        inputs, targets = windows.batch(rows)
        weight = (
            int(targets.count_nonzero()) / targets_per_batch if config.bucketed_batches else 1.0
        )
        inputs, targets = (
            inputs.to(device, non_blocking=True),
            targets.to(device, non_blocking=True),
        )
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            hidden = model.encode(inputs)
            loss = (
                next_item_loss(
                    hidden,
                    targets,
                    model.output_embeddings(),
                    loss=config.loss,
                    logit_scale=model.logit_scale,
                    num_negatives=config.num_negatives,
                    generator=device_generator,
                    negatives_per=config.negatives_per,
                )
                * weight
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        total += loss.detach().float()
    return float(total) / max(len(batches), 1)


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def fit(
    model: SequentialRecommender,
    split: LeaveOneOutSplit,
    config: TrainingConfig,
    *,
    device: str | torch.device | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> FitResult:
    """Train ``model`` on ``split`` with early stopping on a validation metric (NDCG@10 by default).

    ``on_epoch`` is called after every epoch's validation; it may raise (for example
    :class:`optuna.TrialPruned`) to abandon training. The weights of the best epoch are restored
    before the test split is evaluated.

    Raises:
        RecTrainingError: The loss became NaN/inf, or the device ran out of memory.
    """
    device = select_device(device)
    # Dropout draws from the global generator: seed it inside a fork, so that fit() leaves
    # the caller's random state as it found it.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        return _fit(model, split, config, device=device, on_epoch=on_epoch)


def _fit(
    model: SequentialRecommender,
    split: LeaveOneOutSplit,
    config: TrainingConfig,
    *,
    device: torch.device,
    on_epoch: Callable[[EpochResult], None] | None,
) -> FitResult:
    model.to(device)
    optimizer = config.make_optimizer(model.parameters())
    generator = torch.Generator().manual_seed(config.seed)
    device_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    valid_data = evaluation_data(split, model.maxlen, "valid")
    test_data = evaluation_data(split, model.maxlen, "test")
    evaluate_kwargs = {
        "batch_size": config.eval_batch_size,
        "device": device,
        "autocast_dtype": _autocast_dtype(device),
    }
    n_params = sum(p.numel() for p in model.parameters())

    start = time.perf_counter()
    history: list[EpochResult] = []
    best: EpochResult | None = None
    best_state = None
    stop_reason = "max_epochs"
    epoch = 0
    try:
        for epoch in range(1, config.max_epochs + 1):
            loss = train_epoch(
                model,
                split,
                optimizer,
                config,
                device=device,
                generator=generator,
                device_generator=device_generator,
            )
            if not math.isfinite(loss):
                raise RecTrainingError(
                    f"loss became {'NaN' if math.isnan(loss) else 'infinite'} at epoch {epoch} "
                    f"(lr={config.lr:g}, loss={config.loss}, batch_size={config.batch_size})"
                )
            result = EpochResult(
                epoch=epoch,
                loss=loss,
                valid=evaluate(model, valid_data, **evaluate_kwargs),
                test=evaluate(model, test_data, **evaluate_kwargs) if config.track_test else None,
                wall_time_s=time.perf_counter() - start,
            )
            history.append(result)
            metric = config.selection_metric
            if best is None or result.valid[metric] > best.valid[metric]:
                best = result
                best_state = copy.deepcopy(model.state_dict())
            if on_epoch is not None:
                on_epoch(result)
            if config.patience is not None and epoch - best.epoch >= config.patience:
                stop_reason = "patience"
                break
            if config.time_budget_s is not None and result.wall_time_s >= config.time_budget_s:
                stop_reason = "time_budget"
                break
    except (RuntimeError, MemoryError) as error:
        if isinstance(error, RecTrainingError) or not (
            isinstance(error, MemoryError) or _is_out_of_memory(error)
        ):
            raise
        raise RecTrainingError(
            f"out of memory on {device} at epoch {epoch} "
            f"(batch_size={config.batch_size}, maxlen={model.maxlen}, "
            f"{n_params} parameters): {error}"
        ) from error
    model.load_state_dict(best_state)
    test = best.test if best.test is not None else evaluate(model, test_data, **evaluate_kwargs)
    return FitResult(
        history=history,
        best_epoch=best.epoch,
        best_valid=best.valid,
        test=test,
        wall_time_s=time.perf_counter() - start,
        stop_reason=stop_reason,
        n_params=n_params,
        device=str(device),
    )
