"""End-to-end with the embedded model (slow: about 2-5 minutes on 2 cores)."""

from __future__ import annotations

import math

import optuna
import pytest

from optuna_vmle import _providers
from optuna_vmle import StoreOptions
from optuna_vmle import VirtualMLESampler


pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow

SPACE = {
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "dropout": optuna.distributions.FloatDistribution(0.0, 0.6),
    "hidden": optuna.distributions.CategoricalDistribution([32, 64, 128, 256]),
    "blocks": optuna.distributions.IntDistribution(1, 4),
}


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.6)
    hidden = trial.suggest_categorical("hidden", [32, 64, 128, 256])
    blocks = trial.suggest_int("blocks", 1, 4)
    return (
        (math.log10(lr) + 2.5) ** 2
        + (dropout - 0.25) ** 2
        + abs(math.log2(hidden) - 7) / 3
        + abs(blocks - 2) / 5
    )


def test_embedded_model_study_has_provenance_and_replays_without_llm(tmp_path, monkeypatch) -> None:
    memory_url = f"sqlite:///{tmp_path / 'memory.db'}"
    sampler = VirtualMLESampler(
        task="Minimise a validation loss.",
        search_space=SPACE,
        seed=3,
        store=StoreOptions(url=memory_url),
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=20)
    assert sampler.wait_for_learning()
    notes = sampler.learner.notes(study)

    sources = [t.user_attrs["vmle:source"] for t in study.trials]
    assert len(sources) == 20
    assert set(sources) <= {"llm", "llm-repaired", "fallback"}
    # The first trial is the LLM's (grammar-valid, nothing earlier to crowd); later the guard may
    # prefer a random draw (startup) or TPE's candidate, and each such trial records why.
    assert sources[0] in ("llm", "llm-repaired")
    for trial in study.trials:
        assert trial.user_attrs["vmle:llm"]["model"] == "vmle-local/smollm2-135m"
        assert trial.user_attrs["vmle:llm"]["calls"] >= 1
        if trial.user_attrs["vmle:source"] == "fallback":
            assert trial.user_attrs["vmle:fallback_reason"]
        # Every trial has a note with the facts computed in code, whatever the model wrote.
        assert notes[trial.number]["outcome"]

    def no_llm(**kwargs):
        raise AssertionError("replay must not call the LLM")

    monkeypatch.setattr(_providers.import_litellm(), "completion", no_llm)
    replay = VirtualMLESampler(
        task="Minimise a validation loss.",
        search_space=SPACE,
        seed=3,
        store=StoreOptions(url=memory_url, replay=True),
    )
    replayed = optuna.create_study(sampler=replay)
    replayed.optimize(objective, n_trials=20)
    assert [t.params for t in replayed.trials] == [t.params for t in study.trials]
    assert [t.user_attrs["vmle:source"] for t in replayed.trials] == sources
