"""Cognition summaries as versioned JSON files, to move them between databases."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import json
from pathlib import Path
from typing import Any

from optuna_vmle._evidence import clean_summary
from optuna_vmle._memory import SummaryStore


SUMMARY_FORMAT = "optuna-vmle-summaries"
SUMMARY_FORMAT_VERSION = 1


class SummaryFormatError(ValueError):
    """A summaries file that is not in a format this optuna-vmle can read."""


def write_summaries_file(summaries: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write summaries as a versioned JSON document."""
    document = {
        "format": SUMMARY_FORMAT,
        "version": SUMMARY_FORMAT_VERSION,
        "summaries": [clean_summary(s) for s in summaries],
    }
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_summaries_file(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a summaries file written by :func:`write_summaries_file`.

    Raises:
        SummaryFormatError: the file is not a summaries document of a supported version.
    """
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise SummaryFormatError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != SUMMARY_FORMAT:
        raise SummaryFormatError(f"{path} is not an {SUMMARY_FORMAT} file")
    if document.get("version") != SUMMARY_FORMAT_VERSION:
        raise SummaryFormatError(
            f"{path} has format version {document.get('version')}, this optuna-vmle reads "
            f"version {SUMMARY_FORMAT_VERSION}"
        )
    summaries = document.get("summaries")
    if not isinstance(summaries, list):
        raise SummaryFormatError(f"{path} has no list of summaries")
    return [clean_summary(s) for s in summaries if isinstance(s, dict) and s.get("id")]


def export_summaries(memory_url: str, path: str | Path, ids: Sequence[str] | None = None) -> int:
    """Write the summaries stored at ``memory_url`` (all, or those in ``ids``) to a JSON file.

    Returns the number of summaries written.

    Example:
        >>> import tempfile, pathlib
        >>> from optuna_vmle import export_summaries, import_summaries
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> export_summaries(f"sqlite:///{folder / 'team_a.db'}", folder / "summaries.json")
        0
        >>> import_summaries(f"sqlite:///{folder / 'team_b.db'}", folder / "summaries.json")
        0
    """
    summaries = SummaryStore(memory_url).all(list(ids) if ids is not None else None)
    write_summaries_file(summaries, path)
    return len(summaries)


def import_summaries(memory_url: str, path: str | Path) -> int:
    """Store the summaries of a JSON file at ``memory_url``; already known ids are skipped.

    Returns the number of summaries added.
    """
    store = SummaryStore(memory_url)
    return sum(store.add(summary) for summary in read_summaries_file(path))
