"""Many workers, one storage, random SIGKILLs: does every finished trial get exactly one note?

The driver starts ``--workers`` processes that run one study against one storage
(PostgreSQL/MySQL/sqlite URL, or ``journal:<path>`` for JournalStorage with a file backend) with
a scripted in-process LLM of realistic latency (``--latency``), some timeouts and malformed
replies. It kills a random worker with SIGKILL every ``--kill-every`` seconds (``--kills``
times; workers are almost always mid-trial) and restarts it, until the study has ``--trials``
complete trials. RDB workers run with heartbeats, so their killed trials are failed by
``fail_stale_trials`` on a live worker; JournalStorage has no heartbeat in Optuna, so there
the driver fails the killed workers' trials itself. A last learner pass (what any later worker
would do) picks up the notes of trials whose worker died after recording them.

Then it checks: finished trials without a note, duplicate notes, RUNNING trials left, insight
versions, and that the study reached its target. ``--sampler tpe`` runs the same workers with
TPE alone (no kills) for the throughput comparison; ``--compare`` runs both and prints the
ratio.

    python benchmarks/soak.py --storage postgresql+psycopg2://postgres@127.0.0.1:54329/vmle
    python benchmarks/soak.py --storage journal:/tmp/soak.log --compare

Prints a ``SUMMARY {json}`` line and writes the JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import time
from typing import Any
import uuid
import warnings

import optuna


HEARTBEAT_INTERVAL_S = 1
GRACE_PERIOD_S = 6


def make_storage(spec: str, *, heartbeat: bool) -> optuna.storages.BaseStorage:
    if spec.startswith("journal:"):
        return optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(spec.removeprefix("journal:"))
        )
    if heartbeat:
        return optuna.storages.RDBStorage(
            spec, heartbeat_interval=HEARTBEAT_INTERVAL_S, grace_period=GRACE_PERIOD_S
        )
    return optuna.storages.RDBStorage(spec)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    n = trial.suggest_int("n", 1, 8)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    sampled = time.time()
    trial.set_user_attr("soak:pid", os.getpid())
    trial.set_user_attr("soak:sampler_s", sampled - trial.datetime_start.timestamp())
    value = (x - 1.0) ** 2 + abs(n - 3) + {"a": 0.5, "b": 0.0, "c": 1.0}[kind]
    rng = random.Random(trial.number)
    for step in range(4):  # "training": time for a kill to land mid-trial
        time.sleep(rng.uniform(0.1, 0.4))
        trial.report(value + 1.0 / (step + 1), step)
    return value


def scripted_model(seed: int, latency: tuple[float, float], faults: float) -> str:
    """An in-process LLM with latency, timeouts and malformed replies, registered in litellm."""
    from optuna_vmle._providers import import_litellm
    from optuna_vmle.testing import random_valid_reply
    from optuna_vmle.testing import ScriptedLLM

    litellm = import_litellm()
    rng = random.Random(seed)
    valid = random_valid_reply(seed)

    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        time.sleep(rng.uniform(*latency))
        draw = rng.random()
        if draw < faults / 2:
            raise litellm.Timeout("scripted timeout", model="soak", llm_provider="soak")
        if draw < faults:
            return '{"params": {"x": '  # malformed
        return valid(messages, schema)

    return ScriptedLLM([], default=reply).register("soak")


def worker(args: argparse.Namespace) -> None:
    from optuna.distributions import CategoricalDistribution
    from optuna.distributions import FloatDistribution
    from optuna.distributions import IntDistribution

    from optuna_vmle import LearningOptions
    from optuna_vmle import LLMOptions
    from optuna_vmle import StoreOptions
    from optuna_vmle import VirtualMLESampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(args.storage, heartbeat=not args.storage.startswith("journal:"))
    seed = args.worker_seed
    if args.sampler == "tpe":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(seed=seed)
    else:
        space = {
            "x": FloatDistribution(-5.0, 5.0),
            "n": IntDistribution(1, 8),
            "kind": CategoricalDistribution(["a", "b", "c"]),
        }
        tables = None if args.storage.startswith("journal:") else args.storage
        sampler = VirtualMLESampler(
            model=scripted_model(seed, tuple(args.latency), args.faults),
            task="soak: minimise a synthetic loss",
            search_space=space,
            seed=seed,
            llm=LLMOptions(timeout=5.0),
            store=StoreOptions(url=tables, reuse="never"),
            learning=LearningOptions(
                insight_interval=10, timeout=5.0, orphan_grace_s=args.orphan_grace
            ),
        )
    study = optuna.load_study(study_name=args.study, storage=storage, sampler=sampler)
    stop = optuna.study.MaxTrialsCallback(args.trials, states=(optuna.trial.TrialState.COMPLETE,))
    study.optimize(objective, callbacks=[stop], catch=(Exception,))
    if args.sampler != "tpe":
        sampler.wait_for_learning()


def final_pass(args: argparse.Namespace) -> dict[str, Any]:
    """What any later worker's learner would do: note the orphans, consolidate."""
    from optuna_vmle import Learner
    from optuna_vmle import LearningOptions

    storage = make_storage(args.storage, heartbeat=False)
    study = optuna.load_study(study_name=args.study, storage=storage)
    learner = Learner(
        model=scripted_model(0, (0.0, 0.01), 0.0),
        task="soak: minimise a synthetic loss",
        options=LearningOptions(insight_interval=10, orphan_grace_s=0.0, background=False),
    )
    before = len(learner.notes(study))
    for _ in range(100):  # a pass picks up a few orphans at a time
        learner.learn(study)
        if len(learner.notes(study)) == sum(t.state.is_finished() for t in study.trials):
            break
    return {"notes_by_final_pass": len(learner.notes(study)) - before}


def check(args: argparse.Namespace) -> dict[str, Any]:
    from optuna_vmle._memory import INSIGHTS_PREFIX
    from optuna_vmle._memory import NOTE_PREFIX

    storage = make_storage(args.storage, heartbeat=False)
    study = optuna.load_study(study_name=args.study, storage=storage)
    trials = study.get_trials(deepcopy=False)
    attrs = storage.get_study_system_attrs(study._study_id)
    notes = {k: v for k, v in attrs.items() if k.startswith(NOTE_PREFIX)}
    noted = [int(v["trial"]) for v in notes.values()]
    finished = {t.number for t in trials if t.state.is_finished()}
    versions = sorted(
        int(k[len(INSIGHTS_PREFIX) :]) for k in attrs if k.startswith(INSIGHTS_PREFIX)
    )
    states = {s.name: sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    return {
        "trials": len(trials),
        "states": {k: v for k, v in states.items() if v},
        "finished_without_note": len(finished - set(noted)),
        "duplicate_notes": len(noted) - len(set(noted)),
        "notes_not_matching_their_key": sum(
            int(k[len(NOTE_PREFIX) :]) != int(v["trial"]) for k, v in notes.items()
        ),
        "insight_versions": versions,
        "insights_consistent": all(v <= len(notes) for v in versions)
        and versions == sorted(set(versions)),
        "reached_target": states["COMPLETE"] >= args.trials,
    }


def run(args: argparse.Namespace, sampler: str, kills: int) -> dict[str, Any]:
    study_name = f"soak-{sampler}-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=study_name, storage=make_storage(args.storage, heartbeat=False))
    base = [
        sys.executable,
        __file__,
        "--worker",
        "--storage",
        args.storage,
        "--study",
        study_name,
        "--trials",
        str(args.trials),
        "--sampler",
        sampler,
        "--faults",
        str(args.faults),
        "--orphan-grace",
        str(args.orphan_grace),
        "--latency",
        *map(str, args.latency),
    ]
    rng = random.Random(args.seed)
    next_seed = iter(range(10_000))

    def start() -> subprocess.Popen:
        return subprocess.Popen([*base, "--worker-seed", str(next(next_seed))])

    started = time.time()
    workers = [start() for _ in range(args.workers)]
    killed_pids: list[int] = []
    deadline = started + args.timeout
    next_kill = started + args.first_kill
    while any(w.poll() is None for w in workers) and time.time() < deadline:
        time.sleep(0.5)
        if len(killed_pids) < kills and time.time() >= next_kill:
            alive = [i for i, w in enumerate(workers) if w.poll() is None]
            # Kill a worker in the middle of a trial when one is (they mostly are).
            busy = _pids_running_a_trial(args.storage, study_name)
            alive = [i for i in alive if workers[i].pid in busy] or alive
            if alive:
                index = rng.choice(alive)
                os.kill(workers[index].pid, signal.SIGKILL)
                workers[index].wait()
                killed_pids.append(workers[index].pid)
                workers[index] = start()
            next_kill = time.time() + args.kill_every
    for w in workers:
        if w.poll() is None:
            w.kill()
    wall = time.time() - started
    storage = make_storage(args.storage, heartbeat=False)
    study = optuna.load_study(study_name=study_name, storage=storage)
    failed_by_driver = 0
    if args.storage.startswith("journal:"):
        # No heartbeat in JournalStorage: the driver knows whose trials died with them.
        # Every worker has exited, so a trial still RUNNING died with a killed worker.
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            failed_by_driver += 1
    else:
        # What the next worker's heartbeat check would do (fail_stale_trials needs a storage
        # with heartbeats on): trials whose worker died after the last restart.
        time.sleep(GRACE_PERIOD_S + 1)
        watched = optuna.load_study(
            study_name=study_name, storage=make_storage(args.storage, heartbeat=True)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(watched)
    args.study = study_name
    result: dict[str, Any] = {
        "sampler": sampler,
        "study": study_name,
        "kills": len(killed_pids),
        "wall_s": round(wall, 1),
        "failed_by_driver": failed_by_driver,
    }
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    result["complete_per_min"] = round(len(trials) / (wall / 60), 2)
    sampler_s = [
        float(t.user_attrs["soak:sampler_s"]) for t in trials if "soak:sampler_s" in t.user_attrs
    ]
    llm_s = [float((t.user_attrs.get("vmle:llm") or {}).get("latency_s", 0.0)) for t in trials]
    result["sampler_s_per_trial"] = round(sum(sampler_s) / max(len(sampler_s), 1), 3)
    result["sampler_s_per_trial_without_llm"] = round(
        (sum(sampler_s) - sum(llm_s)) / max(len(sampler_s), 1), 3
    )
    if sampler != "tpe":
        result.update(final_pass(args))
        result.update(check(args))
    return result


def _pids_running_a_trial(storage_spec: str, study_name: str) -> set[int]:
    study = optuna.load_study(
        study_name=study_name, storage=make_storage(storage_spec, heartbeat=False)
    )
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return {int(t.user_attrs["soak:pid"]) for t in running if "soak:pid" in t.user_attrs}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", required=True, help="RDB URL or journal:<path>")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument(
        "--first-kill", type=float, default=20.0, help="seconds before the first kill"
    )
    parser.add_argument("--kill-every", type=float, default=15.0)
    parser.add_argument("--latency", type=float, nargs=2, default=[0.2, 3.0])
    parser.add_argument("--faults", type=float, default=0.1, help="share of timeouts + malformed")
    parser.add_argument("--orphan-grace", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="also run TPE alone, no kills")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    # Internal: one worker process.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--study", help=argparse.SUPPRESS)
    parser.add_argument("--sampler", default="vmle", help=argparse.SUPPRESS)
    parser.add_argument("--worker-seed", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return {}
    summary: dict[str, Any] = {
        "storage": args.storage.split(":")[0],
        "workers": args.workers,
        "trials": args.trials,
    }
    summary["vmle"] = run(args, "vmle", args.kills)
    if args.compare:
        summary["tpe"] = run(args, "tpe", 0)
        ratio = summary["vmle"]["complete_per_min"] / max(summary["tpe"]["complete_per_min"], 1e-9)
        summary["throughput_ratio_vmle_over_tpe"] = round(ratio, 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print("SUMMARY " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
