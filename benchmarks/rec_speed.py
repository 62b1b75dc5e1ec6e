"""Training and full-ranking speed of SASRec/HSTU, side by side with pmixer/SASRec.pytorch.

With ``--reference DIR`` (the ``python/`` folder of a checkout of
https://github.com/pmixer/SASRec.pytorch; nothing of it is copied here), the reference is
imported from DIR and trained in the same process, on the same data, in the same
configuration (hidden 50, 2 blocks, 1 head, dropout 0.2, maxlen 50, batch 128, BCE, Adam
1e-3), alternating epochs with ours, so that both see the same machine load:

    git clone https://github.com/pmixer/SASRec.pytorch /tmp/pmixer
    python benchmarks/rec_speed.py --reference /tmp/pmixer/python --epochs 3

An epoch is one pass over the users: the reference draws ``ceil(users / batch)`` batches of
``maxlen``-wide windows from its sampler processes; ours runs every user's window once, in
length buckets. The reference's evaluator samples 100 negatives, so only training is compared;
our full-ranking pass is timed alone. Prints seconds per epoch, the ratio, then one line
``SUMMARY {...}`` (JSON), and writes the same JSON to ``benchmarks/reports/rec/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import sys
import tempfile
import time

import numpy as np
import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))
from rec_common import data_file
from rec_common import REPORTS_DIR
from rec_common import require_files

from optuna_vmle.rec import evaluate
from optuna_vmle.rec import evaluation_data
from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import load_sequences
from optuna_vmle.rec import model_spec
from optuna_vmle.rec import select_device
from optuna_vmle.rec import train_epoch
from optuna_vmle.rec import TrainingConfig


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(data_file("Beauty.txt")))
    parser.add_argument("--reference", default=None, help="pmixer/SASRec.pytorch's python/ folder")
    parser.add_argument("--model", choices=["sasrec", "hstu"], default="sasrec")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eval-repeats", type=int, default=2)
    parser.add_argument("--hidden-size", type=int, default=50)
    parser.add_argument("--num-blocks", type=int, default=2)
    parser.add_argument("--num-heads", type=int, default=1)
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--loss", choices=["bce", "sampled_softmax", "full_ce"], default="bce")
    parser.add_argument("--num-negatives", type=int, default=256)
    parser.add_argument(
        "--no-bucketing", action="store_true", help="random batches instead of length buckets"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--out", default=None, help="JSON output path (default benchmarks/reports/rec/)"
    )
    return parser.parse_args()


class ReferenceSASRec:
    """pmixer/SASRec.pytorch imported from its folder, driven as its ``main.py`` trains it."""

    def __init__(self, folder: str, split, args: argparse.Namespace, workdir: str) -> None:
        sys.path.insert(0, folder)
        import model as reference_model  # the reference's own modules
        import utils as reference_utils

        # Its loader reads "data/<name>.txt" (user item per line) from the working directory.
        os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
        with open(os.path.join(workdir, "data", "bench.txt"), "w") as handle:
            for user, (train, valid, test) in enumerate(
                zip(split.train, split.valid_targets, split.test_targets, strict=True), start=1
            ):
                handle.writelines(
                    f"{user} {item}\n" for item in [*train.tolist(), int(valid), int(test)]
                )
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            user_train, _, _, n_users, n_items = reference_utils.data_partition("bench")
        finally:
            os.chdir(cwd)
        self.n_batches = (len(user_train) - 1) // args.batch_size + 1
        self.sampler = reference_utils.WarpSampler(
            user_train,
            n_users,
            n_items,
            batch_size=args.batch_size,
            maxlen=args.maxlen,
            n_workers=3,
        )
        options = argparse.Namespace(
            device="cpu",
            norm_first=False,
            hidden_units=args.hidden_size,
            maxlen=args.maxlen,
            dropout_rate=args.dropout,
            num_heads=args.num_heads,
            num_blocks=args.num_blocks,
        )
        torch.manual_seed(0)
        self.model = reference_model.SASRec(n_users, n_items, options)
        for parameter in self.model.parameters():
            if parameter.dim() > 1:
                torch.nn.init.xavier_normal_(parameter)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.98))
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.n_items = n_items

    def epoch(self) -> float:
        self.model.train()
        for _ in range(self.n_batches):
            users, seqs, positives, negatives = (np.array(x) for x in self.sampler.next_batch())
            positive_logits, negative_logits = self.model(users, seqs, positives, negatives)
            self.optimizer.zero_grad()
            indices = np.where(positives != 0)
            loss = self.criterion(
                positive_logits[indices], torch.ones_like(positive_logits[indices])
            )
            loss = loss + self.criterion(
                negative_logits[indices], torch.zeros_like(negative_logits[indices])
            )
            loss.backward()
            self.optimizer.step()
        return loss.item()

    def close(self) -> None:
        self.sampler.close()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    require_files(args.data)
    device = select_device(args.device)

    start = time.perf_counter()
    split = leave_one_out(load_sequences(args.data))
    test_data = evaluation_data(split, args.maxlen, "test")
    prepare_s = time.perf_counter() - start

    params = {
        "maxlen": args.maxlen,
        "hidden_size": args.hidden_size,
        "num_blocks": args.num_blocks,
        "num_heads": args.num_heads,
        "dropout": args.dropout,
        "linear_dim": None,
        "attention_dim": None,
        "attention_dropout": 0.0,
        "temperature": 0.05,
    }
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = model_spec(args.model).build(split.n_items, params).to(device)
    config = TrainingConfig(
        loss=args.loss,
        num_negatives=args.num_negatives,
        batch_size=args.batch_size,
        bucketed_batches=not args.no_bucketing,
    )
    optimizer = config.make_optimizer(model.parameters())
    generator = torch.Generator().manual_seed(0)
    device_generator = torch.Generator(device=device).manual_seed(1)

    reference = None
    workdir = tempfile.mkdtemp(prefix="rec_speed_reference_")
    if args.reference:
        reference = ReferenceSASRec(args.reference, split, args, workdir)
        reference.epoch()  # warm-up: its sampler processes start filling their queue

    ours_s, reference_s = [], []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(
            model,
            split,
            optimizer,
            config,
            device=device,
            generator=generator,
            device_generator=device_generator,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        ours_s.append(time.perf_counter() - start)
        line = f"epoch {epoch}: ours {ours_s[-1]:.2f} s (loss {loss:.4f})"
        if reference is not None:
            start = time.perf_counter()
            reference_loss = reference.epoch()
            reference_s.append(time.perf_counter() - start)
            line += f", reference {reference_s[-1]:.2f} s (loss {reference_loss:.4f})"
        print(line, flush=True)

    eval_s = []
    for _ in range(args.eval_repeats):
        start = time.perf_counter()
        metrics = evaluate(model, test_data, device=device)
        eval_s.append(time.perf_counter() - start)
    if reference is not None:
        reference.close()
    print(f"full-ranking pass over {len(test_data)} users: ours {min(eval_s):.2f} s", flush=True)

    summary = {
        "ours_s_per_epoch": round(min(ours_s), 3),
        "ours_eval_s": round(min(eval_s), 3),
        "reference_s_per_epoch": round(min(reference_s), 3) if reference_s else None,
        "speedup_per_epoch": round(min(reference_s) / min(ours_s), 2) if reference_s else None,
        "speedup_per_epoch_mean": round(sum(reference_s) / sum(ours_s), 2) if reference_s else None,
        "ours_epoch_times": [round(t, 3) for t in ours_s],
        "reference_epoch_times": [round(t, 3) for t in reference_s],
        "test_ndcg@10_after_training": round(metrics["ndcg@10"], 5),
        "prepare_s": round(prepare_s, 3),
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "n_users": split.n_users,
        "n_items": split.n_items,
        "device": str(device),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
    }
    out = Path(args.out or REPORTS_DIR / f"speed_{args.model}_{args.loss}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    keys = (
        "ours_s_per_epoch",
        "reference_s_per_epoch",
        "speedup_per_epoch",
        "speedup_per_epoch_mean",
        "ours_eval_s",
    )
    print("SUMMARY " + json.dumps({k: summary[k] for k in keys}))


if __name__ == "__main__":
    main()
