"""Per-trial sampler overhead, excluding the LLM, as a study grows; and prompt size growth.

The vmle sampler talks to an instant scripted LLM (random schema-valid replies), so what is
measured is the sampler's own work (history, prompts, validation, memory, storage); the time
inside ``litellm.completion`` (proposal and reflection calls) is reported apart. One study per
sampler runs up to the largest trial count on the synthetic ``hpo-mixed`` problem; the numbers
at ``n`` trials are medians over the trials in the window ``(n - n/10, n]``.

Usage::

    python benchmarks/overhead.py --trials 10 100 1000 --samplers vmle tpe gp --gp-cap 100
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from typing import Any

import numpy as np
import optuna


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import get_problem  # noqa: E402
from compare import llm_tokens  # noqa: E402
from compare import run_study  # noqa: E402
from compare import SCRIPTED_MODEL  # noqa: E402
from compare import write_json_atomically  # noqa: E402


DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "overhead"


def window(values: Sequence[float], n: int) -> float | None:
    """Median of ``values`` over trials ``(n - n/10, n]``; ``None`` if the study stopped earlier."""
    if len(values) < n:
        return None
    width = max(1, n // 10)
    return float(np.median(values[n - width : n]))


def measure(sampler_name: str, n_trials: int, problem_name: str, seed: int) -> dict[str, Any]:
    study, timer, wall = run_study(
        get_problem(problem_name), sampler_name, seed=seed, trials=n_trials, model=SCRIPTED_MODEL
    )
    trials = study.get_trials(deepcopy=False)
    return {
        "sampler": sampler_name,
        "trials": len(trials),
        "wall_s": wall,
        "sampler_ms": [1000 * timer.sampler_seconds(t.number) for t in trials],
        "llm_call_ms": [1000 * timer.llm_seconds_by_trial[t.number] for t in trials],
        "llm_calls": [timer.llm_calls_by_trial[t.number] for t in trials],
        "prompt_tokens": llm_tokens(trials)["prompt_tokens_by_trial"],
        "sources": [t.user_attrs.get("vmle:source") for t in trials],
    }


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, result in results.items():
        x = np.arange(1, result["trials"] + 1)
        left.plot(x, result["sampler_ms"], label=name, linewidth=0.8)
        if any(result["prompt_tokens"]):
            right.plot(x, result["prompt_tokens"], label=name)
    left.set(xscale="log", yscale="log", xlabel="trial", ylabel="sampler ms per trial (no LLM)")
    right.set(xscale="log", xlabel="trial", ylabel="prompt tokens per trial")
    left.legend()
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--samplers", nargs="+", default=["vmle", "tpe", "gp"])
    parser.add_argument(
        "--gp-cap",
        type=int,
        default=100,
        help="GP's cost grows cubically: stop its study here (n/a beyond)",
    )
    parser.add_argument("--problem", default="hpo-mixed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in args.samplers:
        n = min(max(args.trials), args.gp_cap) if name == "gp" else max(args.trials)
        try:
            results[name] = measure(name, n, args.problem, args.seed)
        except ImportError as error:
            skipped[name] = str(error)
        print(f"{name}: {n} trials done", file=sys.stderr)

    table = {
        name: {
            str(n): {
                "sampler_ms": window(r["sampler_ms"], n),
                "llm_call_ms": window(r["llm_call_ms"], n),
                "llm_calls": window(r["llm_calls"], n),
                "prompt_tokens": window(r["prompt_tokens"], n),
            }
            for n in args.trials
        }
        for name, r in results.items()
    }
    summary = {
        "problem": args.problem,
        "seed": args.seed,
        "out": str(args.out),
        "skipped": skipped,
        "at_trials": table,
        "wall_s": {name: r["wall_s"] for name, r in results.items()},
    }
    write_json_atomically(args.out / "overhead.json", {"summary": summary, "raw": results})
    plot(results, args.out / "overhead.png")
    print("SUMMARY " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
