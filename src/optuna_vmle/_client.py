"""An LLM client that goes through the transcript store: record, serve from store, or replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna_vmle._llm import complete_json
from optuna_vmle._llm import LLMCallError
from optuna_vmle._llm import LLMReply
from optuna_vmle._transcripts import LLMRequest
from optuna_vmle._transcripts import TranscriptStore


@dataclass(frozen=True)
class ClientReply:
    """A reply and whether it came from the transcript store instead of the LLM."""

    reply: LLMReply
    from_store: bool


@dataclass
class LLMClient:
    """Sends JSON requests to ``model``; every exchange is recorded in ``store``.

    Args:
        replay: Never call the LLM; a request with no recorded reply raises ``LLMCallError``.
        serve_from_store: Answer a request identical to a recorded one from the store.
    """

    model: str
    temperature: float
    timeout: float | None
    max_tokens: int
    store: TranscriptStore
    replay: bool = False
    serve_from_store: bool = True

    def ask(
        self,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        *,
        seed: int | None,
        purpose: str,
        study_name: str | None,
        trial_number: int | None,
    ) -> ClientReply:
        request = LLMRequest(self.model, messages, json_schema, self.temperature, seed)
        if self.replay or self.serve_from_store:
            stored = self.store.lookup(request)
            if stored is not None:
                return ClientReply(stored, from_store=True)
            if self.replay:
                raise LLMCallError("replay: no recorded reply for this request")
        reply = complete_json(
            model=self.model,
            messages=messages,
            json_schema=json_schema,
            temperature=self.temperature,
            timeout=self.timeout,
            max_tokens=self.max_tokens,
            seed=seed,
        )
        self.store.record(
            request, reply, purpose=purpose, study_name=study_name, trial_number=trial_number
        )
        return ClientReply(reply, from_store=False)
