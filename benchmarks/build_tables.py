"""Build a lookup table for the tabular benchmarks by training a recommender on every grid config.

The table (``benchmarks/tables/<model>-<dataset>-<grid>.json``) holds the grid, one row of
validation and test metrics per finished configuration, and metadata: the generating command,
the git commit, the hardware, the wall time, and whether the table is complete. Rows are
appended as they finish (the file is rewritten atomically), so the builder can be killed and
restarted, also in a later session: finished configurations are skipped.

Configurations are trained in a seeded random order, so a partial table is a uniform random
subset of the grid. ``compare.py`` exposes the whole grid and turns a missing configuration into
a failed trial that still costs one trial of the budget, the same for every sampler.

Usage (CPU, in the background, one torch thread)::

    nohup python benchmarks/build_tables.py --dataset Beauty --model sasrec --grid small \\
        --max-epochs 5 --user-subsample 0.2 --threads 1 > build_tables.log 2>&1 &

On a many-core machine, run N processes with ``--shard K/N --out shard.K.json`` (K = 0..N-1;
shard K trains the configs whose index in the seeded order is K modulo N), then join them with
``--merge OUT shard.0.json shard.1.json ...``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import dataclasses
import itertools
import json
import os
from pathlib import Path
import platform
import random
import shlex
import subprocess
import sys
import time
from typing import Any

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import config_key  # noqa: E402
from _problems import DATA_DIR  # noqa: E402
from _problems import TABLES_DIR  # noqa: E402
from compare import write_json_atomically  # noqa: E402


METRIC = "valid_ndcg@10"
MODEL_NAMES = {"sasrec": "SASRec", "hstu": "HSTU"}
FIXED = {"maxlen": 50, "num_heads": 1, "batch_size": 128, "seed": 0}
GRIDS: dict[str, dict[str, list[Any]]] = {
    "small": {
        "lr": [3e-4, 1e-3, 3e-3],
        "hidden_size": [32, 64],
        "num_blocks": [1, 2],
        "dropout": [0.2, 0.5],
        "loss": ["bce", "sampled_softmax"],
    },
    "full": {
        "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        "hidden_size": [32, 64, 128],
        "num_blocks": [1, 2, 3],
        "dropout": [0.1, 0.3, 0.5],
        "loss": ["bce", "sampled_softmax", "full_ce"],
    },
}


# HSTU is trained with a softmax loss (as in generative-recommenders); the full softmax over
# all items costs minutes per epoch on a CPU, so the tables use the sampled one.
LOSSES_BY_MODEL = {"sasrec": None, "hstu": ["sampled_softmax"]}


def grid_for(model_name: str, grid_name: str) -> dict[str, list[Any]]:
    grid = dict(GRIDS[grid_name])
    if LOSSES_BY_MODEL[model_name] is not None:
        grid["loss"] = LOSSES_BY_MODEL[model_name]
    return grid


def grid_configs(grid: dict[str, list[Any]], order_seed: int = 0) -> list[dict[str, Any]]:
    configs = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    random.Random(order_seed).shuffle(configs)
    return configs


def subsample_users(dataset: Any, fraction: float, seed: int) -> Any:
    """Keep a seeded random ``fraction`` of the users (the item catalogue is unchanged)."""
    if fraction >= 1.0:
        return dataset
    rng = np.random.default_rng(seed)
    keep = np.sort(
        rng.choice(len(dataset.sequences), int(len(dataset.sequences) * fraction), replace=False)
    )
    return dataclasses.replace(
        dataset,
        sequences=[dataset.sequences[i] for i in keep],
        user_ids=None if dataset.user_ids is None else dataset.user_ids[keep],
        line_numbers=None if dataset.line_numbers is None else dataset.line_numbers[keep],
    )


def train_config(
    split: Any, model_name: str, params: dict[str, Any], *, max_epochs: int, patience: int | None
) -> dict[str, Any]:
    """Train SASRec or HSTU with the grid ``params`` on a leave-one-out split; returns metrics.

    ``params`` holds ``lr``, ``hidden_size``, ``num_blocks``, ``dropout`` and ``loss``; the rest
    is fixed by ``FIXED``. Validation metrics are the best epoch's, test metrics are measured
    with that epoch's weights.
    """
    from optuna_vmle.rec import fit
    from optuna_vmle.rec import HSTU
    from optuna_vmle.rec import SASRec
    from optuna_vmle.rec import TrainingConfig

    model_class = {"sasrec": SASRec, "hstu": HSTU}[model_name]
    model = model_class(
        n_items=split.n_items,
        maxlen=FIXED["maxlen"],
        hidden_size=params["hidden_size"],
        num_blocks=params["num_blocks"],
        num_heads=FIXED["num_heads"],
        dropout=params["dropout"],
    )
    config = TrainingConfig(
        loss=params["loss"],
        lr=params["lr"],
        batch_size=FIXED["batch_size"],
        max_epochs=max_epochs,
        patience=patience,
        seed=FIXED["seed"],
    )
    result = fit(model, split, config, device="cpu")
    return {
        **{f"valid_{k}": v for k, v in result.best_valid.items()},
        **{f"test_{k}": v for k, v in result.test.items()},
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "stop_reason": result.stop_reason,
        "wall_s": result.wall_time_s,
        "n_params": result.n_params,
    }


def git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def hardware(threads: int) -> str:
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} CPU, {threads} thread(s)"
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, got {text!r}") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"need 0 <= K < N, got {text!r}")
    return k, n


def unsharded_command(command: str) -> str:
    """The shard's command without its ``--shard`` and ``--out`` options."""
    words, kept = shlex.split(command), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--shard", "--out"):
            skip = True
        elif not word.startswith(("--shard=", "--out=")):
            kept.append(word)
    return " ".join(shlex.quote(w) for w in kept)


def merge_tables(out: Path, shard_paths: Sequence[Path]) -> dict[str, Any]:
    """Join shard tables built with ``--shard`` into ``out``: rows deduplicated, wall time summed.

    All shards must share the grid and the training settings; the metadata is the first
    shard's, with ``n_rows``, ``complete``, ``wall_s``, ``shards`` and ``command`` updated.
    """
    if not shard_paths:
        raise SystemExit("--merge needs OUT and at least one shard table")
    tables = [json.loads(path.read_text()) for path in shard_paths]
    grid, first = tables[0]["space"], tables[0]["metadata"]
    same = ("dataset", "model", "grid", "fixed", "max_epochs", "patience", "user_subsample")
    for path, table in zip(shard_paths, tables):
        meta = table["metadata"]
        if table["space"] != grid or any(meta.get(f) != first.get(f) for f in same):
            raise SystemExit(
                f"{path} was built with another grid or settings than {shard_paths[0]}"
            )
    order = {config_key(c, grid): i for i, c in enumerate(grid_configs(grid))}
    rows: dict[tuple[int, ...], dict[str, Any]] = {}
    for table in tables:
        for row in table["rows"]:
            rows.setdefault(config_key(row["params"], grid), row)
    n_shards = int(first["shard"].split("/")[1]) if "shard" in first else len(tables)
    command = unsharded_command(first["command"])
    metadata = {key: value for key, value in first.items() if key != "shard"}
    metadata.update(
        {
            "command": (
                f"for K in $(seq 0 {n_shards - 1}); do {command} --shard $K/{n_shards} "
                f"--out shard.$K.json & done; wait; python benchmarks/build_tables.py "
                f"--merge {shlex.quote(out.name)} shard.*.json"
            ),
            "hardware": f"{first['hardware']}, {n_shards} shard processes in parallel",
            "shards": n_shards,
            "n_rows": len(rows),
            "complete": len(rows) == len(order),
            "wall_s": sum(float(t["metadata"].get("wall_s", 0.0)) for t in tables),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    merged = {
        "rows": [rows[key] for key in sorted(rows, key=order.__getitem__)],
        "space": grid,
        "metadata": metadata,
    }
    write_json_atomically(out, merged)
    print(f"{out}: {len(rows)}/{len(order)} rows from {len(tables)} shard tables", flush=True)
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="Beauty", help="file stem under $VMLE_DATA_DIR")
    parser.add_argument("--model", choices=["sasrec", "hstu"], default="sasrec")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="small")
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument(
        "--user-subsample",
        type=float,
        default=1.0,
        help="fraction of users kept (seeded), for CPU budgets",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--max-configs", type=int, default=None, help="stop after this many new rows"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        metavar="K/N",
        help="train only the configs whose seeded index is K modulo N",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar=("OUT", "SHARD"),
        help="merge the shard tables SHARD... into OUT and exit",
    )
    args = parser.parse_args(argv)
    if args.merge is not None:
        merge_tables(args.merge[0], args.merge[1:])
        return

    import torch

    from optuna_vmle.rec import leave_one_out
    from optuna_vmle.rec import load_sequences

    torch.set_num_threads(args.threads)
    grid = grid_for(args.model, args.grid)
    suffix = "" if args.user_subsample >= 1.0 else f"-u{args.user_subsample:g}"
    out = args.out or TABLES_DIR / (
        f"{args.model}-{args.dataset.lower()}-{args.grid}-e{args.max_epochs}{suffix}.json"
    )
    table = json.loads(out.read_text()) if out.exists() else {"rows": []}
    if table.get("space", grid) != grid:
        raise SystemExit(f"{out} was built with another grid; choose another --out")
    done = {config_key(row["params"], grid) for row in table["rows"]}
    todo = [
        c
        for i, c in enumerate(grid_configs(grid))
        if config_key(c, grid) not in done
        and (args.shard is None or i % args.shard[1] == args.shard[0])
    ]

    dataset = subsample_users(
        load_sequences(DATA_DIR / f"{args.dataset}.txt"), args.user_subsample, seed=0
    )
    split = leave_one_out(dataset, drop_short_users=True)
    metadata = table.get("metadata", {})
    spent = float(metadata.get("wall_s", 0.0))
    print(
        f"{out.name}: {len(done)} rows done, {len(todo)} to go, {split.n_users} users", flush=True
    )
    for count, config in enumerate(todo[: args.max_configs], start=1):
        started = time.perf_counter()
        try:
            metrics = train_config(
                split, args.model, config, max_epochs=args.max_epochs, patience=args.patience
            )
        except Exception as error:  # a diverged config is a row too, marked failed
            metrics = {METRIC: None, "error": f"{type(error).__name__}: {error}"}
        spent += time.perf_counter() - started
        table["rows"].append({"params": config, "metrics": metrics})
        table["space"] = grid
        table["metadata"] = {
            "metric": METRIC,
            "task": (
                f"Maximise the validation NDCG@10 (full ranking, leave-one-out) of "
                f"{MODEL_NAMES[args.model]} on Amazon {args.dataset}."
            ),
            "command": "python benchmarks/"
            + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "git_sha": git_sha(),
            "hardware": hardware(args.threads),
            "dataset": args.dataset,
            "model": args.model,
            "grid": args.grid,
            "fixed": FIXED,
            "max_epochs": args.max_epochs,
            "patience": args.patience,
            "user_subsample": args.user_subsample,
            "n_users": split.n_users,
            "n_configs": len(grid_configs(grid)),
            "n_rows": len(table["rows"]),
            "complete": len(table["rows"]) == len(grid_configs(grid)),
            "wall_s": spent,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if args.shard is not None:
            table["metadata"]["shard"] = f"{args.shard[0]}/{args.shard[1]}"
        write_json_atomically(out, table)
        print(
            f"[{len(done) + count}/{len(done) + len(todo)}] {config} -> "
            f"{metrics.get(METRIC)} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
