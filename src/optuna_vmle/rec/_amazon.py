"""Building sequences from raw Amazon review dumps (the S3Rec preprocessing)."""

from __future__ import annotations

import collections
import csv
import gzip
import json
import os

import numpy as np

from optuna_vmle.rec._data import MissingDataFileError
from optuna_vmle.rec._data import not_text_error
from optuna_vmle.rec._data import RecDataError
from optuna_vmle.rec._data import SequenceDataset


_JSON_FIELDS = ("reviewerID", "asin", "unixReviewTime")
_CSV_HEADER_NAMES = {
    "user",
    "user_id",
    "reviewerid",
    "item",
    "item_id",
    "asin",
    "timestamp",
    "time",
}


def _open_text(path: str):
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.endswith(".gz")
        else open(path, encoding="utf-8")
    )


def _read_json_lines(path: str) -> list[tuple[str, str, float]]:
    rows = []
    with _open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                rows.append(
                    (
                        str(record[_JSON_FIELDS[0]]),
                        str(record[_JSON_FIELDS[1]]),
                        float(record[_JSON_FIELDS[2]]),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise RecDataError(
                    f"expected a JSON review with fields {', '.join(_JSON_FIELDS)} ({error})",
                    path=path,
                    line=number,
                ) from None
    return rows


def _read_csv(path: str) -> list[tuple[str, str, float]]:
    rows = []
    with _open_text(path) as handle:
        for number, record in enumerate(csv.reader(handle), start=1):
            if not record:
                continue
            if number == 1 and _CSV_HEADER_NAMES & {field.strip().lower() for field in record}:
                continue
            # Amazon "ratings only" files are user,item,rating,timestamp; the timestamp is last.
            if len(record) not in (3, 4):
                raise RecDataError(
                    "expected user,item,timestamp or user,item,rating,timestamp; "
                    f"got {len(record)} fields",
                    path=path,
                    line=number,
                )
            try:
                rows.append((record[0], record[1], float(record[-1])))
            except ValueError:
                raise RecDataError(
                    f"timestamp {record[-1]!r} is not a number", path=path, line=number
                ) from None
    return rows


def _k_core(rows: list[tuple[str, str, float]], k: int) -> list[tuple[str, str, float]]:
    while True:
        user_counts = collections.Counter(user for user, _, _ in rows)
        item_counts = collections.Counter(item for _, item, _ in rows)
        kept = [row for row in rows if user_counts[row[0]] >= k and item_counts[row[1]] >= k]
        if len(kept) == len(rows):
            return kept
        rows = kept


def load_amazon_reviews(
    path: str | os.PathLike[str], *, min_interactions: int = 5, name: str | None = None
) -> SequenceDataset:
    """Build chronological sequences from a raw Amazon review file, as the S3Rec split does.

    Reads JSON lines (``reviewerID``, ``asin``, ``unixReviewTime``; ``.gz`` allowed) or CSV
    (``user,item,timestamp`` or ``user,item,rating,timestamp``, with or without a header). Every
    review is an interaction; repeated (user, item) pairs keep their first occurrence. An
    iterative ``min_interactions``-core filter is applied to users and items, each user's items
    are sorted by time (stable), and ids are re-mapped to ``1..N`` in order of first appearance.

    Raises:
        MissingDataFileError: The file does not exist.
        RecDataError: The file is empty, not text (or not gzip for ``.gz``), nothing survives
            the k-core filter, or a line cannot be parsed; the message names the file (and line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingDataFileError("no such file", path=path)
    stem = path.removesuffix(".gz")
    try:
        rows = _read_csv(path) if stem.endswith(".csv") else _read_json_lines(path)
    except UnicodeDecodeError as error:
        raise not_text_error(path, error) from None
    except (gzip.BadGzipFile, EOFError) as error:
        raise RecDataError(f"not a complete gzip file ({error})", path=path) from None
    if not rows:
        raise RecDataError("the file holds no reviews (it is empty or blank)", path=path)

    first_seen: dict[tuple[str, str], tuple[str, str, float]] = {}
    for row in rows:
        first_seen.setdefault((row[0], row[1]), row)
    rows = _k_core(list(first_seen.values()), min_interactions)

    if not rows:
        raise RecDataError(
            f"no user and item is left after the {min_interactions}-core filter", path=path
        )
    by_user: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
    for user, item, timestamp in rows:
        by_user[user].append((timestamp, item))
    item_ids: dict[str, int] = {}
    user_ids: dict[str, int] = {}
    sequences = []
    for user, events in by_user.items():
        user_ids[user] = len(user_ids) + 1
        events.sort(key=lambda event: event[0])
        sequences.append(
            np.asarray(
                [item_ids.setdefault(item, len(item_ids) + 1) for _, item in events], dtype=np.int64
            )
        )
    return SequenceDataset(
        sequences=sequences,
        n_items=len(item_ids),
        name=name or os.path.basename(stem).rsplit(".", 1)[0],
        user_ids=np.arange(1, len(sequences) + 1, dtype=np.int64),
        source=path,
    )
