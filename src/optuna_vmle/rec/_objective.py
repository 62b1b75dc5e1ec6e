"""Optuna objectives that train a registered model (SASRec, HSTU) and return a validation metric."""

from __future__ import annotations

import os
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
import torch

from optuna_vmle import suggest
from optuna_vmle.rec._data import DatasetDescriptors
from optuna_vmle.rec._data import leave_one_out
from optuna_vmle.rec._data import LeaveOneOutSplit
from optuna_vmle.rec._data import load_sequences
from optuna_vmle.rec._data import SequenceDataset
from optuna_vmle.rec._registry import model_spec
from optuna_vmle.rec._train import fit
from optuna_vmle.rec._train import RecTrainingError
from optuna_vmle.rec._train import select_device
from optuna_vmle.rec._train import SELECTION_METRIC
from optuna_vmle.rec._train import SELECTION_METRICS
from optuna_vmle.rec._train import TrainingConfig


if TYPE_CHECKING:
    from collections.abc import Mapping

    from optuna_vmle.rec._layers import SequentialRecommender
    from optuna_vmle.rec._train import EpochResult

USER_ATTR_PREFIX = "rec:"
# The user attribute the VirtualMLE sampler and its reflection read a failure's reason from
# (the package's documented ``vmle:error``); kept here so that rec/ needs nothing private.
ERROR_ATTR = "vmle:error"
# Parameters the objective samples only when they apply.
CONDITIONAL_PARAMS = ("use_weight_decay", "weight_decay", "num_negatives")


def _describe(
    model_name: str,
    dataset: SequenceDataset,
    max_epochs: int,
    time_budget_s: float | None,
    patience: Any,
    metric: str,
) -> str:
    d = dataset.descriptors
    budget = f", at most {time_budget_s:g} s" if time_budget_s is not None else ""
    if isinstance(patience, BaseDistribution):
        stopping = (
            ", with the early-stopping patience (epochs without improvement) a hyperparameter"
        )
    elif patience is not None:
        stopping = f", early stopping after {patience} epochs without improvement"
    else:
        stopping = ""
    return (
        f"Tune {model_name} (PyTorch) for next-item recommendation on the dataset '{d.name}': "
        f"{d.n_users:,} users, {d.n_items:,} items, {d.n_interactions:,} interactions, "
        f"mean sequence length {d.mean_length:.2f} (median {d.median_length:g}), "
        f"density {d.density:.2e}. "
        "Protocol: leave-one-out (last item is the test target, "
        "second-to-last the validation target), "
        "full ranking over all items with already-seen items excluded. "
        f"Objective: maximize validation {_metric_name(metric)}. "
        f"Each trial trains up to {max_epochs} epochs{budget}{stopping}."
    )


def _check_windows_fit(space: Mapping[str, Any]) -> None:
    """Refuse training windows longer than a fixed ``maxlen`` up front (every trial would fail)."""
    maxlen, window = space["maxlen"], space["train_window_size"]
    if isinstance(maxlen, BaseDistribution):
        return
    choices = window.choices if isinstance(window, CategoricalDistribution) else [window]
    too_long = [w for w in choices if isinstance(w, int) and w > maxlen]
    if too_long:
        raise ValueError(
            f"train_window_size {too_long} longer than the fixed maxlen {maxlen}: "
            "fix train_window_size or give it shorter choices in search_space"
        )


def _metric_name(metric: str) -> str:
    """``ndcg@10`` -> ``NDCG@10``; ``hr@10`` -> ``Recall@10`` (one relevant item per user)."""
    return metric.upper().replace("HR@", "Recall@")


class RecObjective:
    """A callable ``objective(trial) -> float`` training one model per trial.

    Built by :func:`rec_objective`. Returns the best validation ``metric``; test metrics are only
    recorded in user attributes (prefix ``rec:``) and never returned to the sampler.

    Attributes:
        model_name: The registered model's display name (``"SASRec"``, ``"HSTU"``).
        split: The leave-one-out split trained on.
        search_space: The distributions that are sampled (fixed values excluded), suitable
            for a sampler's ``search_space=`` argument.
        fixed_params: Values the user fixed instead of searching.
        task_description: Model, dataset descriptors and metric in words, for LLM samplers.
        task_descriptors: The same as data, for cross-study transfer (``descriptors=``).
    """

    def __init__(
        self,
        *,
        model: str,
        dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str],
        search_space: Mapping[str, Any] | None,
        max_epochs: int,
        time_budget_s: float | None,
        metric: str,
        device: str | torch.device | None,
        seed: int,
        eval_batch_size: int,
    ) -> None:
        spec = model_spec(model)
        if metric not in SELECTION_METRICS:
            raise ValueError(f"selection_metric must be one of {SELECTION_METRICS}, got {metric!r}")
        if isinstance(dataset, (str, os.PathLike)):
            dataset = load_sequences(dataset)
        self.split = dataset if isinstance(dataset, LeaveOneOutSplit) else leave_one_out(dataset)
        default_space = spec.search_space()
        unknown = set(search_space or {}) - set(default_space)
        if unknown:
            raise ValueError(
                f"unknown {spec.name} hyperparameters {sorted(unknown)}; "
                f"known: {sorted(default_space)}"
            )
        merged = {**default_space, **(search_space or {})}
        self.search_space = {k: v for k, v in merged.items() if isinstance(v, BaseDistribution)}
        self.fixed_params = {k: v for k, v in merged.items() if not isinstance(v, BaseDistribution)}
        _check_windows_fit(merged)
        self._names = list(merged)
        self.model_name = spec.name
        self._build_model = spec.build
        self.max_epochs, self.time_budget_s, self.metric = max_epochs, time_budget_s, metric
        self.device, self.seed, self.eval_batch_size = device, seed, eval_batch_size
        self.task_description = _describe(
            spec.name, self.split.dataset, max_epochs, time_budget_s, merged["patience"], metric
        )

    @property
    def descriptors(self) -> DatasetDescriptors:
        return self.split.dataset.descriptors

    @property
    def task_descriptors(self) -> dict[str, str | float]:
        """Model family, metric and dataset statistics (not its name), for the sampler's
        ``descriptors=``: what a cognition summary is tagged with and retrieved by."""
        stats = {k: v for k, v in self.descriptors.as_dict().items() if k != "name"}
        return {"model": self.model_name.lower(), "metric": self.metric, **stats}

    def _value(self, trial: optuna.Trial, name: str) -> Any:
        if name in self.fixed_params:
            return self.fixed_params[name]
        return suggest(trial, name, self.search_space[name])

    def sample_params(self, trial: optuna.Trial) -> dict[str, Any]:
        """Every hyperparameter of one trial; conditional ones only when they apply."""
        params = {
            name: self._value(trial, name) for name in self._names if name not in CONDITIONAL_PARAMS
        }
        if "weight_decay" in self.fixed_params or self._value(trial, "use_weight_decay"):
            params["weight_decay"] = self._value(trial, "weight_decay")
        else:
            params["weight_decay"] = 0.0
        if params["loss"] == "sampled_softmax":
            params["num_negatives"] = self._value(trial, "num_negatives")
        if params["hidden_size"] % params["num_heads"]:
            raise RecTrainingError(
                f"hidden_size {params['hidden_size']} is not divisible by "
                f"num_heads {params['num_heads']}"
            )
        if params["train_window_size"] > params["maxlen"]:
            raise RecTrainingError(
                f"train_window_size {params['train_window_size']} is longer than "
                f"maxlen {params['maxlen']}"
            )
        return params

    def training_config(self, params: Mapping[str, Any], seed: int) -> TrainingConfig:
        """The :class:`TrainingConfig` of one trial's parameters."""
        return TrainingConfig(
            loss=params["loss"],
            num_negatives=params.get("num_negatives", 256),
            optimizer=params["optimizer"],
            lr=params["lr"],
            weight_decay=params["weight_decay"],
            batch_size=params["batch_size"],
            train_targets=params["train_targets"],
            train_window_size=params["train_window_size"],
            max_epochs=self.max_epochs,
            patience=params["patience"],
            time_budget_s=self.time_budget_s,
            eval_batch_size=self.eval_batch_size,
            selection_metric=self.metric,
            seed=seed,
        )

    def build_model(self, params: Mapping[str, Any], seed: int) -> SequentialRecommender:
        """A freshly initialised model; ``seed`` fixes its weights, the global RNG is untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._build_model(self.split.n_items, params)

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self._train_trial(trial)
        except RecTrainingError as error:
            trial.set_user_attr(ERROR_ATTR, str(error))
            raise

    def _train_trial(self, trial: optuna.Trial) -> float:
        device = select_device(self.device)
        trial.set_user_attr(USER_ATTR_PREFIX + "device", str(device))
        if self.fixed_params:
            trial.set_user_attr(USER_ATTR_PREFIX + "fixed_params", self.fixed_params)
        params = self.sample_params(trial)
        seed = self.seed + trial.number
        model = self.build_model(params, seed)
        trial.set_user_attr(
            USER_ATTR_PREFIX + "n_params", sum(p.numel() for p in model.parameters())
        )
        curve: list[list[float]] = []

        def report(result: EpochResult) -> None:
            curve.append([result.epoch, result.valid[self.metric], round(result.wall_time_s, 3)])
            trial.set_user_attr(USER_ATTR_PREFIX + "epochs", result.epoch)
            trial.set_user_attr(USER_ATTR_PREFIX + "learning_curve", curve)
            trial.report(result.valid[self.metric], result.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned at epoch {result.epoch} (validation {self.metric} {curve[-1][1]:.4f})"
                )

        result = fit(
            model, self.split, self.training_config(params, seed), device=device, on_epoch=report
        )
        for name, value in {
            "valid_metrics": result.best_valid,
            "test_metrics": result.test,
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "wall_time_s": round(result.wall_time_s, 3),
            "stop_reason": result.stop_reason,
        }.items():
            trial.set_user_attr(USER_ATTR_PREFIX + name, value)
        return result.best_valid[self.metric]


def rec_objective(
    model: str,
    dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str],
    *,
    search_space: Mapping[str, Any] | None = None,
    max_epochs: int = 200,
    time_budget_s: float | None = None,
    patience: int | None | Literal["search"] = "search",
    metric: str = SELECTION_METRIC,
    device: str | torch.device | None = None,
    seed: int = 0,
    eval_batch_size: int = 256,
) -> RecObjective:
    """An objective that trains a registered model and returns a validation metric (maximize).

    Args:
        model: A registered model, case-insensitive: ``"sasrec"`` (search space
            :func:`sasrec_search_space`) or ``"hstu"`` (:func:`hstu_search_space`); more with
            :func:`register_model`.
        dataset: Sequences, an existing leave-one-out split, or a file for :func:`load_sequences`.
        search_space: Overrides of the model's search space, by name: an Optuna distribution
            to search, or a plain value to fix (for example ``{"loss": "bce", "maxlen": 50}``).
        max_epochs: Epochs per trial at most.
        time_budget_s: Per-trial wall-clock budget, checked after every epoch.
        patience: Stop a trial after this many epochs without a better validation ``metric``
            (``None``: never); ``"search"`` (the default) leaves it to the search space.
        metric: The validation metric returned, reported and early-stopped on:
            ``"ndcg@10"``, or ``"hr@10"`` (Recall@10, the VirtualMLE paper's SASRec metric),
            ``@5``/``@20`` or ``"mrr"``.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``; by default the best available. On CUDA,
            training and evaluation run under bf16 autocast.
        seed: Trial ``n`` seeds initialisation, shuffling, dropout and negatives with
            ``seed + n``, inside a forked RNG: the caller's random state is not changed.
        eval_batch_size: Users per full-ranking evaluation batch.

    Every epoch reports the validation ``metric`` with ``trial.report`` and raises
    :class:`optuna.TrialPruned` when the pruner says so. A NaN loss or running out of memory
    raises :class:`RecTrainingError` (pass ``catch=(RecTrainingError,)`` to
    :meth:`optuna.Study.optimize` to record it as a failed trial and continue); the reason is
    also stored in the user attribute ``vmle:error``, where the LLM sampler and its reflection
    read it. User attributes: ``rec:valid_metrics``,
    ``rec:test_metrics`` (at the best validation epoch), ``rec:epochs``, ``rec:best_epoch``,
    ``rec:learning_curve``, ``rec:wall_time_s``, ``rec:stop_reason``, ``rec:n_params``,
    ``rec:device`` and ``rec:fixed_params`` (the values fixed through ``search_space``).

    Example:
        .. code-block:: python

            import optuna
            from optuna_vmle.rec import RecTrainingError, make_synthetic_dataset, rec_objective

            objective = rec_objective(
                "sasrec",
                make_synthetic_dataset(n_users=100, n_items=50),
                search_space={"maxlen": 20, "hidden_size": 16, "num_blocks": 1, "batch_size": 128},
                max_epochs=1,
            )
            study = optuna.create_study(direction="maximize")
            study.optimize(objective, n_trials=2, catch=(RecTrainingError,))
            assert 0.0 <= study.best_value <= 1.0
    """
    if patience != "search":
        if search_space and "patience" in search_space:
            raise ValueError("give the patience either as patience= or in search_space, not both")
        search_space = {**(search_space or {}), "patience": patience}
    return RecObjective(
        model=model,
        dataset=dataset,
        search_space=search_space,
        max_epochs=max_epochs,
        time_budget_s=time_budget_s,
        metric=metric,
        device=device,
        seed=seed,
        eval_batch_size=eval_batch_size,
    )


def sasrec_objective(
    dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str], **options: Any
) -> RecObjective:
    """``rec_objective("sasrec", dataset, **options)``: SASRec over :func:`sasrec_search_space`."""
    return rec_objective("sasrec", dataset, **options)


def hstu_objective(
    dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str], **options: Any
) -> RecObjective:
    """``rec_objective("hstu", dataset, **options)``: HSTU over :func:`hstu_search_space`."""
    return rec_objective("hstu", dataset, **options)
