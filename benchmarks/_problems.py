"""Benchmark problems shared by ``compare.py`` and ``overhead.py``.

Three kinds, all behind one :class:`Problem` interface:

- synthetic mixed-space functions with a known optimum (fast; smoke runs and overhead);
- tabular SASRec/HSTU problems that look a configuration up in a table built by
  ``build_tables.py`` (``tab-<table file stem>``), so a comparison costs no training;
- ``live-sasrec``: a short live SASRec study on synthetic data from :mod:`optuna_vmle.rec`;
- Bayesmark tasks (``bm-<model>-<dataset>-<metric>``, ``_bayesmark.py``): sklearn models
  cross-validated on sklearn's bundled datasets, with Bayesmark's search spaces.

A problem exposes its search space, its direction, its known optimum (``None`` when unknown) and
a reference "worst" value for normalising regret: the median value of uniformly random
configurations.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
import json
import math
from pathlib import Path
from typing import Any

from _paths import DATA_DIR
import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution

from optuna_vmle import suggest


TABLES_DIR = Path(__file__).resolve().parent / "tables"

REFERENCE_SAMPLES = 2000

Params = dict[str, Any]


class MissingTableEntry(RuntimeError):
    """A tabular problem has no value for a configuration: not built yet, or training failed."""


@dataclass(frozen=True)
class Evaluation:
    value: float
    user_attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """One optimisation problem: a search space, a direction and a way to score a configuration.

    ``conditions`` maps a parameter to a predicate over the parameters suggested before it; the
    parameter is only suggested when the predicate holds (``momentum`` only for ``sgd``).
    ``catch`` lists the exceptions that make a trial fail without stopping the study.
    ``pool_size`` and ``pool_cached`` describe what the simulated LLMs know of the problem
    (``_simulated_llms.truth_pool``).
    """

    name: str
    direction: str
    search_space: dict[str, BaseDistribution]
    task: str
    optimum: float | None
    conditions: dict[str, Callable[[Params], bool]] = field(default_factory=dict)
    catch: tuple[type[Exception], ...] = ()
    # The simulated LLMs' knowledge: this many evaluated random configurations, kept on disk
    # when evaluating them is expensive.
    pool_size: int = 2048
    pool_cached: bool = False

    def evaluate(self, params: Params) -> Evaluation:
        raise NotImplementedError

    @property
    def descriptors(self) -> dict[str, str | float]:
        """What a cognition summary of this problem is tagged with and retrieved by."""
        return {"problem": self.name}

    def objective(self, trial: optuna.Trial) -> float:
        params: Params = {}
        for name, distribution in self.search_space.items():
            if name in self.conditions and not self.conditions[name](params):
                continue
            params[name] = suggest(trial, name, distribution)
        evaluation = self.evaluate(params)
        for key, value in evaluation.user_attrs.items():
            trial.set_user_attr(key, value)
        return evaluation.value

    def reference_worst(self) -> float | None:
        """Median value of uniformly random configurations (the "regret 1" level)."""
        rng = np.random.default_rng(0)
        values = [self.evaluate(self.random_params(rng)).value for _ in range(REFERENCE_SAMPLES)]
        return float(np.median(values))

    def random_params(self, rng: np.random.Generator) -> Params:
        params: Params = {}
        for name, distribution in self.search_space.items():
            if name in self.conditions and not self.conditions[name](params):
                continue
            params[name] = sample_uniformly(distribution, rng)
        return params


def sample_uniformly(distribution: BaseDistribution, rng: np.random.Generator) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[int(rng.integers(len(distribution.choices)))]
    if isinstance(distribution, IntDistribution):
        grid = np.arange(distribution.low, distribution.high + 1, distribution.step)
        return int(rng.choice(grid))
    assert isinstance(distribution, FloatDistribution)
    if distribution.step is not None:
        count = int(round((distribution.high - distribution.low) / distribution.step))
        return distribution.low + distribution.step * int(rng.integers(count + 1))
    if distribution.log:
        return float(math.exp(rng.uniform(math.log(distribution.low), math.log(distribution.high))))
    return float(rng.uniform(distribution.low, distribution.high))


# --- Synthetic problems --------------------------------------------------------------------


@dataclass
class SyntheticProblem(Problem):
    function: Callable[[Params], float] = lambda params: 0.0

    def evaluate(self, params: Params) -> Evaluation:
        return Evaluation(float(self.function(params)))


_HIDDEN_PENALTY = {32: 0.6, 64: 0.25, 128: 0.0, 256: 0.15}


def _hpo_mixed(params: Params) -> float:
    # SGD wants a ten times larger learning rate than Adam, and a momentum near 0.9; a well-tuned
    # SGD reaches 0 while the best Adam configuration stays at 0.1.
    sgd = params["optimizer"] == "sgd"
    best_log_lr = -1.5 if sgd else -2.5
    value = (math.log10(params["lr"]) - best_log_lr) ** 2
    value += 4.0 * (params["dropout"] - 0.2) ** 2
    value += _HIDDEN_PENALTY[params["hidden"]]
    value += 0.1 * (params["blocks"] - 3) ** 2
    value += 2.0 * (params["momentum"] - 0.9) ** 2 if sgd else 0.1
    return value


def _branin_categorical(params: Params) -> float:
    x1, x2 = params["x1"], params["x2"]
    branin = (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )
    return branin + {"a": 0.0, "b": 0.5, "c": 2.0}[params["variant"]]


def _styblinski_tang_int(params: Params) -> float:
    return sum((x**4 - 16 * x**2 + 5 * x) / 2 for x in params.values())


def _synthetic_problems() -> dict[str, Problem]:
    return {
        "hpo-mixed": SyntheticProblem(
            name="hpo-mixed",
            direction="minimize",
            search_space={
                "lr": FloatDistribution(1e-5, 1e-1, log=True),
                "dropout": FloatDistribution(0.0, 0.5),
                "hidden": CategoricalDistribution([32, 64, 128, 256]),
                "blocks": IntDistribution(1, 6),
                "optimizer": CategoricalDistribution(["adam", "sgd"]),
                "momentum": FloatDistribution(0.0, 0.99),
            },
            conditions={"momentum": lambda params: params["optimizer"] == "sgd"},
            task=(
                "Minimise the validation loss of a small neural network. "
                "momentum is only used when optimizer is sgd."
            ),
            optimum=0.0,
            function=_hpo_mixed,
        ),
        "branin-cat": SyntheticProblem(
            name="branin-cat",
            direction="minimize",
            search_space={
                "x1": FloatDistribution(-5.0, 10.0),
                "x2": FloatDistribution(0.0, 15.0),
                "variant": CategoricalDistribution(["a", "b", "c"]),
            },
            task="Minimise the Branin function plus an offset chosen by a categorical variant.",
            optimum=0.397887,
            function=_branin_categorical,
        ),
        "styblinski-int": SyntheticProblem(
            name="styblinski-int",
            direction="minimize",
            search_space={f"x{i}": IntDistribution(-5, 5) for i in range(4)},
            task="Minimise the 4-dimensional Styblinski-Tang function over integers.",
            optimum=-156.0,
            function=_styblinski_tang_int,
        ),
    }


FAST_PROBLEMS = ("hpo-mixed", "branin-cat", "styblinski-int")


# --- Tabular problems ----------------------------------------------------------------------


def grid_distribution(values: list[Any]) -> BaseDistribution:
    """The narrowest distribution that proposes exactly ``values`` (a sorted grid axis).

    Evenly spaced numbers become a stepped int/float distribution so that samplers keep their
    order; anything else becomes categorical.
    """
    if all(_is_number(v) for v in values) and len(values) >= 2:
        steps = np.diff(values)
        if np.allclose(steps, steps[0]) and steps[0] > 0:
            if all(isinstance(v, int) for v in values):
                return IntDistribution(values[0], values[-1], step=int(steps[0]))
            return FloatDistribution(values[0], values[-1], step=float(steps[0]))
    return CategoricalDistribution(values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def config_key(params: Params, space: dict[str, list[Any]]) -> tuple[int, ...]:
    """Index of each parameter's value on its grid axis (robust to float rounding of steps)."""
    key = []
    for name, axis in space.items():
        value = params[name]
        if _is_number(value) and all(_is_number(v) for v in axis):
            key.append(int(np.argmin(np.abs(np.asarray(axis, dtype=float) - value))))
        else:
            key.append(axis.index(value))
    return tuple(key)


@dataclass
class TabularProblem(Problem):
    """Looks configurations up in a table built by ``build_tables.py``.

    The search space is exactly the table's grid. A configuration the table does not hold yet (a
    partial table) raises :class:`MissingTableEntry`; ``compare.py`` records it as a failed trial
    that still counts towards the budget, the same for every sampler.
    """

    space: dict[str, list[Any]] = field(default_factory=dict)
    rows: dict[tuple[int, ...], dict[str, Any]] = field(default_factory=dict)
    metric: str = "valid_ndcg@10"
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> TabularProblem:
        table = json.loads(path.read_text())
        space = {name: list(values) for name, values in table["space"].items()}
        metric = table["metadata"].get("metric", "valid_ndcg@10")
        rows = {config_key(row["params"], space): row for row in table["rows"]}
        values = _finite_values(rows.values(), metric)
        return cls(
            name=f"tab-{path.stem}",
            direction="maximize",
            search_space={name: grid_distribution(axis) for name, axis in space.items()},
            task=table["metadata"].get(
                "task", "Maximise the validation NDCG@10 of a sequential recommender."
            ),
            optimum=max(values) if values else None,
            catch=(MissingTableEntry,),
            space=space,
            rows=rows,
            metric=metric,
            metadata=table["metadata"],
        )

    def evaluate(self, params: Params) -> Evaluation:
        row = self.rows.get(config_key(params, self.space))
        if row is None:
            raise MissingTableEntry(f"{self.name}: no table row for {params}")
        metrics = row["metrics"]
        if metrics.get(self.metric) is None:  # training diverged when the table was built
            raise MissingTableEntry(f"{self.name}: {params} failed: {metrics.get('error')}")
        attrs = {f"table:{k}": v for k, v in metrics.items() if k != self.metric}
        return Evaluation(float(metrics[self.metric]), attrs)

    @property
    def descriptors(self) -> dict[str, str | float]:
        """Model family, metric and the statistics of the dataset the table was built on."""
        meta = self.metadata
        found: dict[str, str | float] = {"model": meta["model"], "metric": self.metric}
        data_file = DATA_DIR / f"{meta['dataset']}.txt"
        if data_file.exists():
            from optuna_vmle.rec import load_sequences

            stats = load_sequences(data_file).descriptors.as_dict()
            found.update({k: v for k, v in stats.items() if k != "name"})
        found["n_users"] = meta["n_users"]  # after the table's user subsample
        return found

    def reference_worst(self) -> float | None:
        values = _finite_values(self.rows.values(), self.metric)
        return float(np.median(values)) if values else None


def _finite_values(rows: Iterable[dict[str, Any]], metric: str) -> list[float]:
    return [row["metrics"][metric] for row in rows if row["metrics"].get(metric) is not None]


def _tabular_problems() -> dict[str, Problem]:
    problems: dict[str, Problem] = {}
    for path in sorted(TABLES_DIR.glob("*.json")):
        problem = TabularProblem.from_file(path)
        if problem.rows:
            problems[problem.name] = problem
    return problems


# --- Live problem --------------------------------------------------------------------------


@dataclass
class LiveProblem(Problem):
    """Trains a model for every trial through a user-facing objective; no known optimum."""

    live_objective: Callable[[optuna.Trial], float] = lambda trial: 0.0

    def objective(self, trial: optuna.Trial) -> float:
        return self.live_objective(trial)

    def reference_worst(self) -> float | None:
        return None


def _live_sasrec() -> Problem:
    """``sasrec_objective`` on a small synthetic dataset (500 users, 200 items), 5 epochs."""
    from optuna_vmle.rec import make_synthetic_dataset
    from optuna_vmle.rec import RecTrainingError
    from optuna_vmle.rec import sasrec_objective

    objective = sasrec_objective(
        make_synthetic_dataset(seed=0),
        search_space={
            "hidden_size": CategoricalDistribution([16, 32, 64]),
            "num_blocks": IntDistribution(1, 3),
            "loss": CategoricalDistribution(["bce", "sampled_softmax", "full_ce"]),
            # Fixed, to keep a trial at a few seconds on a CPU.
            "num_heads": 1,
            "maxlen": 50,
            "batch_size": 128,
            "use_weight_decay": False,
            "num_negatives": 64,
        },
        max_epochs=5,
        patience=None,
        device="cpu",
    )
    return LiveProblem(
        name="live-sasrec",
        direction="maximize",
        search_space=objective.search_space,
        task=objective.task_description,
        optimum=None,
        catch=(RecTrainingError,),
        live_objective=objective,
    )


# --- Registry ------------------------------------------------------------------------------


def available_problems() -> list[str]:
    from _bayesmark import TASKS

    return [*_synthetic_problems(), *_tabular_problems(), *TASKS, "live-sasrec"]


def get_problem(name: str) -> Problem:
    """Build a problem by name; raises ``KeyError`` for an unknown name."""
    if name == "live-sasrec":
        return _live_sasrec()
    problems = {**_synthetic_problems(), **_tabular_problems()}
    if name.startswith("bm-"):
        from _bayesmark import bayesmark_problems

        problems.update(bayesmark_problems())
    if name not in problems:
        raise KeyError(f"unknown problem {name!r}; available: {', '.join(available_problems())}")
    return problems[name]
