"""Why SASRec was below its published numbers on Beauty: one change at a time (issue 14).

Every variant starts from the SASRec this package had before the fix (Xavier init, pre-LN
blocks, ReLU feed-forward, item embeddings scaled by sqrt(d)) and changes one thing; all are
trained by :func:`optuna_vmle.rec.fit` with BCE, hidden 64, 2 blocks, 2 heads, dropout 0.5,
batch 128, Adam(0.9, 0.98) lr 1e-3, for a few epochs (6 by default). The training loss and the
validation NDCG@10 after those epochs are what the variants are compared on.

    OMP_NUM_THREADS=1 nohup python benchmarks/rec_ablation.py --epochs 6 > rec_ablation.log 2>&1 &

Results are rewritten after every epoch (``benchmarks/reports/rec/ablation.json``); a rerun
skips finished variants. The last line is ``SUMMARY {...}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import torch
from torch import nn


sys.path.insert(0, str(Path(__file__).resolve().parent))
from rec_common import data_file
from rec_common import REPORTS_DIR
from rec_common import require_files
from rec_common import ResultsFile
from rec_common import train_and_record

from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import load_sequences
from optuna_vmle.rec import SASRec
from optuna_vmle.rec import TrainingConfig


def post_ln(model: SASRec) -> None:
    """LayerNorm after each residual sum (the original Transformer, pmixer's default)."""

    def forward(block, x, mask):
        x = block.attention_norm(x + block.dropout(block.attention(x, mask)))
        return block.feed_forward_norm(x + block.dropout(block.feed_forward(x)))

    for block in model.blocks:
        block.forward = forward.__get__(block)


def gelu_4x(model: SASRec) -> None:
    """S3Rec's feed-forward: 4x wider, GELU (new layers Xavier-initialised like the rest)."""
    for block in model.blocks:
        d, p = block.feed_forward[0].in_features, block.feed_forward[2].p
        block.feed_forward = nn.Sequential(
            nn.Linear(d, 4 * d), nn.GELU(), nn.Dropout(p), nn.Linear(4 * d, d)
        )
        for parameter in block.feed_forward.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)


def no_sqrt_scaling(model: SASRec) -> None:
    """Item embeddings added to the positions as they are, not multiplied by sqrt(d)."""
    embedding = model.embedding

    def forward(items):
        length = items.shape[1]
        positions = torch.arange(embedding.maxlen - length, embedding.maxlen, device=items.device)
        return embedding.dropout(embedding.items(items) + embedding.positions(positions))

    embedding.forward = forward


def normal_positions(model: SASRec) -> None:
    nn.init.normal_(model.embedding.positions.weight, std=0.02)


def normal_items(model: SASRec) -> None:
    nn.init.normal_(model.embedding.items.weight, std=0.02)


def normal_linear(model: SASRec) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)


VARIANTS = {
    "before (Xavier)": [],
    "post-LN": [post_ln],
    "GELU 4x feed-forward": [gelu_4x],
    "no sqrt(d) scaling": [no_sqrt_scaling],
    "N(0, 0.02) positions": [normal_positions],
    "N(0, 0.02) items": [normal_items],
    "N(0, 0.02) Linear layers": [normal_linear],
    "N(0, 0.02) everywhere (the fix)": [],
}
INITS = {"N(0, 0.02) everywhere (the fix)": "normal"}
BATCH_VARIANTS = {"batch 256": 256}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(data_file("Beauty.txt")))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=[*VARIANTS, *BATCH_VARIANTS])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPORTS_DIR / "ablation.json"))
    parser.add_argument("--summary-only", action="store_true")
    return parser.parse_args()


def build(name: str, n_items: int, seed: int) -> SASRec:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SASRec(
            n_items=n_items,
            maxlen=50,
            hidden_size=64,
            num_blocks=2,
            num_heads=2,
            dropout=0.5,
            init=INITS.get(name, "xavier"),
        )
        for change in VARIANTS.get(name, []):
            change(model)
    return model


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    results = ResultsFile(args.out, meta={"data": Path(args.data).name, "epochs": args.epochs})
    if not args.summary_only:
        require_files(args.data)
        split = leave_one_out(load_sequences(args.data))
        for name in args.variants:
            key = f"{name}/seed{args.seed}"
            if results.done(key):
                continue
            model = build(name, split.n_items, args.seed)
            config = TrainingConfig(
                loss="bce",
                batch_size=BATCH_VARIANTS.get(name, 128),
                max_epochs=args.epochs,
                patience=None,
                seed=args.seed,
            )
            train_and_record(
                results, key, {"variant": name, "seed": args.seed}, model, split, config
            )
    summary = {
        key: {
            "loss": run["curve"][-1][1],
            "valid_ndcg@10": run["curve"][-1][2],
            "epochs": run["epochs"],
        }
        for key, run in results.runs.items()
        if run.get("finished")
    }
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
