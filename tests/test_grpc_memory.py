"""Memory through Optuna's gRPC storage proxy: notes and insights written by one client's
sampler are what another client's sampler sees."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import optuna
from optuna.distributions import FloatDistribution
import pytest
from scripted_memory import by_purpose

from optuna_vmle import LearningOptions
from optuna_vmle import StoreOptions
from optuna_vmle import VirtualMLESampler
from optuna_vmle._memory import StudyMemory
from optuna_vmle.testing import ScriptedLLM


pytest.importorskip("grpc")
SPACE = {"lr": FloatDistribution(1e-5, 1e-1, log=True)}
SERVER = """
import sys, optuna
from optuna.storages import run_grpc_proxy_server
storage = optuna.storages.get_storage(sys.argv[1])
run_grpc_proxy_server(storage, host="127.0.0.1", port=int(sys.argv[2]))
"""


@pytest.fixture
def proxy(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, f"sqlite:///{tmp_path / 'behind-proxy.db'}", str(port)]
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                storage = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
                storage.get_all_studies()
                break
            except Exception:  # the server is still starting
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        server.kill()
        server.wait()


def test_notes_and_insights_are_shared_through_the_grpc_proxy(proxy, tmp_path) -> None:
    def client_study() -> tuple[VirtualMLESampler, optuna.Study]:
        llm = ScriptedLLM([], default=by_purpose())
        sampler = VirtualMLESampler(
            model=llm.register(),
            search_space=SPACE,
            seed=0,
            store=StoreOptions(url=f"sqlite:///{tmp_path / 'tables.db'}"),
            learning=LearningOptions(insight_interval=4),
        )
        storage = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=proxy)
        study = optuna.create_study(
            study_name="through-grpc", storage=storage, sampler=sampler, load_if_exists=True
        )
        return sampler, study

    first_sampler, first = client_study()
    first.optimize(lambda t: t.suggest_float("lr", 1e-5, 1e-1, log=True), n_trials=4)
    assert first_sampler.wait_for_learning(timeout=60)
    second_sampler, second = client_study()  # another client of the same proxy
    assert sorted(second_sampler.learner.notes(second)) == [0, 1, 2, 3]
    assert StudyMemory(second).insights().version == 4
