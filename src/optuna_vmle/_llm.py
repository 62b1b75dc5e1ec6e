"""The one call site to litellm, and the registry of in-process providers.

litellm is imported lazily (it takes seconds) with its bundled cost map so that importing it
never reaches the network. Every failure of a call is mapped to :class:`LLMCallError`, which the
sampler handles in one place.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import types

_import_lock = threading.Lock()
_litellm_module: types.ModuleType | None = None
_providers: dict[str, Any] = {}


class LLMCallError(RuntimeError):
    """Raised when an LLM call fails for any reason (network, timeout, rate limit, bad reply)."""


@dataclass(frozen=True)
class LLMReply:
    """What one completion call returned, reduced to what the sampler records."""

    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float | None


def import_litellm() -> types.ModuleType:
    """Import litellm once, without letting its import fetch the remote cost map."""
    global _litellm_module
    with _import_lock:
        if _litellm_module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            # Provider errors are ours to handle; no "file a litellm bug" notices in user logs.
            os.environ.setdefault("LITELLM_DISABLE_BUG_REPORT_LINK", "true")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            _litellm_module = litellm
    return _litellm_module


def register_provider(prefix: str, handler: Any) -> None:
    """Register an in-process ``litellm.CustomLLM`` so that ``"<prefix>/<name>"`` models reach it.

    Registration is idempotent per prefix; registering a new handler for a prefix replaces the old.
    """
    litellm = import_litellm()
    with _import_lock:
        _providers[prefix] = handler
        # litellm reads this map on every completion call.
        litellm.custom_provider_map = [
            {"provider": name, "custom_handler": h} for name, h in _providers.items()
        ]


LOCAL_PROVIDER_PREFIX = "vmle-local"


def _ensure_provider_for(model: str) -> None:
    """Register the embedded model's provider on first use of one of its model strings."""
    if model.startswith(LOCAL_PROVIDER_PREFIX + "/") and LOCAL_PROVIDER_PREFIX not in _providers:
        from optuna_vmle._local_model import register_local_provider

        register_local_provider()


def complete_json(
    *,
    model: str,
    messages: list[dict[str, str]],
    json_schema: dict[str, Any],
    temperature: float,
    timeout: float | None,
    max_tokens: int,
    seed: int | None = None,
) -> LLMReply:
    """Ask ``model`` for one JSON object that follows ``json_schema``.

    Providers that support structured output get ``response_format`` with the schema; the others
    get the same messages (which already describe the format) and their reply is parsed leniently
    by the caller.
    """
    litellm = import_litellm()
    _ensure_provider_for(model)
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "timeout": timeout,
        "num_retries": 0,
    }
    if seed is not None:
        kwargs["seed"] = seed
    if _supports_schema(litellm, model):
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": json_schema, "strict": False},
        }
    started = time.perf_counter()
    try:
        response = litellm.completion(**kwargs)
    except Exception as error:  # litellm maps provider errors to many types; one path here.
        # litellm appends the provider's traceback to some messages; the first line says it all.
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise LLMCallError(f"{type(error).__name__}: {_redact(first_line)}") from None
    latency = time.perf_counter() - started
    try:
        content = response.choices[0].message.content or ""
    except (AttributeError, IndexError) as error:
        raise LLMCallError(f"malformed provider response: {error}") from None
    usage = getattr(response, "usage", None)
    return LLMReply(
        content=content,
        model=model,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_s=latency,
        cost_usd=_cost(litellm, response),
    )


def _supports_schema(litellm: Any, model: str) -> bool:
    prefix = model.split("/", 1)[0]
    if prefix in _providers:
        # In-process providers receive the schema and enforce it themselves.
        return True
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:
        return False


def _cost(litellm: Any, response: Any) -> float | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:
        return None


_SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY")


def _redact(text: str) -> str:
    """Remove values of secret-looking environment variables from an error message."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and name.upper().endswith(_SECRET_ENV_SUFFIXES):
            text = text.replace(value, "***")
    return text
