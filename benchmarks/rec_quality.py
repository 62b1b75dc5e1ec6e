"""Train literature configurations on the Beauty S3Rec split and compare with published numbers.

Configurations (full ranking, seen items excluded, leave-one-out):

* ``sasrec_bce``: SASRec with BCE and one negative per position (S3Rec repo: NDCG@10 .0318,
  HR@10 .0605).
* ``sasrec_ss``: SASRec with a 256-negative sampled softmax (eSASRec README: NDCG@10 .0531,
  HR@10 .0921).
* ``hstu``: HSTU with a 256-negative sampled softmax, temperature 0.05 (eSASRec README:
  NDCG@10 .0439, HR@10 .0788).

Runs the configurations one after the other (never in parallel), prints the learning curve
(epoch, validation and test NDCG@10, wall time), rewrites the JSON results after every epoch,
and ends with ``SUMMARY {...}``. Test metrics are reported at the best validation epoch.

    nohup python benchmarks/rec_quality.py --configs sasrec_ss sasrec_bce --time-budget 900 &
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATA_DIR

from optuna_vmle.rec import HSTU, SASRec, TrainingConfig, fit, leave_one_out, load_sequences

DEFAULT_DATA = str(DATA_DIR / "Beauty.txt")
PUBLISHED = {
    "sasrec_bce": {"ndcg@10": 0.0318, "hr@10": 0.0605},
    "sasrec_ss": {"ndcg@10": 0.0531, "hr@10": 0.0921},
    "hstu": {"ndcg@10": 0.0439, "hr@10": 0.0788},
}
MODELS = {
    "sasrec_bce": (SASRec, dict(hidden_size=64, num_blocks=2, num_heads=2, dropout=0.5)),
    "sasrec_ss": (SASRec, dict(hidden_size=64, num_blocks=2, num_heads=2, dropout=0.3)),
    "hstu": (HSTU, dict(hidden_size=64, num_blocks=2, num_heads=1, dropout=0.5, temperature=0.05)),
}
TRAINING = {
    "sasrec_bce": dict(loss="bce", lr=1e-3, batch_size=128),
    "sasrec_ss": dict(loss="sampled_softmax", num_negatives=256, lr=1e-3, batch_size=128),
    "hstu": dict(loss="sampled_softmax", num_negatives=256, lr=1e-3, batch_size=128),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--configs", nargs="+", choices=sorted(MODELS), default=["sasrec_bce", "sasrec_ss", "hstu"])
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds per configuration")
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON output (default benchmarks/results/rec_quality.json)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    split = leave_one_out(load_sequences(args.data))
    out = args.out or os.path.join(os.path.dirname(__file__), "results", "rec_quality.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    results: dict[str, dict] = {}

    def save() -> None:
        with open(out, "w") as handle:
            json.dump({"data": args.data, "args": vars(args), "results": results}, handle, indent=2)

    for name in args.configs:
        model_class, model_kwargs = MODELS[name]
        torch.manual_seed(args.seed)
        model = model_class(n_items=split.n_items, maxlen=args.maxlen, **model_kwargs)
        config = TrainingConfig(
            **TRAINING[name],
            max_epochs=args.max_epochs,
            patience=args.patience,
            time_budget_s=args.time_budget,
            seed=args.seed,
            track_test=True,
        )
        record = results[name] = {
            "model": {"class": model_class.__name__, "maxlen": args.maxlen, **model_kwargs},
            "training": TRAINING[name],
            "published": PUBLISHED[name],
            "curve": [],
        }
        print(f"== {name}: {record['model']} {record['training']}", flush=True)
        print("epoch  loss     val_ndcg@10  test_ndcg@10  test_hr@10  wall_s", flush=True)

        def log(epoch, record=record) -> None:
            record["curve"].append(
                {
                    "epoch": epoch.epoch,
                    "loss": epoch.loss,
                    "valid": epoch.valid,
                    "test": epoch.test,
                    "wall_time_s": round(epoch.wall_time_s, 1),
                }
            )
            print(
                f"{epoch.epoch:5d}  {epoch.loss:.4f}   {epoch.valid['ndcg@10']:.4f}       {epoch.test['ndcg@10']:.4f}"
                f"        {epoch.test['hr@10']:.4f}      {epoch.wall_time_s:.0f}",
                flush=True,
            )
            save()

        start = time.perf_counter()
        result = fit(model, split, config, device=args.device, on_epoch=log)
        record.update(
            best_epoch=result.best_epoch,
            epochs=len(result.history),
            stop_reason=result.stop_reason,
            best_valid=result.best_valid,
            test=result.test,
            wall_time_s=round(time.perf_counter() - start, 1),
            n_params=result.n_params,
            device=result.device,
        )
        save()
        print(
            f"-> {name}: test NDCG@10 {result.test['ndcg@10']:.4f} HR@10 {result.test['hr@10']:.4f} "
            f"(published {PUBLISHED[name]['ndcg@10']} / {PUBLISHED[name]['hr@10']}) at epoch {result.best_epoch} "
            f"of {len(result.history)}, {record['wall_time_s']:.0f} s",
            flush=True,
        )

    summary = {
        name: {
            "test_ndcg@10": round(r["test"]["ndcg@10"], 4),
            "test_hr@10": round(r["test"]["hr@10"], 4),
            "valid_ndcg@10": round(r["best_valid"]["ndcg@10"], 4),
            "best_epoch": r["best_epoch"],
            "epochs": r["epochs"],
            "wall_time_s": r["wall_time_s"],
            "published_ndcg@10": r["published"]["ndcg@10"],
        }
        for name, r in results.items()
    }
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
