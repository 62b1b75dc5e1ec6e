"""Best-so-far at fixed trial budgets, each sampler against TPE, from ``compare.py`` runs.

Issue 6's first target reads "best-so-far >= TPE's at every budget from 10 to 50 trials (no
statistically meaningful loss)". For each budget this prints the median [IQR] best-so-far of
every sampler and a one-sided Mann-Whitney U p-value for "this sampler is worse than TPE" (seeds
are independent runs, so the test is unpaired). A budget counts as a loss when the median is
worse than TPE's and p < ``--alpha``.

Usage::

    python benchmarks/budgets.py benchmarks/results/eff-t1 --budgets 10 20 30 40 50 \\
        --out benchmarks/reports/efficiency/budgets-beauty

Writes ``<out>.json`` and ``<out>.png`` and prints one ``SUMMARY {...}`` line.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from typing import Any

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import get_problem  # noqa: E402
from compare import REFERENCE_SAMPLER  # noqa: E402
from compare import UNUSABLE_MODEL  # noqa: E402
from compare import write_json_atomically  # noqa: E402


def load_curves(
    result_dirs: Sequence[Path],
    problem: str | None,
    samplers: Sequence[str] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """``{problem: {"direction": ..., "curves": {sampler: [curve, ...]}}}`` from run files.

    Runs of one sampler and seed found in several directories are counted once (the first).
    With ``model``, LLM runs of other models are left out (``vmle-nollm`` has its own).
    """
    found: dict[str, Any] = {}
    seen: set[tuple[str, str, int]] = set()
    for result_dir in result_dirs:
        for path in sorted((result_dir / "runs").glob("*/*.json")):
            run = json.loads(path.read_text())
            config = run["config"]
            if problem is not None and config["problem"] != problem:
                continue
            if samplers is not None and config["sampler"] not in samplers:
                continue
            if model is not None and config.get("model", model) not in (model, UNUSABLE_MODEL):
                continue
            key = (config["problem"], config["sampler"], config["seed"])
            if key in seen:
                continue
            seen.add(key)
            entry = found.setdefault(config["problem"], {"curves": defaultdict(list)})
            entry["curves"][config["sampler"]].append(run["curve"])
            entry.setdefault("direction", get_problem(config["problem"]).direction)
    return found


def worst_value(curves: dict[str, list[list[float | None]]], direction: str) -> float:
    """The worst value any run reached: what a run counts before its first result."""
    finite = [v for runs in curves.values() for c in runs for v in c if v is not None]
    return min(finite) if direction == "maximize" else max(finite)


def at_budget(curves: Sequence[Sequence[float | None]], budget: int, worst: float) -> list[float]:
    """Each run's best-so-far after ``budget`` trials (``worst`` before any result)."""
    values = []
    for curve in curves:
        if len(curve) < budget:
            continue
        best = curve[budget - 1]
        values.append(worst if best is None else float(best))
    return values


def p_worse(mine: Sequence[float], other: Sequence[float], maximize: bool) -> float:
    """One-sided Mann-Whitney U p-value of "``mine`` is worse than ``other``"."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(mine, other, alternative="less" if maximize else "greater").pvalue)


def compare_budgets(
    curves: dict[str, list[list[float | None]]],
    direction: str,
    budgets: Sequence[int],
    alpha: float,
) -> dict[str, Any]:
    """Per sampler and budget: quartiles, p-value of being worse than TPE, and the verdict."""
    maximize = direction == "maximize"
    worst = worst_value(curves, direction)
    reference = curves.get(REFERENCE_SAMPLER, [])
    result: dict[str, Any] = {}
    for sampler, runs in sorted(curves.items()):
        rows = []
        for budget in budgets:
            mine, tpe = at_budget(runs, budget, worst), at_budget(reference, budget, worst)
            if not mine:
                continue
            q25, q50, q75 = (float(x) for x in np.percentile(mine, [25, 50, 75]))
            row: dict[str, Any] = {
                "budget": budget,
                "runs": len(mine),
                "median": q50,
                "iqr": [q25, q75],
                "mean": float(np.mean(mine)),
            }
            if tpe and sampler != REFERENCE_SAMPLER:
                p = p_worse(mine, tpe, maximize)
                median_worse = q50 < np.median(tpe) if maximize else q50 > np.median(tpe)
                row.update(
                    {
                        "tpe_median": float(np.median(tpe)),
                        "p_worse": p,
                        "loss": bool(median_worse and p < alpha),
                    }
                )
            rows.append(row)
        result[sampler] = rows
    return result


def trials_to_tpe_best(
    curves: dict[str, list[list[float | None]]], direction: str, target_budget: int
) -> dict[str, Any]:
    """Issue 6's second target: when does each sampler reach the median best TPE reaches in
    ``target_budget`` trials? Per sampler: each run's first such trial (None: never)."""
    maximize = direction == "maximize"
    reference = [
        c[target_budget - 1]
        for c in curves.get(REFERENCE_SAMPLER, [])
        if len(c) >= target_budget and c[target_budget - 1] is not None
    ]
    if not reference:
        return {}
    target = float(np.median(reference))
    reached: dict[str, Any] = {"target": target, "target_budget": target_budget, "samplers": {}}
    for sampler, runs in sorted(curves.items()):
        firsts = [
            next(
                (
                    i
                    for i, v in enumerate(c, start=1)
                    if v is not None and (v >= target if maximize else v <= target)
                ),
                None,
            )
            for c in runs
        ]
        found = sorted(f for f in firsts if f is not None)
        reached["samplers"][sampler] = {
            "runs": len(runs),
            "trials": firsts,
            "reached": len(found),
            "median": float(np.median([f if f is not None else np.inf for f in firsts])),
        }
    return reached


def plot(
    problem: str, curves: dict[str, list[list[float | None]]], direction: str, out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worst = worst_value(curves, direction)
    fig, ax = plt.subplots(figsize=(7, 4))
    for sampler, runs in sorted(curves.items()):
        length = min(len(c) for c in runs)
        matrix = np.array([[worst if v is None else v for v in c[:length]] for c in runs])
        x = np.arange(1, length + 1)
        q25, q50, q75 = np.percentile(matrix, [25, 50, 75], axis=0)
        ax.plot(x, q50, label=f"{sampler} (n={len(runs)})")
        ax.fill_between(x, q25, q75, alpha=0.15)
    ax.set_xlabel("trials")
    ax.set_ylabel("best so far (median, IQR)")
    ax.set_title(problem, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="compare.py --out directories")
    parser.add_argument("--problem", default=None, help="default: every problem found")
    parser.add_argument("--samplers", nargs="+", default=None, help="default: every one found")
    parser.add_argument("--model", default=None, help="keep only LLM runs of this model")
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 20, 30, 40, 50])
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--target-budget",
        type=int,
        default=None,
        help="also report when each sampler reaches TPE's median best at this "
        "budget (list the directory with the longer TPE runs first)",
    )
    parser.add_argument("--out", type=Path, required=True, help="path stem for .json and .png")
    args = parser.parse_args(argv)

    found = load_curves(args.results, args.problem, args.samplers, args.model)
    report = {}
    for problem, entry in sorted(found.items()):
        report[problem] = {
            "budgets": compare_budgets(
                entry["curves"], entry["direction"], args.budgets, args.alpha
            )
        }
        if args.target_budget is not None:
            report[problem]["to_tpe_best"] = trials_to_tpe_best(
                entry["curves"], entry["direction"], args.target_budget
            )
        stem = args.out if len(found) == 1 else args.out.with_name(f"{args.out.name}-{problem}")
        plot(problem, entry["curves"], entry["direction"], stem.with_name(stem.name + ".png"))
    write_json_atomically(args.out.with_name(args.out.name + ".json"), report)
    for problem, entry in report.items():
        print(f"## {problem}")
        for sampler, rows in entry["budgets"].items():
            cells = [
                f"{r['budget']}: {r['median']:.4g}"
                + (
                    f" (p={r['p_worse']:.2f}{', LOSS' if r['loss'] else ''})"
                    if "p_worse" in r
                    else ""
                )
                for r in rows
            ]
            print(f"{sampler:>16} n={rows[0]['runs'] if rows else 0}  " + "; ".join(cells))
        reached = entry.get("to_tpe_best")
        if reached:
            print(
                f"  first trial reaching TPE's median best at {reached['target_budget']} "
                f"trials ({reached['target']:.4g}):"
            )
            for sampler, row in reached["samplers"].items():
                print(f"{sampler:>16} {row['trials']} median {row['median']:g}")
    losses = {
        problem: sorted({s for s, rows in entry["budgets"].items() for r in rows if r.get("loss")})
        for problem, entry in report.items()
    }
    summary = {
        "out": str(args.out),
        "budgets": args.budgets,
        "alpha": args.alpha,
        "losses_vs_tpe": losses,
    }
    print("SUMMARY " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
