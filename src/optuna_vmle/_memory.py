"""The sampler's memory: trial notes and study insights in the study's own Optuna storage, and
cognition summaries in the ``vmle_summaries`` table.

Notes and insights are study system attributes, so they are shared wherever the study is: every
RDB, JournalStorage (file or Redis), the gRPC proxy, in-memory. Each write is safe under
concurrent workers without a transaction:

- a note is keyed by its trial number (``vmle:note:000042``): a second write of the same trial
  (another worker catching up, a retried job) replaces it, so there is never more than one;
- insights are keyed by the number of notes they consolidate (``vmle:insights:000040``); the
  newest are those with the largest count, so their version only grows, and two workers
  consolidating the same notes write the same key.

Summaries outlive studies and move between databases, so they live in a table of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime
import json
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import Session

from optuna_vmle._db import Base
from optuna_vmle._db import get_engine


NOTE_PREFIX = "vmle:note:"
INSIGHTS_PREFIX = "vmle:insights:"
CLAIM_PREFIX = "vmle:learning:"
CONSOLIDATING = "vmle:consolidating"
_DIGITS = 6


class Summary(Base):
    __tablename__ = "vmle_summaries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    summary_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class InsightsRecord:
    """A study's insights; ``version`` is the number of notes they consolidate."""

    version: int
    insights: dict[str, Any]

    @property
    def memory_id(self) -> str:
        return f"insights:v{self.version}"


class StudyMemory:
    """Notes and insights of one study, read and written through its storage.

    An instance reads the storage once and then sees its own writes only: make a new one for
    each pass (the learner does, once per trial), so that other workers' writes show up.

    Example:
        >>> import optuna
        >>> from optuna_vmle._memory import StudyMemory
        >>> study = optuna.create_study()
        >>> memory = StudyMemory(study)
        >>> memory.add_note(0, {"trial": 0, "state": "COMPLETE", "rule": "lr 1e-3 works"})
        >>> [note["rule"] for note in memory.notes()]
        ['lr 1e-3 works']
    """

    def __init__(self, study: optuna.Study) -> None:
        self._storage = study._storage
        self._study_id = study._study_id
        # Read once per instance (one learning pass, one prompt): each read returns every note.
        self._cache: dict[str, Any] | None = None

    def add_note(self, trial_number: int, note: dict[str, Any]) -> None:
        """Store the note of a trial, replacing any earlier note of the same trial."""
        self._set(_key(NOTE_PREFIX, trial_number), note)

    def notes(self) -> list[dict[str, Any]]:
        """All notes, in trial order."""
        attrs = self._attrs()
        return [attrs[key] for key in sorted(k for k in attrs if k.startswith(NOTE_PREFIX))]

    def noted_trials(self) -> set[int]:
        """The numbers of the trials that have a note."""
        return {
            int(key[len(NOTE_PREFIX) :]) for key in self._attrs() if key.startswith(NOTE_PREFIX)
        }

    def insights(self) -> InsightsRecord | None:
        """The newest insights, or None before the first consolidation."""
        attrs = self._attrs()
        keys = [k for k in attrs if k.startswith(INSIGHTS_PREFIX)]
        if not keys:
            return None
        newest = max(keys)
        return InsightsRecord(int(newest[len(INSIGHTS_PREFIX) :]), attrs[newest])

    def replace_insights(self, insights: dict[str, Any], *, n_notes: int) -> bool:
        """Store insights consolidated from ``n_notes`` notes, unless newer ones exist."""
        current = self.insights()
        if current is not None and current.version > n_notes:
            return False
        self._set(_key(INSIGHTS_PREFIX, n_notes), insights)
        return True

    def claims(self) -> dict[int, dict[str, Any]]:
        """Which worker is learning from which trial, and since when."""
        attrs = self._attrs()
        return {
            int(key[len(CLAIM_PREFIX) :]): value
            for key, value in attrs.items()
            if key.startswith(CLAIM_PREFIX)
        }

    def claim(self, trial_number: int, worker: str, at: float) -> None:
        """Say that ``worker`` learns from ``trial_number`` (others then leave it for a while)."""
        self._set(_key(CLAIM_PREFIX, trial_number), {"worker": worker, "at": at})

    def consolidation_claim(self) -> dict[str, Any] | None:
        """Which worker consolidates the notes now, and since when (None: nobody said so)."""
        return self._attrs().get(CONSOLIDATING)

    def claim_consolidation(self, worker: str, at: float) -> None:
        """Say that ``worker`` consolidates the notes (others then skip for a while)."""
        self._set(CONSOLIDATING, {"worker": worker, "at": at})

    def _attrs(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = dict(self._storage.get_study_system_attrs(self._study_id))
        return self._cache

    def _set(self, key: str, value: Any) -> None:
        self._storage.set_study_system_attr(self._study_id, key, value)
        if self._cache is not None:
            self._cache[key] = value


def _key(prefix: str, number: int) -> str:
    return f"{prefix}{number:0{_DIGITS}d}"


class SummaryStore:
    """Reads and writes cognition summaries in the database at ``url``."""

    def __init__(self, url: str) -> None:
        self._engine = get_engine(url)

    def add(self, summary: dict[str, Any]) -> bool:
        """Store a summary under its ``id``; False if a summary with that id exists."""
        row = Summary(
            id=str(summary["id"]),
            study_name=str(summary.get("study_name", "")),
            summary_json=json.dumps(summary, sort_keys=True),
            created_at=datetime.datetime.now(datetime.timezone.utc),
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except sqlalchemy.exc.IntegrityError:
            return False  # written by another worker, or imported before
        return True

    def all(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """All stored summaries (or those with the given ids), oldest first."""
        statement = sqlalchemy.select(Summary.summary_json).order_by(Summary.created_at)
        if ids is not None:
            statement = statement.where(Summary.id.in_(ids))
        with Session(self._engine) as session:
            return [json.loads(text) for text in session.scalars(statement)]
