"""Training and full-ranking evaluation speed of SASRec/HSTU on a sequential dataset.

The reference configuration (pmixer/SASRec.pytorch on this kind of 2-core machine: 15.5-19 s
per epoch, 4.3 s per batched full-ranking pass on Beauty) is the default:

    python benchmarks/rec_speed.py --data ../shared/data/Beauty.txt --epochs 3

Prints seconds per epoch and per evaluation pass, then one line
``SUMMARY {...}`` (JSON), and writes the same JSON to ``benchmarks/results/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATA_DIR

from optuna_vmle.rec import (
    HSTU,
    SASRec,
    TrainingConfig,
    evaluate,
    evaluation_data,
    leave_one_out,
    load_sequences,
    select_device,
    train_epoch,
    training_windows,
)

DEFAULT_DATA = str(DATA_DIR / "Beauty.txt")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--model", choices=["sasrec", "hstu"], default="sasrec")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eval-repeats", type=int, default=3)
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--hidden-size", type=int, default=50)
    parser.add_argument("--num-blocks", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=1)
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--loss", choices=["bce", "sampled_softmax", "full_ce"], default="bce")
    parser.add_argument("--num-negatives", type=int, default=256)
    parser.add_argument("--no-bucketing", action="store_true", help="random batches instead of length buckets")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=None, help="JSON output path (default benchmarks/results/rec_speed_*.json)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    torch.manual_seed(0)

    start = time.perf_counter()
    split = leave_one_out(load_sequences(args.data))
    training_windows(split, args.maxlen)
    test_data = evaluation_data(split, args.maxlen, "test")
    prepare_s = time.perf_counter() - start

    model_class = SASRec if args.model == "sasrec" else HSTU
    model = model_class(
        n_items=split.n_items,
        maxlen=args.maxlen,
        hidden_size=args.hidden_size,
        num_blocks=args.num_blocks,
        num_heads=args.num_heads,
        dropout=args.dropout,
    ).to(device)
    config = TrainingConfig(
        loss=args.loss,
        num_negatives=args.num_negatives,
        batch_size=args.batch_size,
        bucketed_batches=not args.no_bucketing,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(0)
    device_generator = torch.Generator(device=device).manual_seed(1)

    epoch_times = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(
            model, split, optimizer, config, device=device, generator=generator, device_generator=device_generator
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_times.append(time.perf_counter() - start)
        print(f"epoch {epoch}: {epoch_times[-1]:.2f} s, loss {loss:.4f}", flush=True)

    eval_times = []
    for _ in range(args.eval_repeats):
        start = time.perf_counter()
        metrics = evaluate(model, test_data, batch_size=args.eval_batch_size, device=device)
        eval_times.append(time.perf_counter() - start)
        print(f"full-ranking pass over {len(test_data)} users: {eval_times[-1]:.2f} s", flush=True)

    summary = {
        "s_per_epoch": round(min(epoch_times), 3),
        "s_per_epoch_mean": round(sum(epoch_times) / len(epoch_times), 3),
        "eval_s": round(min(eval_times), 3),
        "prepare_s": round(prepare_s, 3),
        "epoch_times": [round(t, 3) for t in epoch_times],
        "eval_times": [round(t, 3) for t in eval_times],
        "test_ndcg@10_after_training": round(metrics["ndcg@10"], 5),
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "n_users": split.n_users,
        "n_items": split.n_items,
        "device": str(device),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results", f"rec_speed_{args.model}_{args.loss}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as handle:
        json.dump(summary, handle, indent=2)
    print("SUMMARY " + json.dumps({k: summary[k] for k in ("s_per_epoch", "eval_s", "s_per_epoch_mean", "device")}))


if __name__ == "__main__":
    main()
