"""Padded tensors built once per (split, maxlen), so that epochs only index into them."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np
import torch

from optuna_vmle.rec._data import RecDataError


if TYPE_CHECKING:
    from collections.abc import Sequence

    from optuna_vmle.rec._data import LeaveOneOutSplit


def _left_pad(sequences: Sequence[np.ndarray], maxlen: int) -> tuple[torch.Tensor, torch.Tensor]:
    padded = np.zeros((len(sequences), maxlen), dtype=np.int64)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        tail = sequence[-maxlen:]
        if len(tail):
            padded[row, maxlen - len(tail) :] = tail
        lengths[row] = len(tail)
    return torch.from_numpy(padded), torch.from_numpy(lengths)


@dataclasses.dataclass(frozen=True)
class TrainingWindows:
    """Left-padded training inputs and their next items (0: no target), one row per window."""

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.inputs)

    def epoch_batches(
        self, batch_size: int, *, generator: torch.Generator, bucketed: bool
    ) -> list[torch.Tensor]:
        """Row indices of each batch of one epoch, in random order.

        Bucketed batches group users of similar length (ties broken at random, batch order
        shuffled), so a trimmed batch carries little padding: on Amazon data, where the median
        user has 6 items and the longest 50, this cuts the work per epoch several times.
        """
        order = torch.randperm(len(self), generator=generator)
        if not bucketed:
            return list(order.split(batch_size))
        order = order[torch.argsort(self.lengths[order], stable=True)]
        batches = order.split(batch_size)
        return [batches[i] for i in torch.randperm(len(batches), generator=generator)]

    @property
    def n_targets(self) -> int:
        return int((self.targets != 0).sum())

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of ``rows``, trimmed to the longest sequence among them."""
        width = int(self.lengths[rows].max())
        return self.inputs[rows, -width:], self.targets[rows, -width:]


@dataclasses.dataclass(frozen=True)
class EvaluationData:
    """Inputs, targets and already-seen items of every user, ordered by input length.

    The seen items are stored flat (``seen_items``), user by user, with ``seen_offsets`` marking
    where each user's items start.
    """

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    seen_items: torch.Tensor
    seen_rows: torch.Tensor
    seen_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(
        self, start: int, stop: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs (trimmed), targets and the (row, item) pairs to mask, for users ``start:stop``."""
        width = max(int(self.lengths[start:stop].max()), 1)
        low, high = self.seen_offsets[start], self.seen_offsets[stop]
        return (
            self.inputs[start:stop, -width:],
            self.targets[start:stop],
            self.seen_rows[low:high] - start,
            self.seen_items[low:high],
        )


TRAIN_TARGETS = ("all_positions", "last_position")


def _windows(sequence: np.ndarray, maxlen: int, window_size: int) -> list[np.ndarray]:
    """Windows of ``window_size + 1`` items, most recent first; consecutive ones share one item.

    ``window_size == 0`` keeps only the last ``maxlen + 1`` items (one window per user).
    """
    if window_size == 0:
        return [sequence[-(maxlen + 1) :]]
    return [
        sequence[max(end - window_size - 1, 0) : end]
        for end in range(len(sequence), 1, -window_size)
    ]


@functools.lru_cache(maxsize=4)
def training_windows(
    split: LeaveOneOutSplit, maxlen: int, *, window_size: int = 0, targets: str = "all_positions"
) -> TrainingWindows:
    """(input, next item) windows of every user's training items.

    Args:
        split: The split whose ``train`` sequences are windowed.
        maxlen: The model's longest input.
        window_size: ``0``: one window per user, the last ``maxlen`` inputs. Otherwise
            histories are cut into windows of ``window_size`` inputs (at most ``maxlen``) from
            the most recent item backwards, so that a history longer than the window contributes
            every item as a target once per epoch instead of being truncated.
        targets: ``"all_positions"`` (every input position predicts its next item) or
            ``"last_position"`` (only the last position of each window has a target).
    """
    if targets not in TRAIN_TARGETS:
        raise ValueError(f"targets must be one of {TRAIN_TARGETS}, got {targets!r}")
    if not 0 <= window_size <= maxlen:
        raise ValueError(f"window_size must be in [0, maxlen={maxlen}], got {window_size}")
    windows = [w for s in split.train if len(s) >= 2 for w in _windows(s, maxlen, window_size)]
    if not windows:
        raise RecDataError(
            f"no user of '{split.dataset.name}' has two training items "
            "(an input and its next item): "
            "leave-one-out needs sequences of at least four items to train on",
            path=split.dataset.source,
        )
    inputs, lengths = _left_pad([w[:-1] for w in windows], maxlen)
    next_items, _ = _left_pad([w[1:] for w in windows], maxlen)
    if targets == "last_position":
        next_items[:, :-1] = 0
    return TrainingWindows(inputs=inputs, targets=next_items, lengths=lengths)


@functools.lru_cache(maxsize=8)
def evaluation_data(split: LeaveOneOutSplit, maxlen: int, stage: str) -> EvaluationData:
    """Validation (input: train items) or test (input: train + validation items) data."""
    if stage == "valid":
        histories, targets = split.train, split.valid_targets
    elif stage == "test":
        histories = [
            np.append(train, valid)
            for train, valid in zip(split.train, split.valid_targets, strict=True)
        ]
        targets = split.test_targets
    else:
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
    order = np.argsort([len(h) for h in histories], kind="stable")
    histories = [histories[i] for i in order]
    inputs, lengths = _left_pad(histories, maxlen)
    counts = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    return EvaluationData(
        inputs=inputs,
        lengths=lengths,
        targets=torch.from_numpy(np.asarray(targets)[order]),
        seen_items=torch.from_numpy(
            np.concatenate(histories) if histories else np.zeros(0, dtype=np.int64)
        ),
        seen_rows=torch.from_numpy(np.repeat(np.arange(len(histories)), counts)),
        seen_offsets=np.concatenate([[0], np.cumsum(counts)]),
    )
