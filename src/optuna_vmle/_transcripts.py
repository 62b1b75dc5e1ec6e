"""The LLM transcript store: every request/response pair, keyed by a hash of the request.

It makes a finished study replayable offline (the same requests get the same replies without any
LLM) and serves identical requests from the database instead of calling the LLM again.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime
import hashlib
import json
from typing import Any

import sqlalchemy
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from optuna_vmle._db import Base
from optuna_vmle._db import get_engine
from optuna_vmle._llm import LLMReply


class Transcript(Base):
    __tablename__ = "vmle_transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_hash: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    study_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    trial_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(String(256))
    request_json: Mapped[str] = mapped_column(Text)
    response_text: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class LLMRequest:
    """Everything that determines an LLM reply; its hash keys the transcript store.

    ``key_messages``, when given, replace ``messages`` in the key: a proposal's prompt shows
    memory (insights) that background learning may or may not have written yet, so its key
    leaves that part out and a replay finds the reply whatever the timing was.
    """

    model: str
    messages: list[dict[str, str]]
    json_schema: dict[str, Any]
    temperature: float
    seed: int | None
    key_messages: list[dict[str, str]] | None = None

    def canonical_json(self) -> str:
        return json.dumps(
            {
                "model": self.model,
                "messages": self.messages,
                "json_schema": self.json_schema,
                "temperature": self.temperature,
                "seed": self.seed,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def key(self) -> str:
        keyed = json.dumps(
            {
                "model": self.model,
                "messages": self.messages if self.key_messages is None else self.key_messages,
                "json_schema": self.json_schema,
                "temperature": self.temperature,
                "seed": self.seed,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(keyed.encode()).hexdigest()


class TranscriptStore:
    """Reads and appends transcripts in the database at ``url``."""

    def __init__(self, url: str) -> None:
        self._engine = get_engine(url)

    def lookup(self, request: LLMRequest, *, study_name: str | None = None) -> LLMReply | None:
        """The earliest recorded reply to an identical request (of ``study_name`` if given)."""
        statement = sqlalchemy.select(Transcript).where(Transcript.request_hash == request.key())
        if study_name is not None:
            statement = statement.where(Transcript.study_name == study_name)
        statement = statement.order_by(Transcript.id).limit(1)
        with sqlalchemy.orm.Session(self._engine) as session:
            row = session.scalars(statement).first()
            return None if row is None else _reply(row)

    def lookup_trial(
        self, request: LLMRequest, *, purpose: str, trial_number: int
    ) -> LLMReply | None:
        """The earliest recorded reply for the same model, seed, purpose and trial number.

        Under parallel workers a prompt shows whatever other trials had finished, so the same
        trial's request differs by timing; replay then goes by the trial instead of the text.
        """
        statement = (
            sqlalchemy.select(Transcript)
            .where(Transcript.model == request.model)
            .where(Transcript.purpose == purpose)
            .where(Transcript.trial_number == trial_number)
            .order_by(Transcript.id)
        )
        with sqlalchemy.orm.Session(self._engine) as session:
            for row in session.scalars(statement):
                if json.loads(row.request_json).get("seed") == request.seed:
                    return _reply(row)
        return None

    def record(
        self,
        request: LLMRequest,
        reply: LLMReply,
        *,
        purpose: str,
        study_name: str | None,
        trial_number: int | None,
    ) -> None:
        """Append one request/response pair (concurrent workers each append their own row)."""
        row = Transcript(
            request_hash=request.key(),
            purpose=purpose,
            study_name=study_name,
            trial_number=trial_number,
            model=request.model,
            request_json=request.canonical_json(),
            response_text=reply.content,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_s=reply.latency_s,
            cost_usd=reply.cost_usd,
            created_at=datetime.datetime.now(datetime.timezone.utc),
        )
        with sqlalchemy.orm.Session(self._engine) as session, session.begin():
            session.add(row)


def _reply(row: Transcript) -> LLMReply:
    return LLMReply(
        content=row.response_text,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        latency_s=0.0,
        cost_usd=None,
    )
