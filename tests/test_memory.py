"""Memory: notes are kept once per trial even with several workers, insights stay bounded and
replace each other, the proposal prompt stays flat as the study grows, and an incompatible
database is refused with a clear error."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import shutil
import tempfile
import uuid

import optuna
import pytest
import sqlalchemy
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import create_trial
from optuna.trial import TrialState
from scripted_memory import by_purpose

from optuna_vmle import _db
from optuna_vmle import SchemaVersionError
from optuna_vmle import VirtualMLESampler
from optuna_vmle._memory import MemoryStore
from optuna_vmle._prompts import INSIGHTS_SECTION_TITLE
from optuna_vmle.testing import ScriptedLLM


SPACE = {"lr": FloatDistribution(1e-5, 1e-1, log=True), "layers": IntDistribution(1, 8)}
# One in-process database shared by the tests that write thousands of rows (file commits are
# slow); every study has its own name, so they do not see each other's notes.
IN_MEMORY = "sqlite://"
POSTGRES_URL_ENV = "VMLE_TEST_POSTGRES_URL"
WORDS = [
    "wider", "deeper", "dropout", "warmup", "decay", "batch", "momentum",
    "clip", "schedule", "heads", "tied", "norm", "gelu",
]  # fmt: skip


def objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("lr", 1e-5, 1e-1, log=True) * trial.suggest_int("layers", 1, 8)


def proposal_prompts(llm: ScriptedLLM) -> list[str]:
    return [
        call.messages[-1]["content"]
        for call in llm.calls
        if "params" in (call.json_schema or {}).get("properties", {})
    ]


def grown_study(sampler: VirtualMLESampler, memory_url: str, n_trials: int) -> optuna.Study:
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
    memory = MemoryStore(memory_url)
    for note in notes:
        memory.add_note(study.study_name, note["trial"], note)
    return study


def test_insights_every_interval_replace_the_previous_and_reach_the_prompt(memory_url) -> None:
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(), memory_url=memory_url, search_space=SPACE, seed=0,
        insight_interval=3,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8)
    record = MemoryStore(memory_url).insights(study.study_name)
    assert record.version == 2  # consolidated after notes 3 and 6, replacing, not appending
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
    assert ids[3] == ["insights:v1"] and ids[7] == ["insights:v2"]


def test_insights_stay_bounded_at_500_trials() -> None:
    memory_url = IN_MEMORY
    def too_many(messages, schema) -> str:
        items = [{"text": f"lesson {i}", "trials": [i, 10_000, "7"]} for i in range(30)]
        return json.dumps({"principles": items, "failure_modes": items})

    llm = ScriptedLLM([], default=by_purpose(insights=too_many))
    sampler = VirtualMLESampler(model=llm.register(), memory_url=memory_url, search_space=SPACE)
    study = grown_study(sampler, memory_url, 500)

    by_llm = sampler.consolidate(study)
    assert len(by_llm["principles"]) == 10 and len(by_llm["failure_modes"]) == 10
    assert by_llm["principles"][3] == {"text": "lesson 3", "trials": [3]}  # unknown trials dropped
    # The consolidation prompt is bounded too: the newest notes, not all 500.
    assert llm.calls[-1].messages[-1]["content"].count("\n#") <= 40

    ranked = sampler.consolidate(study, use_llm=False)
    assert ranked["method"] == "ranking"
    assert len(ranked["principles"]) == 10 and len(ranked["failure_modes"]) == 10
    assert all(len(item["trials"]) <= 20 for item in ranked["principles"])
    record = MemoryStore(memory_url).insights(study.study_name)
    assert record.version == 2 and record.n_notes == 500


def measure_prompt_tokens(n_trials: int, memory_url: str = IN_MEMORY) -> int:
    """Prompt tokens of the proposal for trial ``n_trials`` + 1, with insights from all notes."""
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(), memory_url=memory_url, search_space=SPACE, reflect=False
    )
    study = grown_study(sampler, memory_url, n_trials)
    sampler.consolidate(study, use_llm=False)
    study.optimize(objective, n_trials=1)
    assert INSIGHTS_SECTION_TITLE in proposal_prompts(llm)[0]
    return study.trials[-1].user_attrs["vmle:prompt_tokens"]


def test_prompt_size_is_flat_from_10_to_1000_trials(capsys) -> None:
    tokens = {n: measure_prompt_tokens(n) for n in (10, 100, 1000)}
    with capsys.disabled():
        print(f"\nproposal prompt tokens by number of trials: {tokens}")
    # The history and the insights are bounded (at most 20 lessons, 5 trial numbers each); what
    # still grows is the digits of trial numbers.
    assert tokens[1000] <= 1.2 * tokens[100]
    assert max(tokens.values()) < 1000


def test_a_note_is_written_once_per_trial() -> None:
    memory = MemoryStore(IN_MEMORY)
    assert memory.add_note("once", 3, {"trial": 3, "state": "COMPLETE"})
    assert not memory.add_note("once", 3, {"trial": 3, "state": "FAIL"})
    assert memory.notes("once") == [{"trial": 3, "state": "COMPLETE"}]


def test_a_stale_insights_replacement_is_refused(memory_url) -> None:
    memory = MemoryStore(memory_url)
    assert memory.replace_insights("s", {"principles": []}, n_notes=1, seen_version=None)
    assert not memory.replace_insights("s", {"principles": []}, n_notes=1, seen_version=None)
    seen = memory.insights("s").version
    assert memory.replace_insights("s", {"from": "worker A"}, n_notes=2, seen_version=seen)
    assert not memory.replace_insights("s", {"from": "worker B"}, n_notes=2, seen_version=seen)
    assert memory.insights("s").insights == {"from": "worker A"}


def _worker(storage_url: str, study_name: str, n_trials: int, seed: int) -> None:
    # Replay without transcripts: no LLM (nor litellm import) in the children, so the test is
    # fast; proposals come from the fallback and every trial still gets its facts-only note.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = VirtualMLESampler(
        model="unregistered/none", memory_url=storage_url, search_space=SPACE, seed=seed,
        replay=True, insight_interval=4,
    )
    study = optuna.load_study(study_name=study_name, storage=storage_url, sampler=sampler)
    study.optimize(objective, n_trials=n_trials)


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


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database_url(request, fast_dir) -> str:
    """One database for several worker processes: a sqlite file, or PostgreSQL when
    ``$VMLE_TEST_POSTGRES_URL`` names one, e.g.
    ``postgresql+psycopg2://postgres@127.0.0.1:5432/vmle``."""
    if request.param == "sqlite":
        return f"sqlite:///{fast_dir / 'shared.db'}"
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"set ${POSTGRES_URL_ENV} to run against PostgreSQL")
    return url


def test_two_worker_processes_on_one_database_lose_and_duplicate_no_note(
    shared_database_url,
) -> None:
    url = shared_database_url
    study = optuna.create_study(storage=url, study_name=f"shared-{uuid.uuid4().hex[:8]}")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(url, study.study_name, 10, seed)) for seed in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(20))
    memory = MemoryStore(url)
    assert sorted(n["trial"] for n in memory.notes(study.study_name)) == numbers
    assert memory.insights(study.study_name).version >= 1  # one row, replaced in place
    assert all("vmle:reflection" in t.user_attrs for t in study.trials)


def test_a_database_of_another_schema_version_is_refused_clearly(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    MemoryStore(url)
    with sqlalchemy.create_engine(url).begin() as connection:
        connection.execute(sqlalchemy.text("update vmle_schema_version set version = 1"))
    _db._engines.pop(url).dispose()  # a new process would open it afresh
    with pytest.raises(SchemaVersionError, match="schema version 1, this optuna-vmle expects 2"):
        MemoryStore(url)

    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(model=llm.register(), memory_url=url, search_space=SPACE)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=1)  # the study goes on with the fallback sampler
    trial = study.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert "schema version 1" in trial.user_attrs["vmle:fallback_reason"]
