"""Latency and JSON validity of the embedded local model on proposal-like calls.

Runs ``--calls`` completions through the sampler's call site (``optuna_vmle._llm.complete_json``)
with a ~300-token prompt asking for five hyperparameters, and reports model load time, the first
generation, median/p90 latency after it, the share of schema-valid replies (structure, and also
numeric ranges, which the grammar cannot enforce) and token counts.

    python benchmarks/local_model.py --calls 20 --out benchmarks/results/local_model.json

The last line printed is ``SUMMARY {json}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import time
from typing import Any

from optuna_vmle import _local_model
from optuna_vmle._llm import complete_json
from optuna_vmle._llm import import_litellm
from optuna_vmle._llm import LLMCallError


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "learning_rate": {"type": "number", "minimum": 1e-5, "maximum": 1e-1},
        "dropout": {"type": "number", "minimum": 0.0, "maximum": 0.5},
        "hidden_size": {"type": "integer", "enum": [64, 128, 256, 512]},
        "num_blocks": {"type": "integer", "minimum": 1, "maximum": 6},
        "optimizer": {"type": "string", "enum": ["adam", "adamw", "sgd"]},
    },
    "required": ["learning_rate", "dropout", "hidden_size", "num_blocks", "optimizer"],
}

_HISTORY = [
    (3e-3, 0.10, 128, 2, "adam", 0.412),
    (1e-4, 0.30, 256, 4, "adamw", 0.455),
    (2e-2, 0.05, 64, 1, "sgd", 0.611),
    (8e-4, 0.20, 512, 3, "adamw", 0.398),
    (5e-3, 0.40, 128, 5, "adam", 0.437),
    (6e-4, 0.25, 256, 2, "adamw", 0.391),
]


def build_messages() -> list[dict[str, str]]:
    """A proposal prompt shaped like the sampler's: task, search space, history, format."""
    history = "\n".join(
        f"- learning_rate={lr:g}, dropout={d}, hidden_size={h}, num_blocks={b}, "
        f"optimizer={o} -> validation loss {loss}"
        for lr, d, h, b, o, loss in _HISTORY
    )
    system = (
        "You are an expert machine learning engineer tuning a sequential recommender "
        "(a small transformer trained on user-item interaction sequences). You propose the "
        "next hyperparameter configuration to evaluate. Lower validation loss is better. "
        "Balance exploiting the best configurations with exploring untested regions."
    )
    user = (
        "Search space:\n"
        "- learning_rate: float in [1e-5, 0.1], log scale\n"
        "- dropout: float in [0.0, 0.5]\n"
        "- hidden_size: one of 64, 128, 256, 512\n"
        "- num_blocks: integer in [1, 6]\n"
        "- optimizer: one of adam, adamw, sgd\n\n"
        f"Trials so far (best validation loss 0.391):\n{history}\n\n"
        "Propose one new configuration that is likely to beat the best loss. Do not repeat a "
        "configuration that was already evaluated. Reply with a single JSON object with the keys "
        "learning_rate, dropout, hidden_size, num_blocks and optimizer, and nothing else."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _call(messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        reply = complete_json(
            model=_local_model.DEFAULT_LOCAL_MODEL,
            messages=messages,
            json_schema=schema,
            temperature=0.8,
            timeout=300,
            max_tokens=128,
            seed=seed,
        )
    except LLMCallError as error:
        return {
            "latency_s": time.perf_counter() - started,
            "valid": False,
            "error": str(error),
        }
    try:
        _local_model.parse_and_validate(reply.content, schema)
        in_range = True
    except _local_model.LocalModelError:
        in_range = False
    return {
        "latency_s": reply.latency_s,
        "valid": True,
        "in_range": in_range,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "content": reply.content,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(calls: int) -> dict[str, Any]:
    messages = build_messages()
    import_litellm()  # seconds of import time that no call should be charged with
    started = time.perf_counter()
    _local_model.get_runner("smollm2-135m")
    load_s = time.perf_counter() - started
    first = _call(messages, SCHEMA, seed=0)
    rest = [_call(messages, SCHEMA, seed=seed) for seed in range(1, calls)]
    # A schema not seen before: shows what a grammar costs once the model is warm.
    new_schema = json.loads(json.dumps(SCHEMA))
    new_schema["properties"]["dropout"]["maximum"] = 0.6
    new_schema_call = _call(messages, new_schema, seed=calls)
    every = [first, *rest]
    latencies = [r["latency_s"] for r in rest] or [first["latency_s"]]
    valid = [r for r in every if r["valid"]]
    return {
        "model": _local_model.DEFAULT_LOCAL_MODEL,
        "calls": calls,
        "load_s": round(load_s, 3),
        "first_generation_s": round(first["latency_s"], 3),
        "first_call_total_s": round(load_s + first["latency_s"], 3),
        "new_schema_call_s": round(new_schema_call["latency_s"], 3),
        "median_latency_s": round(statistics.median(latencies), 3),
        "p90_latency_s": round(_percentile(latencies, 0.9), 3),
        # Parsed and matched the schema's structure (the provider raises otherwise).
        "validity_rate": len(valid) / len(every),
        # Also within the numeric bounds, which the grammar cannot enforce.
        "in_range_rate": sum(r["in_range"] for r in valid) / len(every),
        "prompt_tokens": valid[0]["prompt_tokens"] if valid else None,
        "median_completion_tokens": (
            statistics.median(r["completion_tokens"] for r in valid) if valid else None
        ),
        "errors": [r["error"] for r in every if not r["valid"]],
        "sample_replies": [r["content"] for r in valid[:3]],
        "latencies_s": [round(r["latency_s"], 3) for r in every],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/local_model.json"))
    args = parser.parse_args()
    summary = run(args.calls)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
