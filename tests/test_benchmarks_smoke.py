"""The benchmark harness keeps working: a dry comparison, its metrics, and the lookup objective."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
import sys

import optuna
import pytest


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _problems import MissingTableEntry  # noqa: E402
from _problems import TabularProblem  # noqa: E402
import compare  # noqa: E402


def _vmle_available() -> bool:
    if importlib.util.find_spec("optuna_vmle") is None:
        return False
    import optuna_vmle

    return hasattr(optuna_vmle, "VirtualMLESampler")


def test_dry_comparison_writes_runs_report_plots_and_summary(tmp_path, capsys):
    samplers = ["tpe", "random"] + (["vmle"] if _vmle_available() else [])
    argv = [
        "--dry",
        "--no-progress",
        "--out",
        str(tmp_path),
        "--problems",
        "hpo-mixed",
        "--samplers",
        *samplers,
        "--model",
        "scripted",
    ]

    compare.main(argv)

    summary_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("SUMMARY ")
    )
    summary = json.loads(summary_line.removeprefix("SUMMARY "))
    assert summary["ran"] == 2 * len(samplers)
    assert set(summary["problems"]["hpo-mixed"]["samplers"]) == set(samplers)
    assert len(list((tmp_path / "runs" / "hpo-mixed").glob("*.json"))) == 2 * len(samplers)
    assert "| tpe |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "plots" / "hpo-mixed_curves.png").stat().st_size > 0
    assert (tmp_path / "plots" / "hpo-mixed_trials_to_target.png").stat().st_size > 0
    if "vmle" in samplers:
        assert summary["problems"]["hpo-mixed"]["samplers"]["vmle"]["llm_calls"][1] > 0

    compare.main(argv)  # a rerun finds every run in the cache

    rerun = json.loads(capsys.readouterr().out.split("SUMMARY ", 1)[1])
    assert (rerun["ran"], rerun["cached"]) == (0, 2 * len(samplers))


def test_best_so_far_skips_failed_trials_and_follows_direction():
    assert compare.best_so_far([None, 3.0, 5.0, 1.0], "minimize") == [None, 3.0, 3.0, 1.0]
    assert compare.best_so_far([2.0, None, 5.0, 1.0], "maximize") == [2.0, 2.0, 5.0, 5.0]


def test_trials_to_target_is_the_first_trial_reaching_it():
    assert compare.trials_to_target([5.0, 3.0, 1.0], 3.0, "minimize") == 2
    assert compare.trials_to_target([0.1, 0.2, 0.4], 0.3, "maximize") == 3
    assert compare.trials_to_target([5.0, 4.0], 3.0, "minimize") is None
    assert compare.trials_to_target([5.0], None, "minimize") is None


def test_regret_auc_is_mean_normalised_regret_clipped_to_unit_interval():
    # optimum 0, reference 10: regrets 1 (no result yet), 1 (clipped from 2), 0.5, 0.
    assert compare.regret_auc([None, 20.0, 5.0, 0.0], 0.0, 10.0) == pytest.approx(0.625)
    # Maximisation normalises the same way: optimum 1, reference 0.5.
    assert compare.regret_auc([0.5, 0.75, 1.0], 1.0, 0.5) == pytest.approx(0.5)
    assert compare.regret_auc([1.0], None, 0.5) is None


def _write_table(path: Path) -> None:
    rows = [
        {
            "params": {"lr": lr, "hidden": hidden, "dropout": dropout},
            "metrics": {"valid_ndcg10": 0.01 * i, "test_ndcg10": 0.02 * i},
        }
        for i, (lr, hidden, dropout) in enumerate(
            (lr, hidden, dropout)
            for lr in (1e-4, 1e-3)
            for hidden in (32, 64)
            for dropout in (0.2, 0.5)
        )
        if i != 7  # a partial table: the last configuration is missing
    ]
    table = {
        "metadata": {"metric": "valid_ndcg10", "complete": False},
        "space": {"lr": [1e-4, 1e-3], "hidden": [32, 64], "dropout": [0.2, 0.5]},
        "rows": rows,
    }
    path.write_text(json.dumps(table))


def test_lookup_objective_proposes_only_table_configs_and_returns_table_values(tmp_path):
    _write_table(tmp_path / "toy.json")
    problem = TabularProblem.from_file(tmp_path / "toy.json")
    table = {
        (r["params"]["lr"], r["params"]["hidden"], r["params"]["dropout"]): r["metrics"]
        for r in json.loads((tmp_path / "toy.json").read_text())["rows"]
    }
    study = optuna.create_study(
        direction=problem.direction, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    study.optimize(problem.objective, n_trials=40, catch=(MissingTableEntry,))

    for trial in study.trials:
        p = trial.params
        key = (p["lr"], p["hidden"], pytest.approx(p["dropout"]))
        assert p["lr"] in (1e-4, 1e-3) and p["hidden"] in (32, 64)
        assert p["dropout"] == pytest.approx(0.2) or p["dropout"] == pytest.approx(0.5)
        matches = [m for k, m in table.items() if k == key]
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.value == matches[0]["valid_ndcg10"]
            assert trial.user_attrs["table:test_ndcg10"] == matches[0]["test_ndcg10"]
        else:  # only the missing configuration fails
            assert not matches
    assert problem.optimum == pytest.approx(0.06)


def test_budget_report_flags_a_clear_loss_and_finds_when_tpe_best_is_reached():
    import budgets

    tpe = [[1.0, 2.0, 3.0, 4.0]] * 6
    curves = {"tpe": tpe, "worse": [[0.5, 1.0, 1.0, 1.0]] * 6, "same": tpe}
    report = budgets.compare_budgets(curves, "maximize", [2, 4], alpha=0.05)
    assert [row["loss"] for row in report["worse"]] == [True, True]
    assert [row["loss"] for row in report["same"]] == [False, False]
    assert "p_worse" not in report["tpe"][0]

    reached = budgets.trials_to_tpe_best(
        {"tpe": tpe, "fast": [[3.0, 3.0, 3.0, 3.0]] * 2, "never": [[1.0] * 4] * 2},
        "maximize",
        target_budget=3,
    )
    assert reached["target"] == 3.0
    assert reached["samplers"]["fast"]["trials"] == [1, 1]
    assert reached["samplers"]["tpe"]["median"] == 3
    assert reached["samplers"]["never"]["reached"] == 0


def test_simulated_llms_are_graded_by_quality_and_the_expert_opens_with_its_default():
    from _problems import get_problem
    from _simulated_llms import SimulatedLLM

    problem = get_problem("hpo-mixed")

    def mean_value(quality: str) -> float:
        llm = SimulatedLLM(problem, quality, seed=0)
        return sum(problem.evaluate(llm.propose()).value for _ in range(20)) / 20

    means = [mean_value(q) for q in ("misleading", "random", "mediocre", "good", "expert")]
    assert means == sorted(means, reverse=True)  # minimised: better qualities score lower
    expert = SimulatedLLM(problem, "expert", seed=3)
    first = expert.first_proposal()
    default = problem.evaluate(first).value
    pool_values = sorted(v for _, v in expert._pool)
    assert default <= pool_values[len(pool_values) // 50]  # in the best 2% of configurations
    # tpe-llmfirst runs the first proposal a fresh LLM of the same seed makes.
    assert SimulatedLLM(problem, "expert", seed=3).first_proposal() == first


def test_a_simulated_llm_answers_other_requests_with_schema_valid_replies():
    from _problems import get_problem
    from _simulated_llms import SimulatedLLM

    llm = SimulatedLLM(get_problem("hpo-mixed"), "good", seed=0)
    schema = {"type": "object", "properties": {"verdict": {"enum": ["keep", "drop"]}}}
    assert json.loads(llm.reply([], schema))["verdict"] in ("keep", "drop")
    proposal_schema = {
        "type": "object",
        "properties": {"params": {"type": "object", "properties": {"lr": {}, "optimizer": {}}}},
    }
    assert set(json.loads(llm.reply([], proposal_schema))["params"]) == {"lr", "optimizer"}


def test_bayesmark_tasks_use_bayesmarks_spaces_and_a_deterministic_cv_loss():
    pytest.importorskip("sklearn")
    from _problems import get_problem

    problem = get_problem("bm-svm-wine-nll")
    space = problem.search_space
    assert (space["C"].low, space["C"].high, space["C"].log) == (1.0, 1e3, True)
    assert (space["gamma"].low, space["gamma"].high) == (1e-4, 1e-3)
    params = {"C": 10.0, "gamma": 5e-4, "tol": 1e-3}
    loss = problem.evaluate(params).value
    assert 0.0 < loss < 2.0 and problem.evaluate(dict(params)).value == loss
    assert problem.direction == "minimize" and problem.optimum is None


def test_trust_report_runs_every_sampler_and_reports_the_targets(tmp_path, capsys):
    import trust_report

    summary = trust_report.main(
        [
            "--problems",
            "hpo-mixed",
            "--qualities",
            "expert",
            "--seeds",
            "2",
            "--trials",
            "10",
            "--parts",
            "llm",
            "--out",
            str(tmp_path),
        ]
    )
    assert set(summary["by_quality"]) == {"expert"}
    assert set(summary["targets_met"]) == {"1", "2", "3"}
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    expert = report["problems"]["hpo-mixed"]["qualities"]["expert"]["samplers"]
    assert set(expert) == {"tpe", "vmle-guard", "vmle-fulltrust", "tpe-llmfirst"}
    assert expert["vmle-fulltrust"]["llm_share"] == 1.0
    assert 0.0 < expert["vmle-guard"]["llm_share"] <= 1.0
    assert (tmp_path / "report" / "plots" / "hpo-mixed.png").stat().st_size > 0
    assert "SUMMARY " in capsys.readouterr().out
