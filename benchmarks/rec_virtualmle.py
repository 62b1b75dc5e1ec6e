"""The VirtualMLE paper's baselines on its own datasets, selected as the paper selects.

* ``hstu_baby``: HSTU on Amazon Baby (``virtualmle_HSTU_Baby.txt``), selected on validation
  NDCG@10.
* ``sasrec_pet``: SASRec on Amazon Pet_Supplies (``virtualmle_SASRec_Pet_Supplies.txt``),
  selected on validation Recall@10 (``hr@10``: one target per user).

Both use the paper's first-round configuration (its release's defaults, see the
``virtualmle-release`` notes): sampled softmax with 500 uniform negatives, maxlen 50, at most
20 epochs, early-stopping patience 3; SASRec hidden 128, 1 block, 1 head, dropout 0.2,
batch 256, Adam lr 3e-4, weight decay 1e-5; HSTU hidden 128, linear and attention dims 16,
1 block, 1 head, dropout 0.5, attention dropout 0, batch 128, AdamW(0.9, 0.98) lr 3e-4,
temperature 0.05. Every user contributes one window per epoch, all positions are targets.
Validation decides the epoch; the test split is evaluated once, with the selected weights.

    nohup python benchmarks/rec_virtualmle.py --seeds 0 > rec_virtualmle.log 2>&1 &

Results are rewritten after every epoch (``benchmarks/reports/rec/virtualmle.json``); a rerun
skips finished runs. The last line is ``SUMMARY {...}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))
from rec_common import data_file
from rec_common import mean_std
from rec_common import REPORTS_DIR
from rec_common import require_files
from rec_common import ResultsFile
from rec_common import train_and_record

from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import load_sequences
from optuna_vmle.rec import model_spec
from optuna_vmle.rec import TrainingConfig


# One set of negatives per batch, as these were measured (the default is now per position).
FIXED = {
    "loss": "sampled_softmax",
    "num_negatives": 500,
    "negatives_per": "batch",
    "max_epochs": 20,
    "patience": 3,
}
CONFIGS = {
    "hstu_baby": {
        "data": "virtualmle_HSTU_Baby.txt",
        "model": "hstu",
        "metric": "ndcg@10",
        "params": {
            "maxlen": 50,
            "hidden_size": 128,
            "linear_dim": 16,
            "attention_dim": 16,
            "num_blocks": 1,
            "num_heads": 1,
            "dropout": 0.5,
            "attention_dropout": 0.0,
            "temperature": 0.05,
        },
        "training": {
            "batch_size": 128,
            "lr": 3e-4,
            "weight_decay": 0.0,
            "optimizer": "adamw",
            "betas": (0.9, 0.98),
        },
    },
    "sasrec_pet": {
        "data": "virtualmle_SASRec_Pet_Supplies.txt",
        "model": "sasrec",
        "metric": "hr@10",
        "params": {
            "maxlen": 50,
            "hidden_size": 128,
            "num_blocks": 1,
            "num_heads": 1,
            "dropout": 0.2,
        },
        "training": {"batch_size": 256, "lr": 3e-4, "weight_decay": 1e-5, "optimizer": "adam"},
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=str(REPORTS_DIR / "virtualmle.json"))
    parser.add_argument("--summary-only", action="store_true")
    return parser.parse_args()


def run(name: str, seed: int, args: argparse.Namespace, results: ResultsFile) -> None:
    spec = CONFIGS[name]
    split = leave_one_out(load_sequences(data_file(spec["data"])))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = model_spec(spec["model"]).build(split.n_items, spec["params"])
    config = TrainingConfig(**FIXED, **spec["training"], selection_metric=spec["metric"], seed=seed)
    record = {"config": name, "seed": seed, "params": spec["params"], "training": spec["training"]}
    train_and_record(
        results, f"{name}/seed{seed}", record, model, split, config, device=args.device
    )


def summarize(results: ResultsFile) -> dict:
    summary = {}
    for name, spec in CONFIGS.items():
        runs = results.finished(name)
        if not runs:
            continue
        entry = {"seeds": sorted(r["seed"] for r in runs), "selection_metric": spec["metric"]}
        for stage in ("valid", "test"):
            for metric in ("hr@5", "hr@10", "ndcg@5", "ndcg@10"):
                mean, std = mean_std([r[stage][metric] for r in runs])
                entry[f"{stage}_{metric}"] = f"{mean:.4f} ± {std:.4f}"
        entry.update(
            epochs=[r["epochs"] for r in runs],
            best_epochs=[r["best_epoch"] for r in runs],
            wall_time_s=[r["wall_time_s"] for r in runs],
        )
        summary[name] = entry
    return summary


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    results = ResultsFile(args.out, meta={"torch": torch.__version__, "fixed": FIXED})
    if not args.summary_only:
        require_files(*(data_file(CONFIGS[name]["data"]) for name in args.configs))
        for name in args.configs:
            for seed in args.seeds:
                if results.done(f"{name}/seed{seed}"):
                    print(f"== {name} seed {seed}: already finished, skipped", flush=True)
                    continue
                run(name, seed, args, results)
    print("SUMMARY " + json.dumps(summarize(results), ensure_ascii=False))


if __name__ == "__main__":
    main()
