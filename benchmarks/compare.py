"""Compare samplers on benchmark problems under the same trial budget.

Every (problem, sampler, seed) run is cached as JSON under ``--out/runs`` by a hash of its
configuration, so a rerun skips finished runs and a killed comparison resumes where it stopped.
The report (``results.md``, ``plots/*.png``, ``summary.json``) is rebuilt from the cache each time.

Usage::

    python benchmarks/compare.py --problems hpo-mixed branin-cat styblinski-int \\
        --samplers tpe random gp cmaes --seeds 5 --trials 30
    python benchmarks/compare.py --dry          # smoke run in a temporary directory

Metrics per run (lower regret is better whatever the direction):

- best-so-far curve, and final best;
- trials-to-target: first trial whose best-so-far reaches the target, the median final best of
  TPE on that problem and budget (``None`` when never reached);
- regret AUC: the mean over trials of the best-so-far's normalised regret
  ``(best - optimum) / (reference - optimum)`` clipped to [0, 1], where the reference is the
  median value of random configurations; 0 means optimal from the first trial;
- wall time, sampler time excluding the LLM (time inside the sampler's methods minus the time
  inside ``litellm.completion``), LLM calls and time, and tokens (``vmle:*_tokens`` attributes).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import hashlib
import json
import math
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any

import numpy as np
import optuna


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _problems import FAST_PROBLEMS  # noqa: E402
from _problems import get_problem  # noqa: E402
from _problems import Problem  # noqa: E402
from _simulated_llms import is_simulated  # noqa: E402
from _simulated_llms import QUALITIES  # noqa: E402
from _simulated_llms import SimulatedLLM  # noqa: E402


HARNESS_VERSION = 2
SAMPLERS = (
    "vmle",
    "tpe",
    "random",
    "gp",
    "cmaes",
    # Ablations and transfer (issue 6): each removes or adds one mechanism.
    "vmle-noreflect",
    "vmle-noinsights",
    "vmle-noguard",
    "vmle-nollm",
    "vmle-transfer",
    "tpe-warm",
    # Adaptive trust (issue 11): the guarded sampler and full trust, both without reflection,
    # and TPE started from the LLM's first proposal (a good default told apart from the LLM).
    "vmle-guard",
    "vmle-fulltrust",
    "tpe-llmfirst",
)
# vmle variants: constructor overrides on top of the full sampler.
VMLE_VARIANTS: dict[str, dict[str, Any]] = {
    "vmle": {},
    "vmle-noreflect": {"reflect": False},  # no reflection, hence no insights either
    "vmle-noguard": {"llm_bonus": None},
    "vmle-noinsights": {"insight_interval": None},  # reflections, but never consolidated
    # The LLM replaced by the fallback: every reply is unusable, so the guard alone decides.
    "vmle-nollm": {"reflect": False, "max_repair_rounds": 0},
    "vmle-transfer": {"warm_start": 2},
    "vmle-guard": {"reflect": False},
    "vmle-fulltrust": {"reflect": False, "llm_bonus": None},
}
# How many transferred configurations warm-start a study (vmle-transfer and tpe-warm alike).
WARM_START = 2
REFERENCE_SAMPLER = "tpe"
DEFAULT_MODEL = "vmle-local/smollm2-135m"
SCRIPTED_MODEL = "scripted"
# A weak scripted LLM whose proposals stay around one configuration (like the tiny embedded one).
CLUSTERED_MODEL = "scripted-clustered"
UNUSABLE_MODEL = "scripted-unusable"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "compare"
TIMED_SAMPLER_METHODS = (
    "infer_relative_search_space",
    "sample_relative",
    "sample_independent",
    "before_trial",
    "after_trial",
)


# --- Samplers ------------------------------------------------------------------------------


class SamplerTimer:
    """Accumulates, per trial number, the time spent inside a sampler's methods and in the LLM.

    The methods are wrapped on the instance, so ``isinstance`` checks still see the real sampler.
    Only the outermost call is timed, so a method that calls another is not counted twice.
    LLM calls are timed at ``litellm.completion`` (see :meth:`timing_llm_calls`), so every call
    counts, proposals and reflections alike, whatever attributes the sampler records.
    """

    def __init__(self, sampler: optuna.samplers.BaseSampler) -> None:
        self.seconds_by_trial: dict[int, float] = defaultdict(float)
        self.llm_seconds_by_trial: dict[int, float] = defaultdict(float)
        self.llm_calls_by_trial: dict[int, int] = defaultdict(int)
        self._depth = 0
        self._trial_number = -1
        for name in TIMED_SAMPLER_METHODS:
            setattr(sampler, name, self._timed(getattr(sampler, name)))

    def _timed(self, method: Any) -> Any:
        def timed(study: optuna.Study, trial: optuna.trial.FrozenTrial, *args: Any, **kw: Any):
            self._depth += 1
            self._trial_number = trial.number
            started = time.perf_counter()
            try:
                return method(study, trial, *args, **kw)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds_by_trial[trial.number] += time.perf_counter() - started

        return timed

    @contextlib.contextmanager
    def timing_llm_calls(self) -> Iterator[None]:
        """Time ``litellm.completion`` calls made inside the sampler, by trial."""
        from optuna_vmle._llm import import_litellm

        litellm = import_litellm()
        completion = litellm.completion

        def timed_completion(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return completion(*args, **kwargs)
            finally:
                self.llm_seconds_by_trial[self._trial_number] += time.perf_counter() - started
                self.llm_calls_by_trial[self._trial_number] += 1

        litellm.completion = timed_completion
        try:
            yield
        finally:
            litellm.completion = completion

    def sampler_seconds(self, trial_number: int) -> float:
        """Time in the sampler's methods for one trial, without its LLM calls."""
        spent = self.seconds_by_trial[trial_number] - self.llm_seconds_by_trial[trial_number]
        return max(spent, 0.0)


def make_sampler(
    name: str,
    *,
    seed: int,
    problem: Problem,
    model: str,
    budget: int,
    workdir: Path,
    transfer_from: Path | None = None,
) -> optuna.samplers.BaseSampler:
    """Build sampler ``name``; raises ``ImportError`` when its dependencies are missing.

    vmle keeps its memory in a fresh database under ``workdir`` and never answers from stored
    transcripts, so that runs are independent and every proposal is a real LLM call.
    """
    if name in ("tpe", "tpe-warm", "tpe-llmfirst"):
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        # Categorical parameters fall back to independent (random) sampling.
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name in VMLE_VARIANTS:
        from optuna_vmle import import_summaries
        from optuna_vmle import LearningOptions
        from optuna_vmle import LLMOptions
        from optuna_vmle import StoreOptions
        from optuna_vmle import TransferOptions
        from optuna_vmle import VirtualMLESampler

        memory_url = f"sqlite:///{workdir / 'vmle-memory.db'}"
        if name == "vmle-transfer":
            import_summaries(memory_url, transfer_from)
        if name == "vmle-nollm":
            model = UNUSABLE_MODEL
        variant = dict(VMLE_VARIANTS[name])
        learning = {k: variant.pop(k) for k in ("reflect", "insight_interval") if k in variant}
        llm = {k: variant.pop(k) for k in ("max_repair_rounds",) if k in variant}
        transfer = {k: variant.pop(k) for k in ("warm_start",) if k in variant}
        return VirtualMLESampler(
            model=resolve_model(model, seed, problem),
            task=problem.task,
            search_space=problem.search_space,
            seed=seed,
            budget=budget,
            llm=LLMOptions(**llm),
            # Learning in the foreground keeps runs reproducible and independent.
            learning=LearningOptions(background=False, **learning),
            store=StoreOptions(url=memory_url, reuse="never"),
            transfer=TransferOptions(descriptors=problem.descriptors, **transfer),
            **variant,
        )
    raise ValueError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")


def resolve_model(model: str, seed: int, problem: Problem | None = None) -> str:
    """Scripted models are instant in-process LLMs: ``scripted`` gives random schema-valid
    replies, ``scripted-clustered`` proposals around one configuration, ``sim-<quality>``
    proposals as informed as the quality says (``_simulated_llms``)."""
    from optuna_vmle.testing import clustered_reply
    from optuna_vmle.testing import random_valid_reply
    from optuna_vmle.testing import ScriptedLLM

    if is_simulated(model):
        assert problem is not None, "a simulated LLM needs the problem it knows"
        return SimulatedLLM(problem, model.removeprefix("sim-"), seed).register()
    if model == SCRIPTED_MODEL:
        return ScriptedLLM([], default=random_valid_reply(seed)).register()
    if model == CLUSTERED_MODEL:
        return ScriptedLLM([], default=clustered_reply(seed)).register()
    if model == UNUSABLE_MODEL:
        return ScriptedLLM([], default="no proposal").register()
    return model


# --- One run -------------------------------------------------------------------------------


def run_config(
    problem: str, sampler: str, seed: int, trials: int, model: str, transfer_from: Path | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "problem": problem,
        "sampler": sampler,
        "seed": seed,
        "trials": trials,
    }
    if sampler.startswith("vmle") or sampler == "tpe-llmfirst":
        config["model"] = UNUSABLE_MODEL if sampler == "vmle-nollm" else model
    if sampler == "tpe-llmfirst" and not is_simulated(model):
        raise SystemExit("tpe-llmfirst needs a simulated LLM (--model sim-<quality>)")
    if sampler in ("vmle-transfer", "tpe-warm"):
        if transfer_from is None:
            raise SystemExit(f"{sampler} needs --transfer-from SUMMARIES.json")
        config["transfer_from"] = str(transfer_from)
        config["transfer_sha"] = hashlib.sha256(transfer_from.read_bytes()).hexdigest()[:12]
    config["harness_version"] = HARNESS_VERSION
    return config


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def run_path(out: Path, config: dict[str, Any]) -> Path:
    name = f"{config['sampler']}-s{config['seed']}-t{config['trials']}-{config_hash(config)}.json"
    return out / "runs" / config["problem"] / name


def llm_tokens(trials: Sequence[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """Tokens and provenance from the ``vmle:`` attributes the sampler records."""

    def total(suffix: str) -> list[int]:
        return [
            sum(
                int(v or 0)
                for k, v in t.user_attrs.items()
                if k.startswith("vmle:") and k.endswith(suffix)
            )
            for t in trials
        ]

    prompt = total("prompt_tokens")
    sources: dict[str, int] = defaultdict(int)
    for t in trials:
        if "vmle:source" in t.user_attrs:
            sources[t.user_attrs["vmle:source"]] += 1
    return {
        "prompt_tokens_by_trial": prompt,
        "prompt_tokens": sum(prompt),
        "completion_tokens": sum(total("completion_tokens")),
        "sources": dict(sources),
    }


def run_study(
    problem: Problem,
    sampler_name: str,
    *,
    seed: int,
    trials: int,
    model: str,
    transfer_from: Path | None = None,
) -> tuple[optuna.Study, SamplerTimer, float]:
    """Optimise ``problem`` with a fresh sampler; returns the study, its timer and wall time."""
    with tempfile.TemporaryDirectory(prefix="vmle-bench-") as workdir:
        sampler = make_sampler(
            sampler_name,
            seed=seed,
            problem=problem,
            model=model,
            budget=trials,
            workdir=Path(workdir),
            transfer_from=transfer_from,
        )
        timer = SamplerTimer(sampler)
        # No pruning: a pruner would end the trials of different samplers at different epochs.
        study = optuna.create_study(
            direction=problem.direction, sampler=sampler, pruner=optuna.pruners.NopPruner()
        )
        if sampler_name == "tpe-warm":
            # The fair baseline for transfer: TPE starting from the same transferred configs.
            for params in warm_start_configs(problem, transfer_from):
                study.enqueue_trial(params, skip_if_exists=True)
        if sampler_name == "tpe-llmfirst":
            # The same first proposal the vmle run of this seed gets, run by TPE.
            first = SimulatedLLM(problem, model.removeprefix("sim-"), seed).first_proposal()
            study.enqueue_trial(first)
        llm_timing = (
            timer.timing_llm_calls()
            if sampler_name.startswith("vmle")
            else contextlib.nullcontext()
        )
        started = time.perf_counter()
        with llm_timing:
            study.optimize(problem.objective, n_trials=trials, catch=problem.catch)
        return study, timer, time.perf_counter() - started


def warm_start_configs(problem: Problem, transfer_from: Path | None) -> list[dict[str, Any]]:
    """The configurations vmle-transfer warm-starts with, retrieved and mapped the same way."""
    from optuna_vmle._transfer import read_summaries_file
    from optuna_vmle._transfer import retrieve_summaries
    from optuna_vmle._transfer import transferred_configs

    assert transfer_from is not None
    retrieved = retrieve_summaries(read_summaries_file(transfer_from), problem.descriptors)
    return [
        params for _, params in transferred_configs(retrieved, problem.search_space, WARM_START)
    ]


def run_one(config: dict[str, Any], problem: Problem) -> dict[str, Any]:
    transfer_from = config.get("transfer_from")
    study, timer, wall = run_study(
        problem,
        config["sampler"],
        seed=config["seed"],
        trials=config["trials"],
        model=config.get("model", ""),
        transfer_from=Path(transfer_from) if transfer_from else None,
    )
    trials = study.get_trials(deepcopy=False)
    values = [t.value if t.state == optuna.trial.TrialState.COMPLETE else None for t in trials]
    sampler_s = [timer.sampler_seconds(t.number) for t in trials]
    return {
        "config": config,
        "values": values,
        "curve": best_so_far(values, problem.direction),
        "params": [t.params for t in trials],
        "wall_s": wall,
        "sampler_s_by_trial": sampler_s,
        "sampler_s": sum(sampler_s),
        "llm_s": sum(timer.llm_seconds_by_trial.values()),
        "llm_calls": sum(timer.llm_calls_by_trial.values()),
        "sources_by_trial": [t.user_attrs.get("vmle:source") for t in trials],
        "screen_by_trial": [t.user_attrs.get("vmle:screen") for t in trials],
        "trust_by_trial": trust_by_trial(study, trials),
        **llm_tokens(trials),
    }


def trust_by_trial(
    study: optuna.Study, trials: Sequence[optuna.trial.FrozenTrial]
) -> list[float] | None:
    """The LLM's trust share as the guard saw it before each trial (from the trials before)."""
    from optuna_vmle._trust import trust_from_trials

    if not any("vmle:source" in t.user_attrs for t in trials):
        return None
    return [
        round(trust_from_trials(trials[:i], study.direction).share, 4) for i in range(len(trials))
    ]


def write_json_atomically(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    os.replace(tmp, path)


# --- Curve metrics -------------------------------------------------------------------------


def best_so_far(values: Sequence[float | None], direction: str) -> list[float | None]:
    """Best value after each trial; ``None`` until the first completed trial."""
    better = min if direction == "minimize" else max
    curve: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and not math.isnan(value):
            best = value if best is None else better(best, value)
        curve.append(best)
    return curve


def trials_to_target(
    curve: Sequence[float | None], target: float | None, direction: str
) -> int | None:
    """1-based index of the first trial whose best-so-far reaches ``target``."""
    if target is None:
        return None
    for index, best in enumerate(curve, start=1):
        if best is not None and (best <= target if direction == "minimize" else best >= target):
            return index
    return None


def regret_auc(
    curve: Sequence[float | None], optimum: float | None, reference: float | None
) -> float | None:
    """Mean normalised regret of the best-so-far; a trial before any result counts as 1."""
    if optimum is None or reference is None or reference == optimum or not curve:
        return None
    regrets = [
        1.0 if best is None else min(max((best - optimum) / (reference - optimum), 0.0), 1.0)
        for best in curve
    ]
    return float(np.mean(regrets))


# --- Aggregation and report ----------------------------------------------------------------


def quartiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float(q25), float(q50), float(q75)


def summarise_problem(
    problem: Problem, runs_by_sampler: dict[str, list[dict[str, Any]]], trials: int
) -> dict[str, Any]:
    """Per-sampler medians and IQRs for one problem."""
    reference_finals = [
        run["curve"][-1]
        for run in runs_by_sampler.get(REFERENCE_SAMPLER, [])
        if run["curve"][-1] is not None
    ]
    target = float(np.median(reference_finals)) if reference_finals else None
    reference = problem.reference_worst()
    samplers: dict[str, Any] = {}
    for sampler, runs in runs_by_sampler.items():
        finals = [run["curve"][-1] for run in runs if run["curve"][-1] is not None]
        hits = [trials_to_target(run["curve"], target, problem.direction) for run in runs]
        # An unreached target ranks after every reached one: count it as budget + 1.
        ttt = [trials + 1 if hit is None else hit for hit in hits]
        aucs = [regret_auc(run["curve"], problem.optimum, reference) for run in runs]
        samplers[sampler] = {
            "runs": len(runs),
            "final_best": quartiles(finals),
            "trials_to_target": quartiles(ttt) if target is not None else None,
            "target_reached": sum(hit is not None for hit in hits),
            "regret_auc": quartiles([a for a in aucs if a is not None]),
            "wall_s": quartiles([run["wall_s"] for run in runs]),
            "sampler_ms_per_trial": quartiles(
                [1000 * run["sampler_s"] / max(len(run["values"]), 1) for run in runs]
            ),
            "llm_calls": quartiles([run["llm_calls"] for run in runs]),
            "prompt_tokens": quartiles([run["prompt_tokens"] for run in runs]),
            "completion_tokens": quartiles([run["completion_tokens"] for run in runs]),
            "failed_trials": int(sum(v is None for run in runs for v in run["values"])),
        }
    return {
        "direction": problem.direction,
        "optimum": problem.optimum,
        "reference_worst": reference,
        "target": target,
        "samplers": samplers,
    }


def _fmt(stats: tuple[float, float, float] | None, digits: int = 4, cap: int | None = None) -> str:
    if stats is None:
        return "n/a"
    q25, q50, q75 = stats

    def one(x: float) -> str:
        if cap is not None and x > cap:
            return f">{cap}"
        return f"{x:.{digits}g}"

    return f"{one(q50)} [{one(q25)}, {one(q75)}]"


def markdown_report(summary: dict[str, Any], trials: int, seeds: int) -> str:
    lines = [
        f"# Sampler comparison ({trials} trials, {seeds} seeds)",
        "",
        "Median [25th, 75th percentile] over seeds. Target = median final best of TPE;",
        f"`>{trials}` = not reached within the budget. Regret AUC: 0 = optimal from trial 1,",
        "1 = never better than the median random configuration. Sampler time excludes the",
        "objective and the LLM.",
        "",
    ]
    for name, problem in summary["problems"].items():
        target = problem["target"]
        lines += [
            f"## {name} ({problem['direction']}; optimum {problem['optimum']}, "
            f"reference {_fmt_number(problem['reference_worst'])}, target {_fmt_number(target)})",
            "",
            "| sampler | final best | trials to target | reached | regret AUC | wall s "
            "| sampler ms/trial | LLM calls | prompt tokens | completion tokens |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for sampler, s in problem["samplers"].items():
            lines.append(
                f"| {sampler} | {_fmt(s['final_best'])} | {_fmt(s['trials_to_target'], 3, trials)}"
                f" | {s['target_reached']}/{s['runs']} | {_fmt(s['regret_auc'], 3)}"
                f" | {_fmt(s['wall_s'], 3)} | {_fmt(s['sampler_ms_per_trial'], 3)}"
                f" | {_fmt(s['llm_calls'], 3)} | {_fmt(s['prompt_tokens'], 4)}"
                f" | {_fmt(s['completion_tokens'], 4)} |"
            )
        lines += [
            "",
            f"![best so far](plots/{name}_curves.png) "
            f"![trials to target](plots/{name}_trials_to_target.png)",
            "",
        ]
    return "\n".join(lines)


def _fmt_number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def plot_problem(
    name: str,
    problem: dict[str, Any],
    runs_by_sampler: dict[str, list[dict[str, Any]]],
    trials: int,
    plots: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for sampler, runs in runs_by_sampler.items():
        curves = np.array(
            [[np.nan if b is None else b for b in run["curve"]] for run in runs], dtype=float
        )
        x = np.arange(1, curves.shape[1] + 1)
        with np.errstate(all="ignore"):
            q25, q50, q75 = np.nanpercentile(curves, [25, 50, 75], axis=0)
        (line,) = ax.plot(x, q50, label=sampler)
        ax.fill_between(x, q25, q75, color=line.get_color(), alpha=0.2)
    if problem["target"] is not None:
        ax.axhline(problem["target"], color="grey", linestyle="--", linewidth=1, label="target")
    ax.set(xlabel="trial", ylabel="best so far", title=f"{name}: median and IQR")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plots / f"{name}_curves.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(problem["samplers"])
    stats = [problem["samplers"][s]["trials_to_target"] or (np.nan,) * 3 for s in names]
    medians = np.array([q50 for _, q50, _ in stats])
    errors = np.array([[q50 - q25 for q25, q50, _ in stats], [q75 - q50 for _, q50, q75 in stats]])
    ax.bar(names, medians, yerr=errors, capsize=4, color="tab:blue")
    ax.axhline(trials + 1, color="grey", linestyle=":", linewidth=1, label="not reached")
    ax.set(ylabel="trials to target", title=f"{name}: median and IQR")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plots / f"{name}_trials_to_target.png", dpi=100)
    plt.close(fig)


# --- Command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=list(FAST_PROBLEMS))
    parser.add_argument(
        "--samplers", nargs="+", default=["tpe", "random", "gp", "cmaes"], choices=SAMPLERS
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0..n-1)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="start the seeds here, to split one comparison over processes",
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model for vmle; {SCRIPTED_MODEL!r} = instant random replies, "
        f"{CLUSTERED_MODEL!r} = instant replies around one configuration, "
        f"sim-<{'|'.join(QUALITIES)}> = simulated LLMs that know the problem",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--dry",
        action="store_true",
        help="smoke run: 6 trials, 2 seeds, fast problems, temporary --out",
    )
    parser.add_argument(
        "--transfer-from",
        type=Path,
        default=None,
        help="exported cognition summaries for vmle-transfer and tpe-warm",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.dry:
        args.trials, args.seeds = 6, 2
        args.problems = [p for p in args.problems if p in FAST_PROBLEMS] or list(FAST_PROBLEMS)
        args.out = args.out or Path(tempfile.mkdtemp(prefix="vmle-compare-dry-"))
    args.out = args.out or DEFAULT_OUT
    if REFERENCE_SAMPLER not in args.samplers:
        # The trials-to-target target comes from TPE's runs.
        args.samplers = [REFERENCE_SAMPLER, *args.samplers]
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from tqdm import tqdm

    problems = {name: get_problem(name) for name in args.problems}
    configs = [
        run_config(p, s, seed, args.trials, args.model, args.transfer_from)
        for p in args.problems
        for s in args.samplers
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    counts = {"ran": 0, "cached": 0, "skipped": 0}
    skipped_samplers: dict[str, str] = {}
    progress = tqdm(configs, disable=args.no_progress, file=sys.stderr, unit="run")
    for config in progress:
        progress.set_description(f"{config['problem']}/{config['sampler']}/s{config['seed']}")
        path = run_path(args.out, config)
        if path.exists():
            record = json.loads(path.read_text())
            counts["cached"] += 1
        elif config["sampler"] in skipped_samplers:
            counts["skipped"] += 1
            continue
        else:
            try:
                record = run_one(config, problems[config["problem"]])
            except ImportError as error:
                skipped_samplers[config["sampler"]] = str(error)
                counts["skipped"] += 1
                continue
            write_json_atomically(path, record)
            counts["ran"] += 1
        runs[config["problem"]][config["sampler"]].append(record)

    summary: dict[str, Any] = {
        "out": str(args.out),
        "trials": args.trials,
        "seeds": args.seeds,
        "model": args.model
        if any(s.startswith("vmle") or s == "tpe-llmfirst" for s in args.samplers)
        else None,
        "transfer_from": str(args.transfer_from) if args.transfer_from else None,
        **counts,
        "skipped_samplers": skipped_samplers,
        "problems": {
            name: summarise_problem(problems[name], runs[name], args.trials)
            for name in args.problems
        },
    }
    (args.out / "results.md").write_text(markdown_report(summary, args.trials, args.seeds))
    for name in args.problems:
        plot_problem(name, summary["problems"][name], runs[name], args.trials, args.out / "plots")
    write_json_atomically(args.out / "summary.json", summary)
    print("SUMMARY " + json.dumps(summary, default=str))
    return summary


if __name__ == "__main__":
    main()
