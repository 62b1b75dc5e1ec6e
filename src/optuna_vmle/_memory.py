"""The sampler's long-term memory: trial notes, study insights and cognition summaries.

Three ``vmle_`` tables in the same database (and declarative base) as the transcripts:

- ``vmle_trial_notes``: one reflection note per (study, trial); a second write of the same trial
  (another worker, a retried callback) is ignored, so notes are never lost or duplicated.
- ``vmle_study_insights``: one row per study, replaced on every consolidation. An optimistic
  ``version`` column makes concurrent consolidations safe: only the worker that saw the current
  version may replace it, the others skip.
- ``vmle_summaries``: distilled cognition summaries that later studies retrieve.

This module only stores and loads JSON documents; building them is done elsewhere.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import Session

from optuna_vmle._db import Base
from optuna_vmle._db import get_engine


class TrialNote(Base):
    __tablename__ = "vmle_trial_notes"
    __table_args__ = (
        UniqueConstraint("study_name", "trial_number", name="uq_vmle_trial_notes_trial"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    trial_number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    note_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class StudyInsights(Base):
    __tablename__ = "vmle_study_insights"

    study_name: Mapped[str] = mapped_column(String(512), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    n_notes: Mapped[int] = mapped_column(Integer)
    insights_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class Summary(Base):
    __tablename__ = "vmle_summaries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    summary_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class InsightsRecord:
    """The current insights of a study and the version a replacement must name."""

    version: int
    n_notes: int
    insights: dict[str, Any]

    @property
    def memory_id(self) -> str:
        return f"insights:v{self.version}"


class MemoryStore:
    """Reads and writes the memory tables in the database at ``url``."""

    def __init__(self, url: str) -> None:
        self._engine = get_engine(url)

    def add_note(self, study_name: str, trial_number: int, note: dict[str, Any]) -> bool:
        """Insert the note of a trial; False (and nothing written) if it already has one."""
        row = TrialNote(
            study_name=study_name,
            trial_number=trial_number,
            state=str(note.get("state", "")),
            note_json=json.dumps(note, sort_keys=True),
            created_at=_now(),
        )
        return self._insert_unless_exists(row)

    def notes(self, study_name: str) -> list[dict[str, Any]]:
        """All notes of a study, in trial order."""
        statement = (
            sqlalchemy.select(TrialNote.note_json)
            .where(TrialNote.study_name == study_name)
            .order_by(TrialNote.trial_number)
        )
        with Session(self._engine) as session:
            return [json.loads(text) for text in session.scalars(statement)]

    def count_notes(self, study_name: str) -> int:
        statement = sqlalchemy.select(sqlalchemy.func.count()).where(
            TrialNote.study_name == study_name
        )
        with Session(self._engine) as session:
            return int(session.scalar(statement) or 0)

    def insights(self, study_name: str) -> InsightsRecord | None:
        with Session(self._engine) as session:
            row = session.get(StudyInsights, study_name)
            if row is None:
                return None
            return InsightsRecord(row.version, row.n_notes, json.loads(row.insights_json))

    def replace_insights(
        self,
        study_name: str,
        insights: dict[str, Any],
        *,
        n_notes: int,
        seen_version: int | None,
    ) -> bool:
        """Replace the study's insights if they are still at ``seen_version`` (None: no row yet).

        Returns False when another worker replaced them first; the caller then keeps theirs.
        """
        payload = json.dumps(insights, sort_keys=True)
        if seen_version is None:
            row = StudyInsights(
                study_name=study_name,
                version=1,
                n_notes=n_notes,
                insights_json=payload,
                updated_at=_now(),
            )
            return self._insert_unless_exists(row)
        statement = (
            sqlalchemy.update(StudyInsights)
            .where(StudyInsights.study_name == study_name)
            .where(StudyInsights.version == seen_version)
            .values(
                version=seen_version + 1,
                n_notes=n_notes,
                insights_json=payload,
                updated_at=_now(),
            )
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def add_summary(self, summary: dict[str, Any]) -> bool:
        """Store a summary under its ``id``; False if a summary with that id exists."""
        row = Summary(
            id=str(summary["id"]),
            study_name=str(summary.get("study_name", "")),
            summary_json=json.dumps(summary, sort_keys=True),
            created_at=_now(),
        )
        return self._insert_unless_exists(row)

    def summaries(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """All stored summaries (or those with the given ids), oldest first."""
        statement = sqlalchemy.select(Summary.summary_json).order_by(Summary.created_at)
        if ids is not None:
            statement = statement.where(Summary.id.in_(ids))
        with Session(self._engine) as session:
            return [json.loads(text) for text in session.scalars(statement)]

    def _insert_unless_exists(self, row: Base) -> bool:
        """Insert ``row``; False if its unique key exists (written by another worker, or before).

        Insert-then-catch works the same on every backend, unlike dialect-specific upserts.
        """
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except sqlalchemy.exc.IntegrityError:
            return False
        return True


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
