"""Run a study on a source problem and export its cognition summary for transfer benchmarks.

    python benchmarks/distill_source.py --problem tab-sasrec-beauty-small-e20-u0.2 --trials 30
    python benchmarks/compare.py --problems tab-sasrec-toys_and_games-small-e20-u0.2 \\
        --samplers tpe tpe-warm vmle vmle-transfer \\
        --transfer-from benchmarks/summaries/tab-sasrec-beauty-small-e20-u0.2.json

The summary's evidence (top configurations, good ranges, failure regions) comes from the
study's trials, whichever sampler ran it: the full vmle sampler (--sampler vmle, the model given
by --model) or TPE (--sampler tpe, seconds on a table). --no-llm leaves the LLM's rules out.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
import sys
import tempfile

import optuna


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import get_problem  # noqa: E402
from compare import DEFAULT_MODEL  # noqa: E402
from compare import make_sampler  # noqa: E402


SUMMARIES_DIR = Path(__file__).resolve().parent / "summaries"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", required=True)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--sampler", choices=["vmle", "tpe"], default="vmle")
    parser.add_argument("--no-llm", action="store_true", help="evidence only, no LLM rules")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or SUMMARIES_DIR / f"{args.problem}.json"

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    problem = get_problem(args.problem)
    with tempfile.TemporaryDirectory(prefix="vmle-distill-") as workdir:
        make = functools.partial(
            make_sampler,
            seed=args.seed,
            problem=problem,
            model=args.model,
            budget=args.trials,
            workdir=Path(workdir),
        )
        distiller = make("vmle")
        study = optuna.create_study(
            direction=problem.direction,
            sampler=distiller if args.sampler == "vmle" else make(args.sampler),
        )
        study.optimize(problem.objective, n_trials=args.trials, catch=problem.catch)
        summary = distiller.distill(study, use_llm=not args.no_llm)
        from optuna_vmle import export_summaries

        out.parent.mkdir(parents=True, exist_ok=True)
        export_summaries(f"sqlite:///{Path(workdir) / 'vmle-memory.db'}", out)
    print(
        "SUMMARY "
        + json.dumps(
            {
                "problem": args.problem,
                "trials": args.trials,
                "best": study.best_value,
                "top_configs": len(summary.get("top_configs", [])),
                "rules": summary.get("rules", []),
                "out": str(out),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
