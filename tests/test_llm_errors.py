"""What a study does when the LLM fails: configuration errors stop it clearly, transient ones fall
back with one warning per kind. Built from litellm's own exception types; no network."""

from __future__ import annotations

import json
import logging

import httpx
import optuna
from optuna.distributions import FloatDistribution
import pytest

from optuna_vmle import LearningOptions
from optuna_vmle import LLMConfigurationError
from optuna_vmle import LLMOptions
from optuna_vmle import StoreOptions
from optuna_vmle import study_report
from optuna_vmle import VirtualMLESampler
from optuna_vmle._llm import classify_error
from optuna_vmle._llm import LLMCallError
from optuna_vmle._providers import import_litellm
from optuna_vmle.testing import ScriptedLLM


SPACE = {"x": FloatDistribution(0.0, 1.0)}
litellm = import_litellm()


def objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0)


def proposal(x: float) -> str:
    return json.dumps({"params": {"x": x}, "rationale": f"x={x} next"})


def sampler_for(model: str, memory_url: str, **llm_options) -> VirtualMLESampler:
    return VirtualMLESampler(
        model=model,
        search_space=SPACE,
        seed=0,
        llm_bonus=None,
        llm=LLMOptions(**llm_options),
        store=StoreOptions(url=memory_url),
        learning=LearningOptions(reflect=False, insight_interval=None),
    )


@pytest.mark.parametrize(
    "error",
    [
        litellm.AuthenticationError("invalid x-api-key", llm_provider="anthropic", model="m"),
        litellm.NotFoundError("model not found", llm_provider="openai", model="m"),
        litellm.PermissionDeniedError(
            "no access",
            llm_provider="openai",
            model="m",
            response=httpx.Response(403, request=httpx.Request("POST", "http://127.0.0.1")),
        ),
        litellm.BadRequestError(
            "LLM Provider NOT provided. Pass in the provider", model="m", llm_provider=""
        ),
        litellm.InternalServerError(
            "OpenAIException - Missing credentials. Please pass an `api_key`",
            llm_provider="openai",
            model="m",
        ),
    ],
    ids=["auth", "not-found", "permission", "unknown-provider", "missing-credentials"],
)
def test_configuration_errors_are_classified_as_such(error: Exception) -> None:
    assert isinstance(classify_error(error, "openai/gpt-4o-mini"), LLMConfigurationError)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (litellm.Timeout("timed out", model="m", llm_provider="openai"), "timeout"),
        (litellm.RateLimitError("slow down", llm_provider="openai", model="m"), "rate_limit"),
        (
            litellm.APIConnectionError("connection reset", llm_provider="openai", model="m"),
            "connection",
        ),
        (litellm.ServiceUnavailableError("503", llm_provider="openai", model="m"), "server"),
        (litellm.InternalServerError("upstream 500", llm_provider="openai", model="m"), "server"),
        (
            litellm.ContextWindowExceededError("too long", model="m", llm_provider="openai"),
            "context_window",
        ),
    ],
)
def test_transient_errors_get_their_kind(error: Exception, kind: str) -> None:
    classified = classify_error(error, "openai/gpt-4o-mini")
    assert isinstance(classified, LLMCallError)
    assert classified.kind == kind


def test_unknown_provider_stops_the_study_at_the_first_trial(memory_url: str) -> None:
    study = optuna.create_study(sampler=sampler_for("nonexistent-provider/foo-model", memory_url))
    with pytest.raises(LLMConfigurationError, match="cannot route the model"):
        study.optimize(objective, n_trials=5)
    assert len(study.trials) == 1


def test_missing_key_stops_the_study_and_names_what_to_set(monkeypatch, memory_url: str) -> None:
    llm = ScriptedLLM(
        [
            litellm.AuthenticationError(
                "Missing Anthropic API Key", llm_provider="anthropic", model="m"
            )
        ]
    )
    study = optuna.create_study(sampler=sampler_for(llm.register("keyless"), memory_url))
    with pytest.raises(LLMConfigurationError, match="KEYLESS_API_KEY"):
        study.optimize(objective, n_trials=5)


def test_configuration_errors_can_be_told_to_fall_back(memory_url: str) -> None:
    sampler = sampler_for(
        "nonexistent-provider/foo-model", memory_url, on_configuration_error="fallback"
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    assert [t.user_attrs["vmle:fallback_kind"] for t in study.trials] == ["configuration"] * 3


def test_transient_errors_warn_once_per_kind_and_are_counted(memory_url: str, caplog) -> None:
    rate = litellm.RateLimitError("slow down", llm_provider="openai", model="m")
    timeout = litellm.Timeout("timed out", model="m", llm_provider="openai")
    llm = ScriptedLLM([rate, rate, timeout, rate, timeout], default=proposal(0.5))
    study = optuna.create_study(sampler=sampler_for(llm.register(), memory_url))
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING, logger="optuna"):
            study.optimize(objective, n_trials=6)
    finally:
        optuna.logging.disable_propagation()
    warnings = [r.getMessage() for r in caplog.records if "LLM proposal unusable" in r.getMessage()]
    assert len(set(warnings)) == 2  # one per kind (the handlers may each see it)
    kinds = [t.user_attrs.get("vmle:fallback_kind") for t in study.trials]
    # litellm wraps what a custom provider raises; its kind still comes through the message.
    assert kinds[:5].count(None) == 0 and kinds[5] is None
    report = study_report(study)
    assert "fallbacks by cause: rate_limit 3, timeout 2" in report


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_sampler_logs_follow_optunas_verbosity(memory_url: str) -> None:
    llm = ScriptedLLM([], default=proposal(0.25))
    study = optuna.create_study(sampler=sampler_for(llm.register(), memory_url))
    records = _Records()
    logging.getLogger("optuna").addHandler(records)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        study.optimize(objective, n_trials=1)
        assert any(
            m.startswith("Trial 0: llm after") and "x=0.25 next" in m for m in records.messages
        )
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study.optimize(objective, n_trials=1)
        assert not any(m.startswith("Trial 1:") for m in records.messages)
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("optuna").removeHandler(records)


def test_llm_stops_being_asked_at_the_cost_cap(memory_url: str) -> None:
    llm = ScriptedLLM([], default=proposal(0.5))
    sampler = sampler_for(llm.register(), memory_url, budget_usd=0.0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=2)
    assert llm.calls == []
    assert [t.user_attrs["vmle:fallback_kind"] for t in study.trials] == ["budget"] * 2
