"""Loading sequential-recommendation datasets and describing them.

Two plain-text layouts are common in the literature and both are read by
:func:`load_sequences`:

* ``"user_items"``: one line per user, ``user item1 item2 ...`` (the S3Rec split).
* ``"user_item"``: one interaction per line, ``user item``, grouped by user in
  chronological order (the SASRec / BERT4Rec files).

Ids in both layouts are positive integers. Items are re-used as given (item ``0`` is reserved
for padding), so ``n_items`` is the largest item id.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence

LINE_FORMATS = ("auto", "user_items", "user_item")


class RecDataError(ValueError):
    """A dataset file is missing or malformed, or a user is unusable for the split.

    Attributes:
        path: The offending file, when the data came from a file.
        line: The 1-based line number, when the problem sits on a line.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        location = ""
        if path is not None:
            location = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(location + message)
        self.path = path
        self.line = line


class MissingDataFileError(RecDataError, FileNotFoundError):
    """The dataset file does not exist (also a :class:`FileNotFoundError`)."""


@dataclasses.dataclass(frozen=True)
class DatasetDescriptors:
    """Summary statistics of a dataset, used to compare datasets and transfer lessons."""

    name: str
    n_users: int
    n_items: int
    n_interactions: int
    mean_length: float
    median_length: float
    density: float

    def as_dict(self) -> dict[str, str | int | float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceDataset:
    """Chronological item sequences, one per user.

    Attributes:
        sequences: One int64 array of item ids (``1..n_items``) per user, oldest first.
        n_items: The number of items; ids run from 1 to ``n_items`` and 0 is padding.
        name: A short name used in descriptors and task descriptions.
        user_ids: The user id of each sequence as written in the source.
        line_numbers: The source line of each user (its first line), for error messages.
        source: The file the data came from, if any.
    """

    sequences: list[np.ndarray]
    n_items: int
    name: str = "dataset"
    user_ids: np.ndarray | None = None
    line_numbers: np.ndarray | None = None
    source: str | None = None

    @functools.cached_property
    def descriptors(self) -> DatasetDescriptors:
        lengths = np.fromiter((len(s) for s in self.sequences), dtype=np.int64)
        n_users = len(self.sequences)
        n_interactions = int(lengths.sum())
        return DatasetDescriptors(
            name=self.name,
            n_users=n_users,
            n_items=self.n_items,
            n_interactions=n_interactions,
            mean_length=float(lengths.mean()) if n_users else 0.0,
            median_length=float(np.median(lengths)) if n_users else 0.0,
            density=n_interactions / (n_users * self.n_items) if n_users and self.n_items else 0.0,
        )

    def describe_user(self, index: int) -> tuple[str | None, int | None]:
        """Where user ``index`` comes from, as ``(path, line)``."""
        line = None if self.line_numbers is None else int(self.line_numbers[index])
        return self.source, line


def _parse_ids(tokens: Sequence[str], path: str, line: int) -> list[int]:
    try:
        ids = [int(token) for token in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("+-").isdigit())
        raise RecDataError(f"non-integer id {bad!r}", path=path, line=line) from None
    if min(ids) < 1:
        raise RecDataError(f"ids must be positive integers, got {min(ids)}", path=path, line=line)
    return ids


def _token_lines(path: str) -> Iterator[tuple[int, list[str]]]:
    # The file is decoded in chunks, so a decoding error has no reliable line number.
    with open(path, encoding="utf-8") as handle:
        try:
            for number, text in enumerate(handle, start=1):
                tokens = text.split()
                if tokens:
                    yield number, tokens
        except UnicodeDecodeError as error:
            raise not_text_error(path, error) from None


def not_text_error(path: str, error: UnicodeDecodeError) -> RecDataError:
    """The error for a file that is not UTF-8 text (a binary or compressed file, say)."""
    byte = error.object[error.start : error.start + 1].hex()
    return RecDataError(f"not a UTF-8 text file (byte 0x{byte} cannot be decoded)", path=path)


def _detect_format(path: str) -> str:
    seen_users: set[str] = set()
    previous_user = None
    repeated = False
    for _, tokens in _token_lines(path):
        if len(tokens) != 2:
            return "user_items"
        user = tokens[0]
        if user != previous_user:
            repeated = repeated or user in seen_users
            seen_users.add(user)
        else:
            return "user_item"
        previous_user = user
    return "user_item" if repeated else "user_items"


def load_sequences(
    path: str | os.PathLike[str], *, line_format: str = "auto", name: str | None = None
) -> SequenceDataset:
    """Read a sequential-recommendation text file.

    Args:
        path: The file to read.
        line_format: ``"user_items"`` (``user item1 item2 ...``), ``"user_item"`` (``user item``
            per line, grouped by user) or ``"auto"`` to tell them apart: any line with more than
            two fields, or no user spanning consecutive lines, means ``"user_items"``.
        name: The dataset name; defaults to the file name without extension.

    Raises:
        MissingDataFileError: The file does not exist.
        RecDataError: The file is empty, is not UTF-8 text, or a line is malformed (wrong
            number of fields, non-integer or non-positive ids, a user listed twice); the message
            names the file and, where there is one, the line.

    Example:
        .. code-block:: python

            import pathlib
            import tempfile

            from optuna_vmle.rec import leave_one_out, load_sequences

            path = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
            path.write_text("1 5 3 8 2\\n2 4 5 3\\n")  # the S3Rec layout: user item1 item2 ...
            dataset = load_sequences(path)
            split = leave_one_out(dataset)
            assert dataset.n_items == 8 and split.test_targets.tolist() == [2, 3]
    """
    path = os.fspath(path)
    if line_format not in LINE_FORMATS:
        raise ValueError(f"line_format must be one of {LINE_FORMATS}, got {line_format!r}")
    if not os.path.isfile(path):
        raise MissingDataFileError("no such file", path=path)
    if line_format == "auto":
        line_format = _detect_format(path)

    users: list[int] = []
    lines: list[int] = []
    items: list[list[int]] = []
    user_index: dict[int, int] = {}
    for number, tokens in _token_lines(path):
        if line_format == "user_items":
            if len(tokens) < 2:
                raise RecDataError("expected 'user item1 item2 ...'", path=path, line=number)
            user, *user_items = _parse_ids(tokens, path, number)
            if user in user_index:
                raise RecDataError(
                    f"user {user} appears on more than one line", path=path, line=number
                )
        else:
            if len(tokens) != 2:
                raise RecDataError(
                    f"expected 'user item', got {len(tokens)} fields", path=path, line=number
                )
            user, item = _parse_ids(tokens, path, number)
            user_items = [item]
            if users and users[-1] == user:
                items[-1].append(item)
                continue
            if user in user_index:
                raise RecDataError(
                    f"user {user} is not contiguous: the file must be grouped by user",
                    path=path,
                    line=number,
                )
        user_index[user] = len(users)
        users.append(user)
        lines.append(number)
        items.append(user_items)

    if not items:
        raise RecDataError("the file holds no sequences (it is empty or blank)", path=path)
    sequences = [np.asarray(user_items, dtype=np.int64) for user_items in items]
    n_items = max(int(s.max()) for s in sequences)
    return SequenceDataset(
        sequences=sequences,
        n_items=n_items,
        name=name or os.path.splitext(os.path.basename(path))[0],
        user_ids=np.asarray(users, dtype=np.int64),
        line_numbers=np.asarray(lines, dtype=np.int64),
        source=path,
    )


@dataclasses.dataclass(frozen=True, eq=False)
class LeaveOneOutSplit:
    """The leave-one-out protocol: last item is the test target, the one before it validation.

    Attributes:
        dataset: The dataset that was split.
        train: Per user, every item but the last two.
        valid_targets: Per user, the second-to-last item.
        test_targets: Per user, the last item.
    """

    dataset: SequenceDataset
    train: list[np.ndarray]
    valid_targets: np.ndarray
    test_targets: np.ndarray

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def n_users(self) -> int:
        return len(self.train)


MIN_LEAVE_ONE_OUT_LENGTH = 3


def leave_one_out(dataset: SequenceDataset, *, drop_short_users: bool = False) -> LeaveOneOutSplit:
    """Split every user's sequence into train / validation target / test target.

    Args:
        dataset: The sequences to split.
        drop_short_users: Drop users with fewer than three interactions instead of raising.

    Raises:
        RecDataError: A user has fewer than three interactions (and ``drop_short_users`` is
            false); the message names the user's file and line.
    """
    keep = []
    for index, sequence in enumerate(dataset.sequences):
        if len(sequence) >= MIN_LEAVE_ONE_OUT_LENGTH:
            keep.append(index)
        elif not drop_short_users:
            path, line = dataset.describe_user(index)
            user = index if dataset.user_ids is None else int(dataset.user_ids[index])
            raise RecDataError(
                f"user {user} has {len(sequence)} interactions; leave-one-out needs at least "
                f"{MIN_LEAVE_ONE_OUT_LENGTH} (pass drop_short_users=True to skip such users)",
                path=path,
                line=line,
            )
    if len(keep) < len(dataset.sequences):
        dataset = _subset_users(dataset, keep)
    sequences = dataset.sequences
    return LeaveOneOutSplit(
        dataset=dataset,
        train=[s[:-2] for s in sequences],
        valid_targets=np.fromiter((s[-2] for s in sequences), dtype=np.int64, count=len(sequences)),
        test_targets=np.fromiter((s[-1] for s in sequences), dtype=np.int64, count=len(sequences)),
    )


def _subset_users(dataset: SequenceDataset, keep: list[int]) -> SequenceDataset:
    index = np.asarray(keep, dtype=np.int64)
    return dataclasses.replace(
        dataset,
        sequences=[dataset.sequences[i] for i in keep],
        user_ids=None if dataset.user_ids is None else dataset.user_ids[index],
        line_numbers=None if dataset.line_numbers is None else dataset.line_numbers[index],
    )
