"""Tune a small mixed search space with the embedded LLM (no API key, no network).

Run: python examples/quickstart.py --trials 20
Set VMLE_MODEL (any litellm model string, e.g. "openai/gpt-4o-mini") to use a hosted LLM.
The study is written to sqlite:///quickstart.db (``--storage``) as "quickstart" (``--study-name``);
a rerun continues it. Open it with ``optuna-dashboard sqlite:///quickstart.db``.
"""

from __future__ import annotations

import argparse
import math

import optuna

from optuna_vmle import study_report
from optuna_vmle import VirtualMLESampler


def objective(trial: optuna.Trial) -> float:
    """A stand-in for a training run: validation loss as a function of four hyperparameters."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.6)
    hidden = trial.suggest_categorical("hidden", [32, 64, 128, 256])
    blocks = trial.suggest_int("blocks", 1, 4)
    return (
        (math.log10(lr) + 2.5) ** 2
        + 4 * (dropout - 0.25) ** 2
        + 0.3 * abs(math.log2(hidden) - 7)
        + 0.2 * abs(blocks - 2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--storage",
        default="sqlite:///quickstart.db",
        help="Optuna storage URL (default: %(default)s)",
    )
    parser.add_argument("--study-name", default="quickstart", help="default: %(default)s")
    args = parser.parse_args()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = VirtualMLESampler(
        task="Minimise the validation loss of a small neural network.",
        search_space={
            "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
            "dropout": optuna.distributions.FloatDistribution(0.0, 0.6),
            "hidden": optuna.distributions.CategoricalDistribution([32, 64, 128, 256]),
            "blocks": optuna.distributions.IntDistribution(1, 4),
        },
        budget=args.trials,
        seed=args.seed,
    )
    study = optuna.create_study(
        storage=args.storage, study_name=args.study_name, load_if_exists=True, sampler=sampler
    )
    print(f"Tuning with {sampler.model} for {args.trials} trials ...")
    study.optimize(objective, n_trials=args.trials, show_progress_bar=True)
    for trial in study.trials:
        source = str(trial.user_attrs.get("vmle:source"))
        latency = (trial.user_attrs.get("vmle:llm") or {}).get("latency_s", 0.0)
        print(
            f"#{trial.number:2d} value={trial.value:.4f} source={source:13s} "
            f"llm latency={latency:.2f}s params={trial.params}"
        )
    print(f"Best value {study.best_value:.4f} with {study.best_params}")
    sampler.wait_for_learning()  # reflections run in the background
    print(study_report(study))
    print(f"Study '{args.study_name}' is stored in {args.storage}; open it with:")
    print(f"  optuna-dashboard {args.storage}")


if __name__ == "__main__":
    main()
