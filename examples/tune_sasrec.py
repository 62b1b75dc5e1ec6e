"""Tune SASRec on a small synthetic dataset with the VirtualMLE sampler (or TPE).

Finishes in a few minutes on a laptop CPU:

    python examples/tune_sasrec.py --sampler tpe --trials 10
    python examples/tune_sasrec.py --sampler vmle --trials 10   # needs the embedded model (extra `local`)

Requires the ``rec`` extra (PyTorch). The sampler sees only validation NDCG@10; the test
metrics of the best trial are read from its ``rec:test_metrics`` user attribute at the end.

The study, its trial notes and insights are written to a sqlite file (``--storage``, default
``sqlite:///tune_sasrec.db`` in the current folder) under a fixed name (``--study-name``, default
``sasrec-<sampler>-seed<seed>``); a rerun with the same name continues that study. Open it with
``optuna-dashboard sqlite:///tune_sasrec.db`` (extra ``dashboard``).
"""

from __future__ import annotations

import argparse

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import IntDistribution

from optuna_vmle.rec import make_synthetic_dataset
from optuna_vmle.rec import RecTrainingError
from optuna_vmle.rec import sasrec_objective


DEFAULT_STORAGE = "sqlite:///tune_sasrec.db"

# A laptop-sized slice of the default space: short sequences, small models, few negatives.
SMALL_SPACE = {
    "hidden_size": CategoricalDistribution([32, 64]),
    "num_blocks": IntDistribution(1, 2),
    "num_negatives": CategoricalDistribution([32, 64, 128]),
    "maxlen": 20,
    "batch_size": 128,
}


def make_sampler(name: str, objective, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    from optuna_vmle import TransferOptions
    from optuna_vmle import VirtualMLESampler

    return VirtualMLESampler(
        task=objective.task_description,
        search_space=objective.search_space,
        transfer=TransferOptions(descriptors=objective.task_descriptors),
        seed=seed,
    )


def note_line(note: dict) -> str:
    """The reflection's rule, or why the LLM's text was not kept as one."""
    if note.get("rule"):
        return f"rule: {note['rule']}"
    reason = note.get("no_usable_rule") or note.get("reflection_error") or "no reply"
    return f"no usable rule ({reason})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--sampler", choices=["vmle", "tpe"], default="vmle")
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--storage", default=DEFAULT_STORAGE, help="Optuna storage URL (%(default)s)"
    )
    parser.add_argument("--study-name", help="default: sasrec-<sampler>-seed<seed>")
    args = parser.parse_args()
    study_name = args.study_name or f"sasrec-{args.sampler}-seed{args.seed}"

    dataset = make_synthetic_dataset(n_users=600, n_items=200, n_clusters=10, seed=args.seed)
    objective = sasrec_objective(
        dataset, search_space=SMALL_SPACE, max_epochs=args.max_epochs, patience=3, seed=args.seed
    )
    print(objective.task_description)
    study = optuna.create_study(
        storage=args.storage,
        study_name=study_name,
        load_if_exists=True,
        direction="maximize",
        sampler=make_sampler(args.sampler, objective, args.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    sampler = study.sampler
    study.optimize(objective, n_trials=args.trials, catch=(RecTrainingError,))
    notes = {}
    if args.sampler == "vmle":
        sampler.wait_for_learning()  # reflections run in the background
        notes = sampler.learner.notes(study)

    for trial in study.trials:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        print(f"#{trial.number} {trial.state.name:8s} NDCG@10 {value} {trial.params}")
        if "vmle:source" in trial.user_attrs:
            note = note_line(notes.get(trial.number, {}))
            print(f"    source={trial.user_attrs['vmle:source']} {note}")
    best = study.best_trial
    test = best.user_attrs["rec:test_metrics"]
    print(f"\nbest trial #{best.number}: validation NDCG@10 {best.value:.4f}")
    print(f"  params: {best.params}")
    print(f"  fixed: {objective.fixed_params}")
    print(
        f"  test: NDCG@10 {test['ndcg@10']:.4f}, HR@10 {test['hr@10']:.4f}, MRR {test['mrr']:.4f} "
        f"(epoch {best.user_attrs['rec:best_epoch']} of {best.user_attrs['rec:epochs']}, "
        f"{best.user_attrs['rec:wall_time_s']:.1f} s)"
    )
    if args.sampler == "vmle":
        from optuna_vmle import study_report

        print()
        print(study_report(study))
    print(
        f"\nstudy '{study_name}' ({len(study.trials)} trials) is in {args.storage}; open it with:"
    )
    print(f"  optuna-dashboard {args.storage}")


if __name__ == "__main__":
    main()
