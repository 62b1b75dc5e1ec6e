"""Reflection: every finished trial (complete, failed or pruned) leaves a note that later
prompts, insights and summaries build on, and reflecting never costs the user a trial."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from scripted_memory import by_purpose

from optuna_vmle import record_errors
from optuna_vmle import VirtualMLESampler
from optuna_vmle._memory import MemoryStore
from optuna_vmle.testing import ScriptedLLM


SPACE = {"lr": FloatDistribution(1e-5, 1e-1, log=True)}


def proposals(*values: float):
    remaining = list(values)

    def reply(messages, schema) -> str:
        return json.dumps({"params": {"lr": remaining.pop(0)}, "rationale": "probe the lr"})

    return reply


def complete_fail_prune(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    if trial.number == 1:
        raise RuntimeError("loss became NaN at epoch 3")
    if trial.number == 2:
        for step, value in enumerate([0.9, 0.7, 0.8]):
            trial.report(value, step)
        raise optuna.TrialPruned()
    return lr


def run(llm: ScriptedLLM, memory_url: str, n_trials: int = 3, **kwargs) -> optuna.Study:
    kwargs.setdefault("llm_bonus", None)  # the scripted proposals are used as they are
    sampler = VirtualMLESampler(
        model=llm.register(kwargs.pop("provider", None)),
        memory_url=memory_url,
        search_space=SPACE,
        seed=0,
        **kwargs,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(record_errors(complete_fail_prune), n_trials=n_trials, catch=(RuntimeError,))
    return study


def reflection_prompts(llm: ScriptedLLM) -> list[str]:
    return [
        call.messages[-1]["content"]
        for call in llm.calls
        if "verdict" in (call.json_schema or {}).get("properties", {})
    ]


def test_complete_failed_and_pruned_trials_get_notes_in_attrs_and_memory(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    study = run(llm, memory_url)
    notes = [t.user_attrs["vmle:reflection"] for t in study.trials]
    assert [n["state"] for n in notes] == ["COMPLETE", "FAIL", "PRUNED"]
    assert all(n["rule"] == "keep lr near 1e-3" and n["verdict"] == "confirmed" for n in notes)
    # The reflection's own cost is accounted for beside the proposal's.
    assert all(t.user_attrs["vmle:reflection_prompt_tokens"] > 0 for t in study.trials)
    assert all("vmle:reflection_latency_s" in t.user_attrs for t in study.trials)
    assert notes[0]["value"] == pytest.approx(1e-3)
    # The facts are computed in code, not asked from the LLM.
    assert notes[1]["changed"] == "lr 0.001 -> 0.01"
    assert notes[1]["outcome"] == "failed: RuntimeError: loss became NaN at epoch 3"
    curve = "learning curve 3 steps (0-2): first 0.9 at 0, best 0.7 at 1, last 0.8 at 2"
    assert curve in notes[2]["outcome"]
    assert notes[0]["expectation"] == "probe the lr"
    assert MemoryStore(memory_url).notes(study.study_name) == notes
    prompts = reflection_prompts(llm)
    assert "loss became NaN at epoch 3" in prompts[1]
    assert "learning curve" in prompts[2]


@pytest.mark.parametrize(
    "bad_reflection",
    [
        RuntimeError("provider down"),
        "not json",
        json.dumps({"hypothesis": "h", "verdict": "confirmed", "rule": 42, "next_action": "n"}),
    ],
    ids=["llm-error", "invalid-json", "non-string-rule"],
)
def test_a_failing_reflection_never_fails_the_trial(memory_url, bad_reflection) -> None:
    def reflection(messages, schema):
        if isinstance(bad_reflection, BaseException):
            raise bad_reflection
        return bad_reflection

    llm = ScriptedLLM(
        [], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4), reflection=reflection)
    )
    study = run(llm, memory_url)
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.PRUNED,
    ]
    for trial in study.trials:
        note = trial.user_attrs["vmle:reflection"]
        assert "reflection_error" in note and "rule" not in note
        assert note["outcome"]  # the facts are kept


def test_llm_text_is_validated_strings_only_and_truncated(memory_url) -> None:
    def reflection(messages, schema):
        return json.dumps(
            {
                "hypothesis": {"__import__": "os"},
                "verdict": "absolutely",
                "rule": "x" * 5000,
                "next_action": "  try\n\n a   smaller lr ",
            }
        )

    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3), reflection=reflection))
    note = run(llm, memory_url, n_trials=1).trials[0].user_attrs["vmle:reflection"]
    assert "hypothesis" not in note
    assert note["verdict"] == "inconclusive"
    assert len(note["rule"]) <= 240
    assert note["next_action"] == "try a smaller lr"


def test_reflect_false_makes_no_reflection_calls_and_no_notes(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    study = run(llm, memory_url, reflect=False)
    assert len(llm.calls) == 3
    assert all("vmle:reflection" not in t.user_attrs for t in study.trials)
    assert MemoryStore(memory_url).notes(study.study_name) == []


def test_reflections_are_recorded_and_replayed_without_an_llm(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    study = run(llm, memory_url, provider="reflect-replay", insight_interval=None)
    silent = ScriptedLLM([])
    replayed = run(
        silent, memory_url, provider="reflect-replay", replay=True, insight_interval=None
    )
    assert silent.calls == []
    assert [t.user_attrs["vmle:reflection"] for t in replayed.trials] == [
        t.user_attrs["vmle:reflection"] for t in study.trials
    ]


def test_reflection_budget_is_passed_to_the_llm(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3)))
    sampler = VirtualMLESampler(
        model=llm.register(), memory_url=memory_url, search_space=SPACE,
        reflection_max_tokens=77, reflection_timeout=5.0,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(complete_fail_prune, n_trials=1)
    client = sampler._client_for(study, purpose="reflection")
    assert (client.max_tokens, client.timeout) == (77, 5.0)


def test_reflection_is_a_dashboard_note(memory_url) -> None:
    pytest.importorskip("optuna_dashboard")
    from optuna_dashboard._note import get_note_from_system_attrs

    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    study = run(llm, memory_url, insight_interval=3)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    failed = study.trials[1]
    body = get_note_from_system_attrs(attrs, failed._trial_id)["body"]
    assert "## Reflection on trial 1 (FAIL)" in body
    assert "loss became NaN" in body and "keep lr near 1e-3" in body
    study_note = get_note_from_system_attrs(attrs, None)["body"]
    assert "moderate learning rates win" in study_note
