"""Memory: every finished trial keeps exactly one note in the study's own storage, shared by all
the workers and samplers of the study whatever the storage; insights stay bounded, only move
forward, and the proposal prompt stays flat as the study grows; an incompatible database for
the transcripts is refused with a clear error."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import shutil
import tempfile
import uuid

import optuna
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import create_trial
from optuna.trial import TrialState
import pytest
from scripted_memory import by_purpose
import sqlalchemy

from optuna_vmle import _db
from optuna_vmle import LearningOptions
from optuna_vmle import SchemaVersionError
from optuna_vmle import StoreOptions
from optuna_vmle import VirtualMLESampler
from optuna_vmle._memory import StudyMemory
from optuna_vmle._memory import SummaryStore
from optuna_vmle._prompts import INSIGHTS_SECTION_TITLE
from optuna_vmle.testing import random_valid_reply
from optuna_vmle.testing import ScriptedLLM


SPACE = {"lr": FloatDistribution(1e-5, 1e-1, log=True), "layers": IntDistribution(1, 8)}
SERVER_URL_ENVS = {"postgresql": "VMLE_TEST_POSTGRES_URL", "mysql": "VMLE_TEST_MYSQL_URL"}
WORDS = [
    "wider", "deeper", "dropout", "warmup", "decay", "batch", "momentum",
    "clip", "schedule", "heads", "tied", "norm", "gelu",
]  # fmt: skip
# Learning in the optimize loop (an Optuna callback), so what a prompt sees does not depend on
# the timing of a background thread.
IN_LOOP = LearningOptions(background=False, insight_interval=3)


def objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("lr", 1e-5, 1e-1, log=True) * trial.suggest_int("layers", 1, 8)


def proposal_prompts(llm: ScriptedLLM) -> list[str]:
    return [
        call.messages[-1]["content"]
        for call in llm.calls
        if "params" in (call.json_schema or {}).get("properties", {})
    ]


def grown_study(sampler: VirtualMLESampler, n_trials: int) -> optuna.Study:
    """A study with ``n_trials`` finished trials and one distinct note each (no LLM involved)."""
    study = optuna.create_study(sampler=sampler)
    trials, notes = [], []
    for i in range(n_trials):
        params = {"lr": 10 ** (-1 - 4 * ((i * 7919) % 1000) / 1000), "layers": 1 + i % 8}
        failed = i % 10 == 9
        trials.append(
            create_trial(
                params=params,
                distributions=SPACE,
                value=None if failed else params["lr"] * params["layers"],
                state=TrialState.FAIL if failed else TrialState.COMPLETE,
                user_attrs={"vmle:error": f"RuntimeError: {WORDS[i % 13]} diverged"}
                if failed
                else {},
            )
        )
        rule = f"prefer {WORDS[i % 13]} over {WORDS[(i // 13) % 13]}"
        notes.append(
            {
                "trial": i,
                "state": "FAIL" if failed else "COMPLETE",
                "value": None if failed else params["lr"] * params["layers"],
                "outcome": "failed" if failed else "value",
                "changed": "lr",
                "rule": rule,
            }
        )
    study.add_trials(trials)
    memory = StudyMemory(study)
    for note in notes:
        memory.add_note(note["trial"], note)
    return study


def test_insights_every_interval_replace_the_previous_and_reach_the_prompt(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=SPACE,
        seed=0,
        learning=IN_LOOP,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8, callbacks=[sampler.learner])
    assert sorted(sampler.learner.notes(study)) == list(range(8))
    record = StudyMemory(study).insights()
    assert record.version == 6  # consolidated after notes 3 and 6, the newest replacing
    assert record.insights["method"] == "llm"
    assert record.insights["principles"] == [
        {"text": "moderate learning rates win", "trials": [0, 1, 2]}
    ]
    prompts = proposal_prompts(llm)
    assert INSIGHTS_SECTION_TITLE not in prompts[2]
    assert "- principle: moderate learning rates win (trials #0, #1, #2)" in prompts[3]
    assert "- failure mode: huge learning rates diverge" in prompts[7]
    ids = [t.user_attrs.get("vmle:memory_ids") for t in study.trials]
    assert ids[:3] == [None] * 3
    assert ids[3] == ["insights:v3"] and ids[7] == ["insights:v6"]


def test_background_learning_notes_every_trial_once_the_study_waits_for_it(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=SPACE,
        seed=0,
        learning=LearningOptions(insight_interval=3),
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=7)
    assert sampler.wait_for_learning(timeout=60)
    assert sorted(sampler.learner.notes(study)) == list(range(7))
    assert StudyMemory(study).insights().version == 6


def test_insights_stay_bounded_at_500_trials() -> None:
    def too_many(messages, schema) -> str:
        items = [{"text": f"lesson {i}", "trials": [i, 10_000, "7"]} for i in range(30)]
        return json.dumps({"principles": items, "failure_modes": items})

    llm = ScriptedLLM([], default=by_purpose(insights=too_many))
    sampler = VirtualMLESampler(model=llm.register(), search_space=SPACE)
    study = grown_study(sampler, 500)

    by_llm = sampler.consolidate(study)
    assert len(by_llm["principles"]) == 10 and len(by_llm["failure_modes"]) == 10
    assert by_llm["principles"][3] == {"text": "lesson 3", "trials": [3]}  # unknown trials dropped
    # The consolidation prompt is bounded too: the newest notes, not all 500.
    assert llm.calls[-1].messages[-1]["content"].count("\n#") <= 40

    ranked = sampler.consolidate(study, use_llm=False)
    assert ranked["method"] == "ranking"
    assert len(ranked["principles"]) == 10 and len(ranked["failure_modes"]) == 10
    assert all(len(item["trials"]) <= 20 for item in ranked["principles"])
    record = StudyMemory(study).insights()
    assert record.version == 500 and record.insights == ranked


def measure_prompt_tokens(n_trials: int) -> int:
    """Prompt tokens of the proposal for trial ``n_trials`` + 1, with insights from all notes."""
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        search_space=SPACE,
        learning=LearningOptions(reflect=False, background=False),
    )
    study = grown_study(sampler, n_trials)
    sampler.consolidate(study, use_llm=False)
    study.optimize(objective, n_trials=1)
    assert INSIGHTS_SECTION_TITLE in proposal_prompts(llm)[0]
    return study.trials[-1].user_attrs["vmle:llm"]["prompt_tokens"]


def test_prompt_size_is_flat_from_10_to_1000_trials(capsys) -> None:
    tokens = {n: measure_prompt_tokens(n) for n in (10, 100, 1000)}
    with capsys.disabled():
        print(f"\nproposal prompt tokens by number of trials: {tokens}")
    # The history and the insights are bounded (at most 20 lessons, 5 trial numbers each); what
    # still grows is the digits of trial numbers.
    assert tokens[1000] <= 1.2 * tokens[100]
    assert max(tokens.values()) < 1000


def test_a_trial_never_has_two_notes() -> None:
    memory = StudyMemory(optuna.create_study())
    memory.add_note(3, {"trial": 3, "state": "COMPLETE"})
    memory.add_note(3, {"trial": 3, "state": "FAIL"})  # e.g. another worker catching up
    assert memory.notes() == [{"trial": 3, "state": "FAIL"}]
    assert memory.noted_trials() == {3}


def test_insights_consolidating_fewer_notes_than_the_stored_ones_are_refused() -> None:
    memory = StudyMemory(optuna.create_study())
    assert memory.insights() is None
    assert memory.replace_insights({"from": "worker A"}, n_notes=20)
    assert not memory.replace_insights({"from": "slow worker B"}, n_notes=10)
    assert memory.insights().version == 20
    assert memory.insights().insights == {"from": "worker A"}
    # The same notes consolidated again (another worker at the same moment) may replace them;
    # more notes always do.
    assert memory.replace_insights({"from": "worker C"}, n_notes=20)
    assert memory.insights().insights == {"from": "worker C"}
    assert memory.replace_insights({"from": "worker B"}, n_notes=30)
    assert memory.insights().version == 30


def _worker(storage: str | dict, study_name: str, n_trials: int, seed: int) -> None:
    # Replay without transcripts: no LLM (nor litellm import) in the children, so the test is
    # fast; proposals come from the fallback and every trial still gets its facts-only note.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = VirtualMLESampler(
        model="unregistered/none",
        search_space=SPACE,
        seed=seed,
        store=StoreOptions(replay=True),
        learning=LearningOptions(insight_interval=4),
    )
    study = optuna.load_study(study_name=study_name, storage=_storage(storage), sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    assert sampler.wait_for_learning(timeout=120)


def _storage(storage: str | dict) -> str | optuna.storages.BaseStorage:
    if isinstance(storage, dict):  # a journal file: the storage object cannot be pickled
        backend = optuna.storages.journal.JournalFileBackend(storage["journal"])
        return optuna.storages.JournalStorage(backend)
    return storage


def run_two_workers(storage: str | dict, n_trials: int = 10) -> optuna.Study:
    study = optuna.create_study(
        storage=_storage(storage), study_name=f"shared-{uuid.uuid4().hex[:8]}"
    )
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(storage, study.study_name, n_trials, seed))
        for seed in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    return optuna.load_study(study_name=study.study_name, storage=_storage(storage))


@pytest.fixture
def fast_dir(tmp_path):
    """A folder in RAM when the system has one: sqlite commits there do not wait for the disk."""
    shm = pathlib.Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = pathlib.Path(tempfile.mkdtemp(dir=shm, prefix="vmle-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _server(kind: str):
    variable = SERVER_URL_ENVS[kind]
    reason = f"set ${variable} to run against {kind}"
    return pytest.param(kind, marks=pytest.mark.skipif(not os.environ.get(variable), reason=reason))


@pytest.fixture(params=["sqlite", _server("postgresql"), _server("mysql")])
def shared_database_url(request, fast_dir) -> str:
    """One database for several worker processes: a sqlite file, or a server when its variable
    names one (``.ci/run`` starts both), e.g. ``$VMLE_TEST_POSTGRES_URL`` =
    ``postgresql+psycopg2://postgres@127.0.0.1:5432/vmle``, ``$VMLE_TEST_MYSQL_URL`` =
    ``mysql+pymysql://vmle:vmle@127.0.0.1:3306/vmle``."""
    if request.param == "sqlite":
        return f"sqlite:///{fast_dir / 'shared.db'}"
    return os.environ[SERVER_URL_ENVS[request.param]]


def test_two_worker_processes_on_one_database_lose_and_duplicate_no_note(
    shared_database_url,
) -> None:
    study = run_two_workers(shared_database_url)
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(20))
    notes = StudyMemory(study).notes()
    assert [note["trial"] for note in notes] == numbers  # one each, in trial order
    assert all(note["outcome"] for note in notes)
    assert StudyMemory(study).insights().version >= 4


def test_memory_is_shared_through_a_journal_file_by_processes_and_samplers(fast_dir) -> None:
    storage = {"journal": str(fast_dir / "journal.log")}
    study = run_two_workers(storage)
    assert sorted(t.number for t in study.trials) == list(range(20))

    # A third sampler, in this process, sees what the two workers learned.
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(), search_space=SPACE, learning=LearningOptions(background=False)
    )
    study = optuna.load_study(
        study_name=study.study_name, storage=_storage(storage), sampler=sampler
    )
    assert sorted(sampler.learner.notes(study)) == list(range(20))
    record = StudyMemory(study).insights()
    assert record.version >= 4
    study.optimize(objective, n_trials=1)
    assert INSIGHTS_SECTION_TITLE in proposal_prompts(llm)[0]
    assert study.trials[-1].user_attrs["vmle:memory_ids"] == [record.memory_id]


def test_a_database_of_another_schema_version_is_refused_clearly(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    SummaryStore(url)
    with sqlalchemy.create_engine(url).begin() as connection:
        connection.execute(sqlalchemy.text("update vmle_schema_version set version = 1"))
    _db._engines.pop(url).dispose()  # a new process would open it afresh
    with pytest.raises(SchemaVersionError, match="schema version 1, this optuna-vmle expects 2"):
        SummaryStore(url)

    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=url),
        search_space=SPACE,
        learning=LearningOptions(background=False),
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=1)  # the study goes on with the fallback sampler
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert trial.user_attrs["vmle:source"] == "fallback"
    assert trial.user_attrs["vmle:fallback_kind"] == "database"
    assert "schema version 1" in trial.user_attrs["vmle:fallback_reason"]
    assert llm.calls == []


def isolated_study(
    provider: str, memory_url: str, reuse: str, ideas: int
) -> tuple[ScriptedLLM, optuna.Study]:
    """Three trials with the same model, task, space and seed as every other such study; only
    the scripted LLM's ideas (its random seed ``ideas``) differ."""
    llm = ScriptedLLM([], default=by_purpose(proposal=random_valid_reply(ideas)))
    sampler = VirtualMLESampler(
        model=llm.register(provider),
        task="minimise lr * layers",
        search_space=SPACE,
        seed=0,
        llm_bonus=None,
        store=StoreOptions(url=memory_url, reuse=reuse),
        learning=LearningOptions(reflect=False, background=False),
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    return llm, study


def test_a_study_is_not_served_another_studys_replies_unless_reuse_is_any(memory_url) -> None:
    provider = f"isolated{uuid.uuid4().hex[:8]}"
    _, first = isolated_study(provider, memory_url, reuse="study", ideas=1)
    second_llm, second = isolated_study(provider, memory_url, reuse="study", ideas=2)
    # The first request of both studies is the same, yet the second study asks its own LLM.
    assert len(proposal_prompts(second_llm)) == 3
    assert [t.user_attrs["vmle:llm"]["from_store"] for t in second.trials] == [False] * 3
    assert second.trials[0].params != first.trials[0].params

    third_llm, third = isolated_study(provider, memory_url, reuse="any", ideas=3)
    assert proposal_prompts(third_llm) == []
    assert [t.user_attrs["vmle:llm"]["from_store"] for t in third.trials] == [True] * 3
    assert [t.params for t in third.trials] == [t.params for t in first.trials]
