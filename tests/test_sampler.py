"""Behaviour of VirtualMLESampler with a scripted in-process LLM (no network, no model)."""

from __future__ import annotations

import json
import math

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import TrialState
import pytest

from optuna_vmle import LearningOptions
from optuna_vmle import record_errors
from optuna_vmle import StoreOptions
from optuna_vmle import VirtualMLESampler
from optuna_vmle._seeds import trial_seed
from optuna_vmle.testing import random_valid_reply
from optuna_vmle.testing import ScriptedLLM


SPACE = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5, step=0.1),
    "layers": IntDistribution(1, 8),
    "units": IntDistribution(16, 256, log=True),
    "kernel": IntDistribution(1, 7, step=2),
    "opt": CategoricalDistribution(["adam", "sgd", None]),
    "flag": CategoricalDistribution([True, False]),
    "width": CategoricalDistribution([32, 64, 1.5]),
}


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    layers = trial.suggest_int("layers", 1, 8)
    units = trial.suggest_int("units", 16, 256, log=True)
    kernel = trial.suggest_int("kernel", 1, 7, step=2)
    opt = trial.suggest_categorical("opt", ["adam", "sgd", None])
    flag = trial.suggest_categorical("flag", [True, False])
    width = trial.suggest_categorical("width", [32, 64, 1.5])
    return (
        abs(math.log10(lr) + 3)
        + dropout
        + layers / 10
        + units / 1000
        + kernel
        + (opt is None)
        + flag
        + width / 100
    )


def reply(params: dict, rationale: str = "because") -> str:
    return json.dumps({"params": params, "rationale": rationale})


GOOD = {
    "lr": 0.001,
    "dropout": 0.2,
    "layers": 3,
    "units": 64,
    "kernel": 3,
    "opt": "adam",
    "flag": False,
    "width": 64,
}


def make_sampler(
    llm: ScriptedLLM, memory_url: str, provider: str | None = None, replay: bool = False, **kwargs
) -> VirtualMLESampler:
    kwargs.setdefault("search_space", SPACE)
    # Reflection has its own tests (test_reflection.py).
    kwargs.setdefault("learning", LearningOptions(reflect=False, insight_interval=None))
    # The guard would replace scripted proposals it finds clustered; its tests switch it on.
    kwargs.setdefault("llm_bonus", None)
    store = StoreOptions(url=memory_url, replay=replay)
    return VirtualMLESampler(model=llm.register(provider), store=store, seed=0, **kwargs)


def test_llm_proposal_is_used_for_every_distribution_kind(memory_url: str) -> None:
    llm = ScriptedLLM([reply(GOOD, "start in the middle")])
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.params == GOOD
    assert trial.user_attrs["vmle:source"] == "llm"
    assert trial.user_attrs["vmle:rationale"] == "start in the middle"
    usage = trial.user_attrs["vmle:llm"]
    assert usage["calls"] == 1
    assert usage["model"].endswith("/script")
    assert usage["prompt_tokens"] > 0
    assert usage["latency_s"] >= 0
    assert trial.user_attrs["vmle:proposal"] == GOOD


def test_values_are_snapped_to_the_distribution(memory_url: str) -> None:
    params = {**GOOD, "dropout": 0.23, "kernel": 4, "units": 63.6}
    llm = ScriptedLLM([reply(params)])
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=1)
    assert study.trials[0].params["dropout"] == pytest.approx(0.2)
    assert study.trials[0].params["kernel"] in (3, 5)
    assert study.trials[0].params["units"] == 64


def test_invalid_reply_is_repaired_with_the_problems_fed_back(memory_url: str) -> None:
    llm = ScriptedLLM([reply({**GOOD, "lr": 3.0}), reply(GOOD)])
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.user_attrs["vmle:source"] == "llm-repaired"
    assert trial.params == GOOD
    repair_prompt = llm.calls[1].messages[-1]["content"]
    assert "lr=3 is outside" in repair_prompt


@pytest.mark.parametrize(
    "bad_replies",
    [
        ["no json at all", "still no json"],
        [reply({"lr": 0.01}), reply({**GOOD, "opt": "rmsprop"})],
        [RuntimeError("provider down"), reply(GOOD)],
        [TimeoutError("timed out")],
    ],
    ids=["malformed", "invalid-twice", "provider-error", "timeout"],
)
def test_unusable_llm_falls_back_and_the_study_goes_on(memory_url: str, bad_replies) -> None:
    llm = ScriptedLLM(bad_replies, default=reply(GOOD))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert trial.user_attrs["vmle:source"] == "fallback"
    assert trial.user_attrs["vmle:fallback_reason"]
    assert sorted(trial.user_attrs["vmle:independent_params"]) == sorted(SPACE)
    assert trial.user_attrs["vmle:llm"]["calls"] >= 1  # failed calls count too
    assert trial.user_attrs["vmle:fallback_kind"] in ("invalid", "connection")
    for name, distribution in SPACE.items():
        assert distribution._contains(distribution.to_internal_repr(trial.params[name]))


def test_duplicate_proposal_is_sent_back_for_repair(memory_url: str) -> None:
    other = {**GOOD, "layers": 5}
    llm = ScriptedLLM([reply(GOOD), reply(GOOD), reply(other)])
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=2)
    assert study.trials[1].params == other
    assert "already tried in trial #0" in llm.calls[2].messages[-1]["content"]


def test_without_search_space_first_trial_is_fallback_then_llm(memory_url: str) -> None:
    llm = ScriptedLLM([], default=random_valid_reply(1))
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        seed=0,
        learning=LearningOptions(reflect=False),
        llm_bonus=None,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    sources = [t.user_attrs["vmle:source"] for t in study.trials]
    assert sources == ["fallback", "llm", "llm"]
    assert len(llm.calls) == 2


def test_conditional_parameters_outside_the_space_come_from_the_fallback(memory_url: str) -> None:
    space = {"model": CategoricalDistribution(["linear", "tree"])}
    llm = ScriptedLLM([reply({"model": "tree"}), reply({"model": "linear"})])

    def conditional(trial: optuna.Trial) -> float:
        if trial.suggest_categorical("model", ["linear", "tree"]) == "tree":
            return trial.suggest_int("depth", 1, 10)
        return trial.suggest_float("alpha", 0.0, 1.0)

    study = optuna.create_study(sampler=make_sampler(llm, memory_url, search_space=space))
    study.optimize(conditional, n_trials=2)
    assert study.trials[0].user_attrs["vmle:independent_params"] == ["depth"]
    assert study.trials[1].user_attrs["vmle:independent_params"] == ["alpha"]
    assert study.trials[0].user_attrs["vmle:source"] == "llm"


def test_failed_and_pruned_trials_are_shown_with_their_causes(memory_url: str) -> None:
    space = {"x": FloatDistribution(0, 1)}
    llm = ScriptedLLM([reply({"x": 0.1}), reply({"x": 0.2}), reply({"x": 0.3})])

    def flaky(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 0:
            raise RuntimeError("loss became NaN at epoch 3")
        trial.report(0.42, step=2)
        raise optuna.TrialPruned()

    study = optuna.create_study(sampler=make_sampler(llm, memory_url, search_space=space))
    study.optimize(record_errors(flaky), n_trials=3, catch=(RuntimeError,))
    prompt = llm.calls[2].messages[-1]["content"]
    assert "#0 FAIL error: RuntimeError: loss became NaN at epoch 3" in prompt
    assert "#1 PRUNED at step 2 (last value 0.42)" in prompt


def test_running_trials_are_listed_and_not_duplicated(memory_url: str) -> None:
    space = {"x": IntDistribution(0, 3)}
    llm = ScriptedLLM([reply({"x": 1}), reply({"x": 1}), reply({"x": 2})])
    study = optuna.create_study(sampler=make_sampler(llm, memory_url, search_space=space))
    first = study.ask()
    assert first.suggest_int("x", 0, 3) == 1
    second = study.ask()  # the first is still running
    assert second.suggest_int("x", 0, 3) == 2
    assert "Running now on other workers" in llm.calls[1].messages[-1]["content"]
    study.tell(first, 1.0)
    study.tell(second, 2.0)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_enqueued_trials_are_marked_and_need_no_llm(memory_url: str) -> None:
    llm = ScriptedLLM([], default=reply(GOOD))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.enqueue_trial({**GOOD, "layers": 7})
    study.optimize(objective, n_trials=2)
    assert study.trials[0].user_attrs["vmle:source"] == "enqueued"
    assert study.trials[0].params["layers"] == 7
    assert study.trials[1].user_attrs["vmle:source"] == "llm"
    assert len(llm.calls) == 1


def test_parallel_workers_with_n_jobs(memory_url: str) -> None:
    llm = ScriptedLLM([], default=random_valid_reply(2))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=12, n_jobs=2)
    assert len(study.trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # Every trial ran the LLM's proposal: the LLM path works under threads, not only the fallback.
    assert [t.user_attrs["vmle:source"] for t in study.trials] == ["llm"] * 12
    assert all(t.params == t.user_attrs["vmle:proposal"] for t in study.trials)
    assert len(llm.calls) == 12


def test_replay_under_n_jobs_gives_each_trial_its_recorded_reply(memory_url: str) -> None:
    llm = ScriptedLLM([], default=random_valid_reply(8))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url, "replay-jobs"))
    study.optimize(objective, n_trials=8, n_jobs=2)
    silent = ScriptedLLM([])
    replayed = optuna.create_study(
        sampler=make_sampler(silent, memory_url, "replay-jobs", replay=True)
    )
    replayed.optimize(objective, n_trials=8, n_jobs=2)
    assert len(silent.calls) == 0
    by_number = {t.number: t.params for t in study.trials}
    assert {t.number: t.params for t in replayed.trials} == by_number
    assert all(t.user_attrs["vmle:llm"]["from_store"] for t in replayed.trials)


@pytest.mark.parametrize("storage_kind", ["sqlite", "journal"])
def test_persistent_storages(tmp_path, memory_url: str, storage_kind: str) -> None:
    if storage_kind == "sqlite":
        storage = f"sqlite:///{tmp_path / 'study.db'}"
    else:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log"))
        )
    llm = ScriptedLLM([], default=random_valid_reply(3))
    study = optuna.create_study(storage=storage, sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=3)
    reloaded = optuna.load_study(study_name=study.study_name, storage=storage)
    assert [t.user_attrs["vmle:source"] for t in reloaded.trials] == ["llm"] * 3


def test_rdb_study_keeps_sampler_tables_in_the_same_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    llm = ScriptedLLM([], default=random_valid_reply(4))
    sampler = VirtualMLESampler(
        model=llm.register(), search_space=SPACE, seed=0, learning=LearningOptions(reflect=False)
    )
    study = optuna.create_study(storage=url, sampler=sampler)
    study.optimize(objective, n_trials=2)
    import sqlalchemy

    with sqlalchemy.create_engine(url).connect() as connection:
        count = connection.execute(
            sqlalchemy.text("select count(*) from vmle_transcripts")
        ).scalar()
    assert count == 2


def test_replay_reproduces_a_study_without_llm_calls(memory_url: str) -> None:
    llm = ScriptedLLM(["garbage"], default=random_valid_reply(5))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url, "replayed"))
    study.optimize(objective, n_trials=6)
    assert len(llm.calls) >= 6

    # The same model string, now answered by a script that would fail on any call.
    silent = ScriptedLLM([])
    replayed = optuna.create_study(
        sampler=make_sampler(silent, memory_url, "replayed", replay=True)
    )
    replayed.optimize(objective, n_trials=6)
    assert len(silent.calls) == 0
    assert [t.params for t in replayed.trials] == [t.params for t in study.trials]
    assert [t.user_attrs["vmle:source"] for t in replayed.trials] == [
        t.user_attrs["vmle:source"] for t in study.trials
    ]


def test_multi_objective_and_constraints_are_shown(memory_url: str) -> None:
    space = {"x": FloatDistribution(0, 1)}
    llm = ScriptedLLM([reply({"x": 0.1}), reply({"x": 0.9}), reply({"x": 0.5})])

    def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        trial.set_constraint("budget", x - 0.8)
        return x, 1 - x

    study = optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=make_sampler(llm, memory_url, search_space=space),
    )
    study.optimize(two_objectives, n_trials=3)
    prompt = llm.calls[2].messages[-1]["content"]
    assert "value 0: minimize, value 1: maximize" in prompt
    assert "INFEASIBLE budget=0.1" in prompt
    assert "values=[0.1, 0.9] feasible" in prompt


def test_prompt_size_is_bounded_in_the_number_of_trials(memory_url: str) -> None:
    llm = ScriptedLLM([], default=random_valid_reply(6))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=60)
    sizes = [len(call.messages[-1]["content"]) for call in llm.calls]
    assert max(sizes[30:]) < 1.1 * max(sizes[10:20])


def test_broken_memory_database_falls_back_without_losing_trials(tmp_path) -> None:
    llm = ScriptedLLM([], default=reply(GOOD))
    bad_url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    study = optuna.create_study(sampler=make_sampler(llm, bad_url))
    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert "transcript database unavailable" in study.trials[0].user_attrs["vmle:fallback_reason"]


def test_api_keys_never_reach_attrs_or_transcripts(monkeypatch, memory_url: str) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    llm = ScriptedLLM([RuntimeError(f"auth failed for key {secret}")], default=reply(GOOD))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        assert secret not in json.dumps(trial.user_attrs)
    assert secret not in open(memory_url.removeprefix("sqlite:///"), "rb").read().decode("latin-1")


def test_reseed_rng_leaves_the_llm_seeds_of_the_trials_alone(memory_url: str) -> None:
    import sqlalchemy

    llm = ScriptedLLM([], default=random_valid_reply(7))
    sampler = make_sampler(llm, memory_url)
    sampler.reseed_rng()  # Optuna does this for every trial under n_jobs>1
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    with sqlalchemy.create_engine(memory_url).connect() as connection:
        requests = connection.execute(
            sqlalchemy.text("select trial_number, request_json from vmle_transcripts")
        ).all()
    seeds = {number: json.loads(request)["seed"] for number, request in requests}
    assert seeds == {n: trial_seed(0, n) for n in range(3)}


def test_guard_replaces_a_bad_llm_proposal_with_tpes_candidate(memory_url: str) -> None:
    space = {"x": FloatDistribution(-5, 5)}

    def parabola(trial: optuna.Trial) -> float:
        return (trial.suggest_float("x", -5, 5) - 2) ** 2

    # Ten startup trials spread over the range, then the LLM insists on a bad corner.
    startup = [reply({"x": -4.5 + i}) for i in range(10)]
    corner = [reply({"x": -4.9 + 0.05 * i}) for i in range(3)]
    llm = ScriptedLLM(startup + corner)
    sampler = make_sampler(llm, memory_url, search_space=space, llm_bonus=0.5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(parabola, n_trials=13)
    guarded = study.trials[10:]
    assert all(t.user_attrs["vmle:source"] in ("fallback", "llm") for t in guarded)
    replaced = [t for t in guarded if t.user_attrs["vmle:source"] == "fallback"]
    assert replaced, "a proposal far from every good trial must lose the screen"
    for trial in replaced:
        assert trial.user_attrs["vmle:fallback_reason"].startswith("screened out")
        assert trial.user_attrs["vmle:llm_proposal"]["x"] < -4.7  # the corner it asked for
        assert abs(trial.params["x"] - 2) < abs(-4.9 - 2)


def test_guard_can_be_disabled(memory_url: str) -> None:
    space = {"x": FloatDistribution(-5, 5)}
    startup = [reply({"x": -4.5 + i}) for i in range(10)]
    llm = ScriptedLLM(startup, default=reply({"x": -4.9}))
    sampler = make_sampler(llm, memory_url, search_space=space)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2) ** 2, n_trials=11)
    assert study.trials[10].params["x"] == -4.9
    assert study.trials[10].user_attrs["vmle:source"] == "llm"


def test_unused_conditional_parameters_do_not_make_a_duplicate_new(memory_url: str) -> None:
    space = {
        "use_decay": CategoricalDistribution([True, False]),
        "decay": FloatDistribution(1e-6, 1e-3, log=True),
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
    }
    first = {"use_decay": False, "decay": 1e-5, "lr": 1e-3}
    same_but_unused_decay = {**first, "decay": 1e-4}
    new = {**first, "lr": 2e-3}
    llm = ScriptedLLM([reply(first), reply(same_but_unused_decay), reply(new)])

    def conditional(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        if trial.suggest_categorical("use_decay", [True, False]):
            lr += trial.suggest_float("decay", 1e-6, 1e-3, log=True)
        return lr

    study = optuna.create_study(sampler=make_sampler(llm, memory_url, search_space=space))
    study.optimize(conditional, n_trials=2)
    assert study.trials[1].params["lr"] == 2e-3
    assert "already tried in trial #0" in llm.calls[2].messages[-1]["content"]


def test_a_failing_guard_hands_the_trial_to_tpe_not_to_the_llm(
    memory_url: str, monkeypatch
) -> None:
    from optuna_vmle import _sampler

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(_sampler, "screen_candidates", broken)
    llm = ScriptedLLM([], default=reply(GOOD))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url, llm_bonus=0.5))
    study.optimize(objective, n_trials=2)
    assert [t.user_attrs["vmle:source"] for t in study.trials] == ["fallback"] * 2
    assert study.trials[0].user_attrs["vmle:fallback_kind"] == "guard-error"
    assert study.trials[0].params != GOOD


def test_the_prompt_shows_tpes_good_region_and_the_llms_trust(memory_url: str) -> None:
    space = {"x": FloatDistribution(-5, 5), "kind": CategoricalDistribution(["a", "b"])}

    def parabola(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        return (x - 2) ** 2 + (trial.suggest_categorical("kind", ["a", "b"]) == "b")

    # Good proposals near the optimum (x=2, kind a), each new: the LLM earns trust.
    llm = ScriptedLLM(
        [], default=lambda messages, schema: reply({"x": 2.0 + 0.01 * len(llm.calls), "kind": "a"})
    )
    sampler = make_sampler(llm, memory_url, search_space=space, llm_bonus=0.5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(parabola, n_trials=25)

    prompt = llm.calls[-1].messages[-1]["content"]
    assert "The classical sampler's view" in prompt
    sources = [t.user_attrs["vmle:source"] for t in study.trials[:-1]]
    n_llm, n_tpe = sources.count("llm"), sources.count("fallback")
    assert n_llm > n_tpe > 0
    assert f"your proposals chose {n_llm} finished trials, TPE {n_tpe}" in prompt
    # TPE's good trials (gamma of 24 finished trials: 3) are the LLM's, near x=2 with kind a.
    good = sorted(study.trials[:-1], key=lambda t: t.value)[:3]
    low = min(t.params["x"] for t in good)
    assert f"good region (TPE's 3 best trials): x {low:.4g} to " in prompt
    assert 'kind "a"' in prompt


def test_without_the_guard_the_prompt_has_no_classical_view(memory_url: str) -> None:
    llm = ScriptedLLM([], default=random_valid_reply(9))
    study = optuna.create_study(sampler=make_sampler(llm, memory_url))
    study.optimize(objective, n_trials=15)
    assert all("classical sampler's view" not in c.messages[-1]["content"] for c in llm.calls)
