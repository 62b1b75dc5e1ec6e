"""The one call site to litellm, and what its failures mean for a study.

Every failure of a call becomes one of two exceptions, decided here from litellm's exception
types (and, where litellm labels a missing key as a server error, from the cause it names):

- :class:`LLMConfigurationError`: the LLM can never answer as configured (a missing or invalid
  API key, an unknown model or provider, an embedded model that is not installed). The sampler
  raises it at the first trial, with what to set or fix.
- :class:`LLMCallError`: this call failed but a later one may not (timeouts, rate limits, 5xx,
  connection errors, a context window exceeded, an unusable reply). Its ``kind`` names the cause;
  the sampler falls back to its classical sampler and counts the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
import re
import time
from typing import Any

from optuna_vmle._providers import import_litellm
from optuna_vmle._providers import is_registered
from optuna_vmle._providers import LOCAL_PROVIDER_PREFIX
from optuna_vmle._providers import provider_of


class LLMCallError(RuntimeError):
    """A transient failure of one LLM call; ``kind`` is one of :data:`TRANSIENT_KINDS`."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class LLMConfigurationError(RuntimeError):
    """The configured LLM cannot answer at all; the message says what to set or fix."""


TRANSIENT_KINDS = (
    "timeout",
    "rate_limit",
    "connection",
    "server",
    "context_window",
    "bad_reply",
    "replay_miss",
    "other",
)

# litellm raises InternalServerError/APIError for some providers when no key is set.
_MISSING_CREDENTIALS = re.compile(
    r"missing credentials|api[_ ]?key (client option )?must be set|no api key|"
    r"api_key.*(is )?(not set|required|missing)|set the \w+_API_KEY",
    re.IGNORECASE,
)
_UNKNOWN_PROVIDER = re.compile(r"LLM Provider NOT provided|Unmapped LLM provider", re.IGNORECASE)


@dataclass(frozen=True)
class LLMReply:
    """What one completion call returned, reduced to what the sampler records."""

    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float | None


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

    Raises:
        LLMConfigurationError: the model cannot be reached as configured.
        LLMCallError: this call failed for a transient reason.
    """
    litellm = import_litellm()
    _ensure_local_provider(model)
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
    except Exception as error:  # litellm maps provider errors to its types; classified here.
        raise classify_error(error, model) from None
    latency = time.perf_counter() - started
    try:
        content = response.choices[0].message.content or ""
    except (AttributeError, IndexError) as error:
        raise LLMCallError(f"malformed provider response: {error}", "bad_reply") from None
    usage = getattr(response, "usage", None)
    return LLMReply(
        content=content,
        model=model,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_s=latency,
        cost_usd=_cost(litellm, response),
    )


def classify_error(error: BaseException, model: str) -> LLMCallError | LLMConfigurationError:
    """The sampler's view of an exception raised by ``litellm.completion``.

    Example:
        >>> from optuna_vmle._llm import classify_error
        >>> from optuna_vmle._providers import import_litellm
        >>> litellm = import_litellm()
        >>> error = litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o")
        >>> classify_error(error, "openai/gpt-4o").kind
        'rate_limit'
        >>> error = litellm.AuthenticationError("bad key", llm_provider="openai", model="gpt-4o")
        >>> type(classify_error(error, "openai/gpt-4o")).__name__
        'LLMConfigurationError'
    """
    litellm = import_litellm()
    # litellm appends the provider's traceback to some messages; the first line says it all.
    first_line = _redact((str(error).strip().splitlines() or [""])[0])[:300]
    text = f"{type(error).__name__}: {first_line}"
    provider = provider_of(model)
    # Some providers' missing key surfaces as InternalServerError: the cause decides then.
    if isinstance(error, litellm.AuthenticationError) or _MISSING_CREDENTIALS.search(str(error)):
        return LLMConfigurationError(
            f"the LLM {model!r} refused the credentials ({text}); set the API key of provider "
            f"{provider!r} (e.g. {provider.upper()}_API_KEY) or choose another model"
        )
    if isinstance(error, litellm.PermissionDeniedError):
        return LLMConfigurationError(
            f"the API key has no access to {model!r} ({text}); use a key with access or "
            "another model"
        )
    if isinstance(error, litellm.NotFoundError):
        return LLMConfigurationError(
            f"the model {model!r} does not exist at provider {provider!r} ({text}); check the "
            "model name"
        )
    if isinstance(error, litellm.BadRequestError) and _UNKNOWN_PROVIDER.search(str(error)):
        return LLMConfigurationError(
            f"litellm cannot route the model {model!r} ({text}); write it as "
            "'<provider>/<model>', e.g. 'openai/gpt-4o-mini' (see docs.litellm.ai/docs/providers)"
        )
    return LLMCallError(text, _transient_kind(litellm, error))


def _transient_kind(litellm: Any, error: BaseException) -> str:
    if isinstance(error, litellm.Timeout | TimeoutError):
        return "timeout"
    if isinstance(error, litellm.RateLimitError):
        return "rate_limit"
    if isinstance(error, litellm.ContextWindowExceededError):
        return "context_window"
    if isinstance(error, litellm.APIConnectionError | ConnectionError):
        return "connection"
    if isinstance(
        error,
        litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError,
    ):
        return "server"
    return "other"


def _ensure_local_provider(model: str) -> None:
    """Register the embedded model on first use; a missing install is a configuration error."""
    if provider_of(model) != LOCAL_PROVIDER_PREFIX:
        return
    from optuna_vmle import _local_model  # llama.cpp is only needed for the embedded model

    try:
        _local_model.check_installed(model.split("/", 1)[1])
    except _local_model.LocalModelError as error:
        raise LLMConfigurationError(
            f"the embedded model {model!r} is not usable: {error}"
        ) from None
    if not is_registered(LOCAL_PROVIDER_PREFIX):
        _local_model.register_local_provider()


def _supports_schema(litellm: Any, model: str) -> bool:
    if is_registered(provider_of(model)):
        # In-process providers receive the schema and enforce it themselves.
        return True
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises for models missing from its map: no schema then.
        return False


def _cost(litellm: Any, response: Any) -> float | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # models without a price in litellm's map have no cost
        return None


_SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY")


def _redact(text: str) -> str:
    """Remove values of secret-looking environment variables from an error message."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and name.upper().endswith(_SECRET_ENV_SUFFIXES):
            text = text.replace(value, "***")
    return text
