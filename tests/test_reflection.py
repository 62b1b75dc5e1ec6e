"""Reflection: every finished trial (complete, failed or pruned) leaves a note in the study's
storage that later prompts, insights and summaries build on; it is written only after the
trial's result is recorded, and reflecting never costs the user a trial."""

from __future__ import annotations

import json
import re

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
import pytest
from scripted_memory import by_purpose
from scripted_memory import reflection_reply

from optuna_vmle import Learner
from optuna_vmle import LearningOptions
from optuna_vmle import record_errors
from optuna_vmle import StoreOptions
from optuna_vmle import VirtualMLESampler
from optuna_vmle._memory import StudyMemory
from optuna_vmle._reflection import NOTE_TEXT_MAX_CHARS
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


def run(
    llm: ScriptedLLM,
    memory_url: str,
    n_trials: int = 3,
    *,
    provider: str | None = None,
    store: StoreOptions | None = None,
    learning: LearningOptions | None = None,
) -> tuple[VirtualMLESampler, optuna.Study]:
    """A study of ``n_trials`` on the sqlite file ``memory_url``, its learning finished."""
    sampler = VirtualMLESampler(
        model=llm.register(provider),
        store=store or StoreOptions(url=memory_url),
        search_space=SPACE,
        seed=0,
        llm_bonus=None,  # the scripted proposals are used as they are
        learning=learning,
    )
    study = optuna.create_study(sampler=sampler, storage=memory_url)
    study.optimize(record_errors(complete_fail_prune), n_trials=n_trials, catch=(RuntimeError,))
    assert sampler.wait_for_learning(timeout=60)
    return sampler, study


def reflection_prompts(llm: ScriptedLLM) -> list[str]:
    return [
        call.messages[-1]["content"]
        for call in llm.calls
        if "verdict" in (call.json_schema or {}).get("properties", {})
    ]


def without_usage(note: dict) -> dict:
    return {key: value for key, value in note.items() if key != "llm"}


def test_complete_failed_and_pruned_trials_get_notes_in_the_study_storage(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    sampler, study = run(llm, memory_url)
    by_trial = sampler.learner.notes(study)
    assert sorted(by_trial) == [0, 1, 2]
    notes = [by_trial[n] for n in range(3)]
    assert [n["state"] for n in notes] == ["COMPLETE", "FAIL", "PRUNED"]
    assert all(n["rule"] == "keep lr near 1e-3" and n["verdict"] == "confirmed" for n in notes)
    # The reflection's own cost is accounted for in its note, apart from the proposal's.
    assert all(n["llm"]["prompt_tokens"] > 0 for n in notes)
    assert all(n["llm"]["completion_tokens"] > 0 and "latency_s" in n["llm"] for n in notes)
    assert notes[0]["value"] == pytest.approx(1e-3)
    # The facts are computed in code, not asked from the LLM.
    assert notes[1]["changed"] == "lr 0.001 -> 0.01"
    assert notes[1]["outcome"] == "failed: RuntimeError: loss became NaN at epoch 3"
    curve = "learning curve 3 steps (0-2): first 0.9 at 0, best 0.7 at 1, last 0.8 at 2"
    assert curve in notes[2]["outcome"]
    assert notes[0]["expectation"] == "probe the lr"
    # The notes live in the study's storage: whoever loads the study reads them, in trial order.
    loaded = optuna.load_study(study_name=study.study_name, storage=memory_url)
    assert StudyMemory(loaded).notes() == notes
    assert all("vmle:reflection" not in t.user_attrs for t in study.trials)
    prompts = reflection_prompts(llm)
    assert "loss became NaN at epoch 3" in prompts[1]
    assert "learning curve" in prompts[2]


@pytest.mark.parametrize("background", [True, False], ids=["background", "callback"])
def test_learning_starts_only_once_the_result_is_recorded(memory_url, background) -> None:
    seen: dict[int, tuple[TrialState, float | None]] = {}
    holder: dict[str, optuna.Study] = {}
    reflect = reflection_reply()

    def reflection(messages, schema) -> str:
        number = int(re.search(r"Trial #(\d+)", messages[-1]["content"]).group(1))
        trial = optuna.load_study(study_name=holder["study"].study_name, storage=memory_url).trials[
            number
        ]
        seen[number] = (trial.state, trial.value)
        return reflect(messages, schema)

    llm = ScriptedLLM(
        [], default=by_purpose(proposal=proposals(1e-3, 2e-3, 3e-3), reflection=reflection)
    )
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=SPACE,
        seed=0,
        llm_bonus=None,
        learning=LearningOptions(background=background, insight_interval=None),
    )
    study = holder["study"] = optuna.create_study(sampler=sampler, storage=memory_url)
    study.optimize(
        lambda t: t.suggest_float("lr", 1e-5, 1e-1, log=True),
        n_trials=3,
        callbacks=[] if background else [sampler.learner],
    )
    assert sampler.wait_for_learning(timeout=60)
    assert seen == {
        0: (TrialState.COMPLETE, pytest.approx(1e-3)),
        1: (TrialState.COMPLETE, pytest.approx(2e-3)),
        2: (TrialState.COMPLETE, pytest.approx(3e-3)),
    }
    assert sorted(sampler.learner.notes(study)) == [0, 1, 2]


def test_the_reference_is_the_best_trial_before_the_reflected_one(memory_url) -> None:
    # A learner on its own, on a study that ran without optuna-vmle and is finished: the note of
    # trial 1 compares it with trial 0, not with the better trial 2 that came after it.
    study = optuna.create_study(storage=memory_url)
    for lr, value in [(1e-3, 0.5), (1e-2, 0.7), (1e-4, 0.1)]:
        study.enqueue_trial({"lr": lr})
        study.optimize(
            lambda t, v=value: v + 0 * t.suggest_float("lr", 1e-5, 1e-1, log=True), n_trials=1
        )
    llm = ScriptedLLM([], default=by_purpose())
    learner = Learner(model=llm.register(), options=LearningOptions(insight_interval=None))
    learner.learn(study, 1)
    note = learner.notes(study)[1]
    assert note["reference"] == "the best trial #0"
    assert note["changed"] == "lr 0.001 -> 0.01"
    assert "not better than the best 0.5 at #0" in note["outcome"]


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
    sampler, study = run(llm, memory_url)
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.PRUNED,
    ]
    notes = sampler.learner.notes(study)
    assert sorted(notes) == [0, 1, 2]
    for note in notes.values():
        assert "reflection_error" in note and "rule" not in note
        assert note["outcome"]  # the facts are kept


def test_llm_text_is_validated_strings_only_and_truncated(memory_url) -> None:
    def reflection(messages, schema):
        return json.dumps(
            {
                "hypothesis": {"__import__": "os"},
                "verdict": "absolutely",
                "rule": "keep lr at 1e-3 " + "".join(chr(97 + i * 7 % 26) for i in range(5000)),
                "next_action": "  try\n\n a   smaller lr ",
            }
        )

    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3), reflection=reflection))
    sampler, study = run(llm, memory_url, n_trials=1)
    note = sampler.learner.notes(study)[0]
    assert "hypothesis" not in note
    assert note["verdict"] == "inconclusive"
    assert len(note["rule"]) == NOTE_TEXT_MAX_CHARS and note["rule"].startswith("keep lr at 1e-3")
    assert note["next_action"] == "try a smaller lr"


def test_reflect_false_makes_no_reflection_calls_and_no_notes(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    sampler, study = run(llm, memory_url, learning=LearningOptions(reflect=False))
    assert len(llm.calls) == 3
    assert reflection_prompts(llm) == []
    assert sampler.learner.notes(study) == {}
    assert StudyMemory(study).notes() == []


def test_reflections_are_recorded_and_replayed_without_an_llm(memory_url) -> None:
    learning = LearningOptions(insight_interval=None)
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    sampler, study = run(llm, memory_url, provider="reflect-replay", learning=learning)
    silent = ScriptedLLM([])
    replaying, replayed = run(
        silent,
        memory_url,
        provider="reflect-replay",
        learning=learning,
        store=StoreOptions(url=memory_url, replay=True),
    )
    assert silent.calls == []
    assert [t.params for t in replayed.trials] == [t.params for t in study.trials]
    recorded, replayed_notes = sampler.learner.notes(study), replaying.learner.notes(replayed)
    assert sorted(replayed_notes) == [0, 1, 2]
    assert all("reflection_error" not in note for note in replayed_notes.values())
    assert {n: without_usage(note) for n, note in replayed_notes.items()} == {
        n: without_usage(note) for n, note in recorded.items()
    }


def test_reflection_budget_is_passed_to_the_llm(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3)))
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=SPACE,
        learning=LearningOptions(max_tokens=77, timeout=5.0),
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(complete_fail_prune, n_trials=1)
    assert sampler.wait_for_learning(timeout=60)
    client = sampler._clients.get(study, "reflection")
    assert (client.max_tokens, client.timeout) == (77, 5.0)


def test_reflection_is_a_dashboard_note(memory_url) -> None:
    pytest.importorskip("optuna_dashboard")
    from optuna_dashboard._note import get_note_from_system_attrs

    llm = ScriptedLLM([], default=by_purpose(proposal=proposals(1e-3, 1e-2, 1e-4)))
    _, study = run(llm, memory_url, learning=LearningOptions(insight_interval=3))
    attrs = study._storage.get_study_system_attrs(study._study_id)
    failed = study.trials[1]
    body = get_note_from_system_attrs(attrs, failed._trial_id)["body"]
    assert "## Reflection on trial 1 (FAIL)" in body
    assert "loss became NaN" in body and "keep lr near 1e-3" in body
    study_note = get_note_from_system_attrs(attrs, None)["body"]
    assert "moderate learning rates win" in study_note


# What the embedded SmolLM2-135M actually wrote into notes and insights (seen in the dashboard).
OFF_TOPIC_REFLECTION = {
    "hypothesis": "The best way to reduce stress is to get enough sleep every day.",
    "verdict": "confirmed",
    "rule": "A study showed that sleep is essential for mental health.",
    "next_action": "try a smaller lr",
}
TEMPLATE_INSIGHTS = {
    "principles": [{"text": "<one sentence>", "trials": [0]}],
    "failure_modes": [{"text": "<one sentence>", "trials": [1]}],
}


def test_off_topic_reflections_keep_their_facts_but_no_rule(memory_url) -> None:
    llm = ScriptedLLM(
        [],
        default=by_purpose(
            proposal=proposals(1e-3, 1e-2),
            reflection=lambda m, s: json.dumps(OFF_TOPIC_REFLECTION),
            insights=lambda m, s: json.dumps(TEMPLATE_INSIGHTS),
        ),
    )
    sampler, study = run(llm, memory_url, n_trials=2, learning=LearningOptions(insight_interval=2))
    note = sampler.learner.notes(study)[0]
    assert "rule" not in note and "hypothesis" not in note
    assert note["no_usable_rule"] == "names no parameter, value, metric or term of the task"
    assert note["next_action"] == "try a smaller lr"  # the on-topic part stays
    assert note["expectation"] == "probe the lr"  # the proposal's on-topic rationale stays
    assert note["outcome"] == "value 0.001 (first complete trial)"  # facts computed in code stay
    insights = StudyMemory(study).insights().insights
    # The template's placeholders are not stored: the deterministic ranking took over.
    assert insights["method"] == "ranking"
    assert "<one sentence>" not in json.dumps(insights)


def test_an_off_topic_rationale_is_not_kept_as_the_expectation(memory_url) -> None:
    def proposal(messages, schema) -> str:
        rationale = "The best way to reduce stress is to get enough sleep every day."
        return json.dumps({"params": {"lr": 1e-3}, "rationale": rationale})

    llm = ScriptedLLM([], default=by_purpose(proposal=proposal))
    sampler, study = run(llm, memory_url, n_trials=1)
    assert sampler.learner.notes(study)[0]["expectation"] == ""
    assert "Expectation before the run: (none recorded)" in reflection_prompts(llm)[0]
