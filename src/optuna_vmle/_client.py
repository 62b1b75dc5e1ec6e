"""An LLM client that goes through the transcript store, and the one ask-parse-fallback helper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

from optuna_vmle._llm import complete_json
from optuna_vmle._llm import LLMCallError
from optuna_vmle._llm import LLMReply
from optuna_vmle._transcripts import LLMRequest
from optuna_vmle._transcripts import TranscriptStore


Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class ClientReply:
    """A reply and whether it came from the transcript store instead of the LLM."""

    reply: LLMReply
    from_store: bool


@dataclass(frozen=True)
class LLMClient:
    """Sends JSON requests to ``model``; every exchange is recorded in ``store``.

    Args:
        replay: Never call the LLM; a request with no recorded reply raises ``LLMCallError``.
        reuse: Answer a request identical to a recorded one from the store: within the same
            study (``"study"``), across studies (``"any"``) or never (``"never"``).
    """

    model: str
    temperature: float
    timeout: float | None
    max_tokens: int
    store: TranscriptStore
    replay: bool = False
    reuse: str = "study"

    def ask(
        self,
        messages: list[dict[str, str]],
        json_schema: dict[str, Any],
        *,
        seed: int | None,
        purpose: str,
        study_name: str | None,
        trial_number: int | None,
        key_messages: list[dict[str, str]] | None = None,
    ) -> ClientReply:
        request = LLMRequest(
            self.model, messages, json_schema, self.temperature, seed, key_messages
        )
        if self.replay or self.reuse != "never":
            scope = None if self.replay or self.reuse == "any" else study_name
            stored = self.store.lookup(request, study_name=scope)
            if stored is None and self.replay and trial_number is not None and seed is not None:
                stored = self.store.lookup_trial(
                    request, purpose=purpose, trial_number=trial_number
                )
            if stored is not None:
                return ClientReply(stored, from_store=True)
            if self.replay:
                raise LLMCallError("replay: no recorded reply for this request", "replay_miss")
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


@dataclass(frozen=True)
class JSONAnswer(Generic[Parsed]):
    """A parsed reply, or why there is none; ``reply`` is None when no call succeeded."""

    value: Parsed | None
    reply: LLMReply | None
    error: str | None


@dataclass(frozen=True)
class Purpose:
    """What a request is for, as the transcript store records it; ``seed`` is the LLM seed."""

    name: str
    study_name: str | None
    trial_number: int | None
    seed: int | None


def ask_json(
    client: LLMClient,
    messages: list[dict[str, str]],
    json_schema: dict[str, Any],
    parse: Callable[[str], Parsed],
    purpose: Purpose,
) -> JSONAnswer[Parsed]:
    """Ask once and parse the reply; a failed call or a reply ``parse`` rejects (``ValueError``)
    gives ``value=None`` and the reason, so the caller can use its deterministic fallback.

    Configuration errors (``LLMConfigurationError``) are not caught.
    """
    reply = None
    try:
        reply = client.ask(
            messages,
            json_schema,
            seed=purpose.seed,
            purpose=purpose.name,
            study_name=purpose.study_name,
            trial_number=purpose.trial_number,
        ).reply
        return JSONAnswer(parse(reply.content), reply, None)
    except (LLMCallError, ValueError) as error:
        return JSONAnswer(None, reply, str(error))
