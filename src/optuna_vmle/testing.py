"""An in-process scripted LLM provider for tests and overhead benchmarks.

It goes through ``litellm.completion`` like any provider, so the code under test is the code
users run; only the model is replaced by a list of scripted replies.

Example:
    >>> from optuna_vmle._llm import complete_json
    >>> from optuna_vmle.testing import ScriptedLLM
    >>> llm = ScriptedLLM(['{"params": {"x": 0.5}, "rationale": "centre"}'])
    >>> model = llm.register()  # "scripted<n>/script"
    >>> complete_json(model=model, messages=[{"role": "user", "content": "x?"}],
    ...               json_schema={"type": "object"}, temperature=0.0, timeout=5, max_tokens=20).content
    '{"params": {"x": 0.5}, "rationale": "centre"}'
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import itertools
import json
import random
import threading
from typing import Any

from optuna_vmle._providers import import_litellm
from optuna_vmle._providers import register_provider


ReplyFactory = Callable[[list[dict[str, str]], dict[str, Any]], str]
"""A callable reply: receives the messages and the requested JSON schema, returns the text."""

Reply = str | BaseException | ReplyFactory

_instance_ids = itertools.count()


@dataclass
class ScriptedCall:
    """One request the scripted provider received."""

    messages: list[dict[str, str]]
    json_schema: dict[str, Any] | None
    temperature: float | None


@dataclass
class ScriptedLLM:
    """Replies from a fixed script, in order; an exception in the script is raised instead.

    Args:
        replies: The script. Strings are returned verbatim, exceptions are raised, callables are
            called with the messages and schema.
        default: What to answer once the script is exhausted (``None``: raise ``IndexError``).
    """

    replies: Sequence[Reply]
    default: Reply | None = None
    calls: list[ScriptedCall] = field(default_factory=list)
    _position: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str | None = None) -> str:
        """Register this script as a litellm provider and return its model string."""
        prefix = name or f"scripted{next(_instance_ids)}"
        register_provider(prefix, _make_handler(self))
        return f"{prefix}/script"

    def next_reply(self, messages: list[dict[str, str]], optional_params: dict[str, Any]) -> str:
        schema = _schema_from(optional_params)
        with self._lock:
            self.calls.append(ScriptedCall(messages, schema, optional_params.get("temperature")))
            if self._position < len(self.replies):
                reply = self.replies[self._position]
                self._position += 1
            elif self.default is not None:
                reply = self.default
            else:
                raise IndexError("scripted LLM has no replies left")
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(messages, schema or {})
        return reply


def random_valid_reply(seed: int = 0) -> ReplyFactory:
    """A reply factory that answers every request with a random object valid for its schema."""
    rng = random.Random(seed)

    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        return json.dumps(_sample_from_schema(schema, rng))

    return reply


def clustered_reply(seed: int = 0) -> ReplyFactory:
    """A reply factory that mimics a weak LLM: its proposals stay around one configuration.

    The first proposal is random; every later one changes one parameter of it at random.
    Other requests (reflections, summaries) get random valid replies.
    """
    rng = random.Random(seed)
    base: dict[str, Any] = {}

    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        params_schema = schema.get("properties", {}).get("params")
        if params_schema is None:
            return json.dumps(_sample_from_schema(schema, rng))
        proposal = _sample_from_schema(schema, rng)
        if not base:
            base.update(proposal["params"])
        else:
            changed = rng.choice(sorted(base))
            proposal["params"] = {**base, changed: proposal["params"][changed]}
        return json.dumps(proposal)

    return reply


def _sample_from_schema(schema: dict[str, Any], rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {
            key: _sample_from_schema(sub, rng) for key, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [_sample_from_schema(schema.get("items", {}), rng) for _ in range(count)]
    if kind == "number":
        return rng.uniform(schema.get("minimum", 0.0), schema.get("maximum", 1.0))
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 10)))
    if kind == "boolean":
        return rng.random() < 0.5
    return "scripted"


def _schema_from(optional_params: dict[str, Any]) -> dict[str, Any] | None:
    response_format = optional_params.get("response_format") or {}
    return (response_format.get("json_schema") or {}).get("schema")


def _make_handler(script: ScriptedLLM) -> Any:
    litellm = import_litellm()

    class _ScriptedHandler(litellm.CustomLLM):
        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            optional_params = kwargs.get("optional_params") or {}
            model_response = kwargs["model_response"]
            content = script.next_reply(messages, optional_params)
            model_response.choices[0].message.content = content
            model_response.model = model
            prompt_tokens = sum(len(m.get("content", "")) for m in messages) // 4
            completion_tokens = len(content) // 4
            model_response.usage = litellm.Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            return model_response

    return _ScriptedHandler()
