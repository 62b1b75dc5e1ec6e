"""Simulated LLMs of graded informativeness, as instant in-process litellm providers.

On a problem whose truth is known (synthetic functions, lookup tables, Bayesmark tasks with a
pool of evaluated configurations), a simulated LLM of quality ``q`` proposes the best of ``k``
configurations drawn from a pool of evaluated ones (the misleading one: the worst), with ``k``
growing with quality. Some noise makes it fallible: with probability ``noise`` a proposal is a
random configuration instead, and continuous values are jittered by ``jitter`` of their range.
The expert also knows a good default, the best of a large draw, and proposes it first. It never
draws the same pool entry twice (a real LLM sees its earlier trials in the prompt).

Requests that are not proposals (reflections, insights, summaries: their schema has no
``params`` property) get random schema-valid replies.

Model strings: ``sim-misleading``, ``sim-random``, ``sim-mediocre``, ``sim-good``,
``sim-expert`` (see :data:`QUALITIES`).
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import json
import math
import os
from pathlib import Path
from typing import Any

from _problems import Problem
from _problems import sample_uniformly
import numpy as np
from optuna.distributions import FloatDistribution


MODEL_PREFIX = "sim-"
POOL_CACHE = Path(__file__).resolve().parent / "results" / "truth-pools"


@dataclass(frozen=True)
class Quality:
    """``k`` configurations drawn per proposal; the best is proposed (the worst if
    ``misleading``); ``noise``: chance of a random proposal; ``jitter``: standard deviation of
    continuous values, as a fraction of their range (log range for log scales)."""

    k: int
    misleading: bool = False
    noise: float = 0.0
    jitter: float = 0.0
    knows_default: bool = False


QUALITIES = {
    "misleading": Quality(k=16, misleading=True),
    "random": Quality(k=1),
    "mediocre": Quality(k=4, noise=0.3, jitter=0.1),
    "good": Quality(k=16, noise=0.1, jitter=0.05),
    "expert": Quality(k=64, noise=0.05, jitter=0.02, knows_default=True),
}


def is_simulated(model: str) -> bool:
    return model.startswith(MODEL_PREFIX) and model[len(MODEL_PREFIX) :] in QUALITIES


@functools.cache
def _pool_of(name: str) -> list[tuple[dict[str, Any], float]]:
    from _problems import get_problem

    return truth_pool(get_problem(name))


def truth_pool(problem: Problem) -> list[tuple[dict[str, Any], float]]:
    """Evaluated random configurations of ``problem`` (its ``pool_size``, seed 0), best and
    worst alike; expensive problems (``pool_cached``) keep theirs under ``results/``."""
    cache = POOL_CACHE / f"{problem.name}-{problem.pool_size}.json"
    if problem.pool_cached and cache.exists():
        return [(p, v) for p, v in json.loads(cache.read_text())]
    rng = np.random.default_rng(0)
    pool, seen = [], set()
    for _ in range(problem.pool_size):
        params = problem.random_params(rng)
        if _key(params) in seen:
            continue
        seen.add(_key(params))
        try:
            value = problem.evaluate(params).value
        except problem.catch:
            continue
        if math.isfinite(value):
            pool.append((params, value))
    if problem.pool_cached:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(pool, default=float))
        os.replace(partial, cache)  # concurrent runs never read a half-written pool
    return pool


class SimulatedLLM:
    """One simulated LLM for one run: ``quality`` on ``problem``, seeded by ``seed``."""

    def __init__(self, problem: Problem, quality: str, seed: int) -> None:
        self.problem = problem
        self.quality = QUALITIES[quality]
        # The pool of a named problem is built once per process (problems are rebuilt per run).
        self._pool = _pool_of(problem.name) if problem.name else truth_pool(problem)
        self._rng = np.random.default_rng(seed)
        self._reply_seed = seed
        self._used: set[int] = set()  # pool entries already proposed
        self._sign = 1.0 if problem.direction == "minimize" else -1.0

    def first_proposal(self) -> dict[str, Any]:
        """What this LLM proposes first (on a fresh instance: the ``tpe-llmfirst`` control)."""
        return self.propose()

    def propose(self) -> dict[str, Any]:
        quality = self.quality
        if quality.knows_default and not self._used:
            params = self._pick(min(len(self._pool), 4 * quality.k))
        elif self._rng.random() < quality.noise:
            params = self.problem.random_params(self._rng)
        else:
            params = self._jittered(self._pick(quality.k))
        return self._complete(params)

    def reply(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        from optuna_vmle.testing import random_valid_reply

        params_schema = schema.get("properties", {}).get("params")
        if params_schema is None:
            self._reply_seed += 1
            return random_valid_reply(self._reply_seed)(messages, schema)
        wanted = params_schema.get("properties", {})
        params = {k: v for k, v in self.propose().items() if k in wanted}
        return json.dumps({"rationale": "simulated", "params": params}, default=float)

    def register(self) -> str:
        from optuna_vmle.testing import ScriptedLLM

        return ScriptedLLM([], default=self.reply).register()

    def _pick(self, k: int) -> dict[str, Any]:
        fresh = [i for i in range(len(self._pool)) if i not in self._used]
        fresh = fresh or list(range(len(self._pool)))
        chosen = self._rng.choice(fresh, size=min(k, len(fresh)), replace=False)
        scores = [self._sign * self._pool[i][1] for i in chosen]
        index = int(
            chosen[int(np.argmax(scores) if self.quality.misleading else np.argmin(scores))]
        )
        self._used.add(index)
        return dict(self._pool[index][0])

    def _jittered(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.quality.jitter:
            return params
        out = dict(params)
        for name, d in self.problem.search_space.items():
            if name not in out or not isinstance(d, FloatDistribution) or d.step is not None:
                continue
            if d.log:
                low, high, x = math.log(d.low), math.log(d.high), math.log(out[name])
            else:
                low, high, x = d.low, d.high, out[name]
            x = min(max(x + self._rng.normal(0, self.quality.jitter * (high - low)), low), high)
            out[name] = float(math.exp(x) if d.log else x)
            out[name] = min(max(out[name], d.low), d.high)
        return out

    def _complete(self, params: dict[str, Any]) -> dict[str, Any]:
        """A value for every parameter (a conditional one the configuration does not use
        included), as an LLM answering the schema gives."""
        out = dict(params)
        for name, d in self.problem.search_space.items():
            if name not in out:
                out[name] = sample_uniformly(d, self._rng)
        return out


def _key(params: dict[str, Any]) -> str:
    return json.dumps(
        {k: round(v, 10) if isinstance(v, float) else v for k, v in sorted(params.items())},
        default=str,
    )
