"""Transfer: a finished study is distilled into a cognition summary that travels as a JSON file
and reaches the prompt (and the first trials) of a new study on a similar task only."""

from __future__ import annotations

import json

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
import pytest
from scripted_memory import by_purpose

from optuna_vmle import descriptor_similarity
from optuna_vmle import export_summaries
from optuna_vmle import import_summaries
from optuna_vmle import LearningOptions
from optuna_vmle import record_errors
from optuna_vmle import StoreOptions
from optuna_vmle import TransferOptions
from optuna_vmle import VirtualMLESampler
from optuna_vmle._evidence import summarize_evidence
from optuna_vmle._memory import StudyMemory
from optuna_vmle._memory import SummaryStore
from optuna_vmle._prompts import TRANSFER_SECTION_TITLE
from optuna_vmle._summary_files import read_summaries_file
from optuna_vmle._summary_files import SummaryFormatError
from optuna_vmle.cli import main as cli
from optuna_vmle.testing import ScriptedLLM


SASREC_BEAUTY = {"model": "sasrec", "metric": "recall@10", "n_users": 22363, "mean_seq_len": 8.9}
SASREC_BABY = {"model": "sasrec", "metric": "recall@10", "n_users": 19445, "mean_seq_len": 8.3}
HSTU_BABY = {**SASREC_BABY, "model": "hstu"}

OLD_SPACE = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "blocks": IntDistribution(1, 4),
    "optimizer": CategoricalDistribution(["adam", "adamw"]),
}
# The new study searches a narrower lr range, more blocks, and has no optimizer choice.
NEW_SPACE = {"lr": FloatDistribution(1e-4, 1e-2, log=True), "blocks": IntDistribution(1, 6)}
NO_REFLECTION = LearningOptions(reflect=False)


def old_objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    blocks = trial.suggest_int("blocks", 1, 4)
    trial.suggest_categorical("optimizer", ["adam", "adamw"])
    if lr > 0.03:
        raise RuntimeError("loss became NaN")
    return abs(lr - 1e-3) * 100 + blocks / 10


def new_objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("lr", 1e-4, 1e-2, log=True) + trial.suggest_int("blocks", 1, 6)


def finished_study(memory_url: str) -> tuple[VirtualMLESampler, optuna.Study]:
    configs = [
        (1e-3, 2, "adam"),
        (2e-3, 2, "adamw"),
        (5e-2, 3, "adam"),
        (1e-4, 4, "adam"),
        (8e-4, 1, "adamw"),
    ]
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=OLD_SPACE,
        transfer=TransferOptions(descriptors=SASREC_BEAUTY),
        learning=NO_REFLECTION,
    )
    study = optuna.create_study(sampler=sampler, study_name="sasrec-beauty")
    for lr, blocks, optimizer in configs:
        study.enqueue_trial({"lr": lr, "blocks": blocks, "optimizer": optimizer})
    study.optimize(record_errors(old_objective), n_trials=len(configs), catch=(RuntimeError,))
    return sampler, study


def new_study(memory_url: str, descriptors: dict, warm_start: int = 0):
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=memory_url),
        search_space=NEW_SPACE,
        seed=0,
        transfer=TransferOptions(descriptors=descriptors, warm_start=warm_start),
        learning=NO_REFLECTION,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(new_objective, n_trials=3)
    prompt = next(
        call.messages[-1]["content"]
        for call in llm.calls
        if "params" in (call.json_schema or {}).get("properties", {})
    )
    return study, prompt


def test_distill_computes_the_evidence_in_code(memory_url) -> None:
    sampler, study = finished_study(memory_url)
    summary = sampler.distill(study)
    assert summary["rules"] == ["widen the blocks before raising lr"]
    assert summary["descriptors"] == SASREC_BEAUTY
    assert [c["trial"] for c in summary["top_configs"]] == [4, 0, 1, 3]
    assert summary["top_configs"][0] == {
        "trial": 4,
        "params": {"lr": 8e-4, "blocks": 1, "optimizer": "adamw"},
        "value": pytest.approx(0.12),
    }
    # The top 20% of 4 complete trials is the best one.
    assert summary["param_ranges"]["lr"] == {"low": 8e-4, "high": 8e-4}
    assert summary["param_ranges"]["optimizer"] == {"values": ["adamw"]}
    assert summary["failure_regions"] == [
        {
            "trial": 2,
            "params": {"lr": 5e-2, "blocks": 3, "optimizer": "adam"},
            "error": "RuntimeError: loss became NaN",
        }
    ]
    assert SummaryStore(memory_url).all([summary["id"]]) == [summary]


def test_distill_without_llm_uses_the_study_insights(memory_url) -> None:
    sampler, study = finished_study(memory_url)
    StudyMemory(study).add_note(
        0,
        {
            "trial": 0,
            "state": "COMPLETE",
            "value": 0.2,
            "outcome": "value",
            "rule": "keep lr near 1e-3",
        },
    )
    summary = sampler.distill(study, use_llm=False, descriptors={"dataset": "beauty"})
    assert summary["rules"] == ["keep lr near 1e-3"]
    assert summary["descriptors"] == {**SASREC_BEAUTY, "dataset": "beauty"}
    assert StudyMemory(study).insights().version == 1  # distilling consolidated the notes


def test_exported_summary_reaches_a_similar_study_on_another_machine(tmp_path) -> None:
    team_a = f"sqlite:///{tmp_path / 'a.db'}"
    team_b = f"sqlite:///{tmp_path / 'b.db'}"
    sampler, study = finished_study(team_a)
    summary = sampler.distill(study)
    path = tmp_path / "summaries.json"
    assert export_summaries(team_a, path) == 1
    assert import_summaries(team_b, path) == 1
    assert import_summaries(team_b, path) == 0  # importing again adds nothing

    similar, prompt = new_study(team_b, SASREC_BABY, warm_start=2)
    assert TRANSFER_SECTION_TITLE in prompt
    assert "rule: widen the blocks before raising lr" in prompt and "study sasrec-beauty" in prompt
    assert 'lr=0.05, optimizer="adam": RuntimeError: loss became NaN' in prompt
    ids = similar.trials[2].user_attrs["vmle:memory_ids"]  # the first LLM-proposed trial
    assert ids == [f"summary:{summary['id']}"]
    # Warm start: the best transferred configurations, mapped into the new space, run next.
    warm = [t for t in similar.trials if "vmle:transferred_from" in t.user_attrs]
    assert [t.params for t in warm] == [{"lr": 8e-4, "blocks": 1}, {"lr": 1e-3, "blocks": 2}]
    assert [t.number for t in warm] == [0, 1]  # the transferred configurations come first
    assert all(t.user_attrs["vmle:source"] == "enqueued" for t in warm)
    assert all(t.user_attrs["vmle:transferred_from"] == summary["id"] for t in warm)
    assert "vmle:transferred_from" not in similar.trials[2].user_attrs

    unrelated, prompt = new_study(team_b, HSTU_BABY, warm_start=2)
    assert TRANSFER_SECTION_TITLE not in prompt
    assert not any("vmle:transferred_from" in t.user_attrs for t in unrelated.trials)
    assert "vmle:memory_ids" not in unrelated.trials[0].user_attrs


def test_descriptor_similarity() -> None:
    assert descriptor_similarity(SASREC_BABY, SASREC_BABY) == 1.0
    assert descriptor_similarity(HSTU_BABY, SASREC_BABY) == 0.0  # model family must match
    assert descriptor_similarity({"model": "sasrec"}, {"n_users": 10.0}) == 0.0
    # Numbers compare in log space: 10x the users is as far as a tenth.
    assert descriptor_similarity({"n_users": 1000}, {"n_users": 10_000}) == pytest.approx(0.1)
    assert descriptor_similarity({"n_users": 1000}, {"n_users": 100}) == pytest.approx(0.1)
    assert descriptor_similarity({"model": "SASRec"}, {"model": "sasrec", "n_users": 5.0}) == 1.0


def test_summary_files_are_versioned_and_validated(tmp_path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"format": "optuna-vmle-summaries", "version": 99, "summaries": []}))
    with pytest.raises(SummaryFormatError, match="format version 99"):
        read_summaries_file(path)
    hostile = {
        "id": "x" * 100,
        "rules": ["ok", {"exec": "rm -rf /"}, "y" * 1000],
        "descriptors": {"model": "sasrec", "bad": [1]},
        "top_configs": [{"params": {"lr": [1]}, "value": "nan"}],
    }
    document = {"format": "optuna-vmle-summaries", "version": 1, "summaries": [hostile]}
    path.write_text(json.dumps(document))
    (summary,) = read_summaries_file(path)
    assert len(summary["id"]) == 64
    assert summary["rules"] == ["ok", "y" * 240]
    assert summary["descriptors"] == {"model": "sasrec"}
    assert summary["top_configs"] == []


def test_command_line_distill_export_import_show(tmp_path, capsys) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    other = f"sqlite:///{tmp_path / 'other.db'}"
    study = optuna.create_study(storage=storage, study_name="cli-study")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    assert (
        cli(
            [
                "distill",
                "--storage",
                storage,
                "--study",
                "cli-study",
                "--descriptor",
                "model=sasrec",
                "--descriptor",
                "n_users=100",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["descriptors"] == {"model": "sasrec", "n_users": 100.0}
    assert summary["param_ranges"]["x"]["low"] == summary["top_configs"][0]["params"]["x"]
    path = str(tmp_path / "out.json")
    assert cli(["export", path, "--storage", storage]) == 0  # the study's database by default
    assert cli(["import", path, "--memory-url", other]) == 0
    capsys.readouterr()
    assert cli(["show", "--memory-url", other]) == 0
    assert f"summary {summary['id']} from study cli-study (model=sasrec, n_users=100.0)" in (
        capsys.readouterr().out
    )
    assert cli(["show", "--storage", storage, "--study", "cli-study"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("study 'cli-study': 5 trials (5 complete)\n")
    assert "insights (from 0 notes)" not in report and f"summary {summary['id']}" in report


def test_a_broken_memory_database_skips_the_warm_start_not_the_study(tmp_path) -> None:
    llm = ScriptedLLM([], default=by_purpose())
    sampler = VirtualMLESampler(
        model=llm.register(),
        store=StoreOptions(url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}"),
        search_space=NEW_SPACE,
        transfer=TransferOptions(descriptors=SASREC_BABY, warm_start=2),
        learning=NO_REFLECTION,
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(new_objective, n_trials=2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert not any("vmle:transferred_from" in t.user_attrs for t in study.trials)


def test_a_configuration_evaluated_twice_is_one_top_config() -> None:
    study = optuna.create_study(direction="maximize")
    for value, x in [(0.5, 1), (0.5, 1), (0.4, 2), (0.3, 3)]:
        study.enqueue_trial({"x": x})
        study.optimize(lambda t, v=value: v + 0 * t.suggest_int("x", 0, 5), n_trials=1)
    evidence = summarize_evidence(study)
    assert [c["params"]["x"] for c in evidence["top_configs"]] == [1, 2, 3]
