"""Optuna objectives that train SASRec or HSTU and return validation NDCG@10."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import optuna
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from optuna_vmle import _attrs
from optuna_vmle._search_space import suggest
from optuna_vmle.rec._data import DatasetDescriptors, LeaveOneOutSplit, SequenceDataset, leave_one_out, load_sequences
from optuna_vmle.rec._hstu import HSTU
from optuna_vmle.rec._sasrec import SASRec
from optuna_vmle.rec._train import SELECTION_METRIC, RecTrainingError, TrainingConfig, fit, select_device

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from optuna_vmle.rec._layers import SequentialRecommender
    from optuna_vmle.rec._train import EpochResult

USER_ATTR_PREFIX = "rec:"


def _shared_search_space() -> dict[str, BaseDistribution]:
    return {
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "hidden_size": CategoricalDistribution([32, 64, 128, 256]),
        "num_heads": CategoricalDistribution([1, 2, 4]),
        "dropout": FloatDistribution(0.1, 0.5),
        "maxlen": CategoricalDistribution([50, 100, 200]),
        "batch_size": CategoricalDistribution([128, 256, 512]),
        "use_weight_decay": CategoricalDistribution([False, True]),
        "weight_decay": FloatDistribution(1e-6, 1e-3, log=True),
        "num_negatives": CategoricalDistribution([64, 128, 256, 512]),
    }


def sasrec_search_space() -> dict[str, BaseDistribution]:
    """The default SASRec search space, from the SASRec / eSASRec literature.

    ``lr`` log 1e-4..1e-2; ``hidden_size`` {32, 64, 128, 256}; ``num_blocks`` 1..4;
    ``num_heads`` {1, 2, 4}; ``dropout`` 0.1..0.5; ``maxlen`` {50, 100, 200}; ``batch_size``
    {128, 256, 512}; ``use_weight_decay`` {False, True} and, only when true, ``weight_decay``
    log 1e-6..1e-3; ``loss`` {bce, sampled_softmax, full_ce} and, only for the sampled softmax,
    ``num_negatives`` {64, 128, 256, 512}. Every hidden size is divisible by every head count.
    """
    return {
        **_shared_search_space(),
        "num_blocks": IntDistribution(1, 4),
        "loss": CategoricalDistribution(["bce", "sampled_softmax", "full_ce"]),
    }


def hstu_search_space() -> dict[str, BaseDistribution]:
    """The default HSTU search space (generative-recommenders configurations).

    As :func:`sasrec_search_space`, except ``num_blocks`` 1..8, ``loss`` {sampled_softmax,
    full_ce} (HSTU is trained with softmax losses) and ``temperature`` log 0.02..0.2.
    """
    return {
        **_shared_search_space(),
        "num_blocks": IntDistribution(1, 8),
        "loss": CategoricalDistribution(["sampled_softmax", "full_ce"]),
        "temperature": FloatDistribution(0.02, 0.2, log=True),
    }


def _describe(
    model_name: str, dataset: SequenceDataset, max_epochs: int, time_budget_s: float | None, patience: int | None
) -> str:
    d = dataset.descriptors
    budget = f", at most {time_budget_s:g} s" if time_budget_s is not None else ""
    stopping = f", early stopping after {patience} epochs without improvement" if patience is not None else ""
    return (
        f"Tune {model_name} (PyTorch) for next-item recommendation on the dataset '{d.name}': "
        f"{d.n_users:,} users, {d.n_items:,} items, {d.n_interactions:,} interactions, "
        f"mean sequence length {d.mean_length:.2f} (median {d.median_length:g}), density {d.density:.2e}. "
        "Protocol: leave-one-out (last item is the test target, second-to-last the validation target), "
        "full ranking over all items with already-seen items excluded. "
        f"Objective: maximize validation NDCG@10. Each trial trains up to {max_epochs} epochs{budget}{stopping}."
    )


class RecObjective:
    """A callable ``objective(trial) -> float`` training one model per trial.

    Built by :func:`sasrec_objective` and :func:`hstu_objective`. Returns the best validation
    NDCG@10; test metrics are only recorded in user attributes (prefix ``rec:``) and never
    returned to the sampler.

    Attributes:
        model_name: ``"SASRec"`` or ``"HSTU"``.
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
        model_name: str,
        build_model: Callable[[int, dict[str, Any]], SequentialRecommender],
        default_space: dict[str, BaseDistribution],
        dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str],
        search_space: Mapping[str, Any] | None,
        max_epochs: int,
        time_budget_s: float | None,
        patience: int | None,
        device: str | torch.device | None,
        seed: int,
        eval_batch_size: int,
    ) -> None:
        if isinstance(dataset, (str, os.PathLike)):
            dataset = load_sequences(dataset)
        self.split = dataset if isinstance(dataset, LeaveOneOutSplit) else leave_one_out(dataset)
        unknown = set(search_space or {}) - set(default_space)
        if unknown:
            raise ValueError(f"unknown {model_name} hyperparameters {sorted(unknown)}; known: {sorted(default_space)}")
        merged = {**default_space, **(search_space or {})}
        self.search_space = {k: v for k, v in merged.items() if isinstance(v, BaseDistribution)}
        self.fixed_params = {k: v for k, v in merged.items() if not isinstance(v, BaseDistribution)}
        self._names = list(merged)
        self.model_name = model_name
        self._build_model = build_model
        self.max_epochs, self.time_budget_s, self.patience = max_epochs, time_budget_s, patience
        self.device, self.seed, self.eval_batch_size = device, seed, eval_batch_size
        self.task_description = _describe(model_name, self.split.dataset, max_epochs, time_budget_s, patience)

    @property
    def descriptors(self) -> DatasetDescriptors:
        return self.split.dataset.descriptors

    @property
    def task_descriptors(self) -> dict[str, str | float]:
        """Model family, metric and dataset statistics (not its name), for the sampler's
        ``descriptors=``: what a cognition summary is tagged with and retrieved by."""
        stats = {k: v for k, v in self.descriptors.as_dict().items() if k != "name"}
        return {"model": self.model_name.lower(), "metric": "ndcg@10", **stats}

    def _value(self, trial: optuna.Trial, name: str) -> Any:
        if name in self.fixed_params:
            return self.fixed_params[name]
        return suggest(trial, name, self.search_space[name])

    def sample_params(self, trial: optuna.Trial) -> dict[str, Any]:
        """Every hyperparameter of one trial; conditional ones only when they apply."""
        conditional = ("use_weight_decay", "weight_decay", "num_negatives")
        params = {name: self._value(trial, name) for name in self._names if name not in conditional}
        if "weight_decay" in self.fixed_params or self._value(trial, "use_weight_decay"):
            params["weight_decay"] = self._value(trial, "weight_decay")
        else:
            params["weight_decay"] = 0.0
        if params["loss"] == "sampled_softmax":
            params["num_negatives"] = self._value(trial, "num_negatives")
        if params["hidden_size"] % params["num_heads"]:
            raise RecTrainingError(
                f"hidden_size {params['hidden_size']} is not divisible by num_heads {params['num_heads']}"
            )
        return params

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self._train_trial(trial)
        except RecTrainingError as error:
            trial.set_user_attr(_attrs.ERROR, str(error))
            raise

    def _train_trial(self, trial: optuna.Trial) -> float:
        device = select_device(self.device)
        trial.set_user_attr(USER_ATTR_PREFIX + "device", str(device))
        if self.fixed_params:
            trial.set_user_attr(USER_ATTR_PREFIX + "fixed_params", self.fixed_params)
        params = self.sample_params(trial)
        torch.manual_seed(self.seed + trial.number)
        model = self._build_model(self.split.n_items, params)
        trial.set_user_attr(USER_ATTR_PREFIX + "n_params", sum(p.numel() for p in model.parameters()))
        config = TrainingConfig(
            loss=params["loss"],
            num_negatives=params.get("num_negatives", 256),
            lr=params["lr"],
            weight_decay=params["weight_decay"],
            batch_size=params["batch_size"],
            max_epochs=self.max_epochs,
            patience=self.patience,
            time_budget_s=self.time_budget_s,
            eval_batch_size=self.eval_batch_size,
            seed=self.seed + trial.number,
        )
        curve: list[list[float]] = []

        def report(result: EpochResult) -> None:
            curve.append([result.epoch, result.valid[SELECTION_METRIC], round(result.wall_time_s, 3)])
            trial.set_user_attr(USER_ATTR_PREFIX + "epochs", result.epoch)
            trial.set_user_attr(USER_ATTR_PREFIX + "learning_curve", curve)
            trial.report(result.valid[SELECTION_METRIC], result.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {result.epoch} (validation NDCG@10 {curve[-1][1]:.4f})")

        result = fit(model, self.split, config, device=device, on_epoch=report)
        for name, value in {
            "valid_metrics": result.best_valid,
            "test_metrics": result.test,
            "epochs": len(result.history),
            "best_epoch": result.best_epoch,
            "wall_time_s": round(result.wall_time_s, 3),
            "stop_reason": result.stop_reason,
        }.items():
            trial.set_user_attr(USER_ATTR_PREFIX + name, value)
        return result.best_valid[SELECTION_METRIC]


def sasrec_objective(
    dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str],
    *,
    search_space: Mapping[str, Any] | None = None,
    max_epochs: int = 200,
    time_budget_s: float | None = None,
    patience: int | None = 10,
    device: str | torch.device | None = None,
    seed: int = 0,
    eval_batch_size: int = 256,
) -> RecObjective:
    """An objective that trains SASRec and returns validation NDCG@10 (maximize).

    Args:
        dataset: Sequences, an existing leave-one-out split, or a file for :func:`load_sequences`.
        search_space: Overrides of :func:`sasrec_search_space`, by name: an Optuna distribution
            to search, or a plain value to fix (for example ``{"loss": "bce", "maxlen": 50}``).
        max_epochs: Epochs per trial at most.
        time_budget_s: Per-trial wall-clock budget, checked after every epoch.
        patience: Stop a trial after this many epochs without a better validation NDCG@10.
        device: ``"cuda"``, ``"mps"``, ``"cpu"``; by default the best available. On CUDA,
            training and evaluation run under bf16 autocast.
        seed: Trial ``n`` seeds initialisation, shuffling and negatives with ``seed + n``.
        eval_batch_size: Users per full-ranking evaluation batch.

    Every epoch reports validation NDCG@10 with ``trial.report`` and raises
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
            from optuna_vmle.rec import RecTrainingError, make_synthetic_dataset, sasrec_objective

            objective = sasrec_objective(
                make_synthetic_dataset(n_users=200, n_items=100),
                search_space={"maxlen": 20, "hidden_size": 32, "num_blocks": 1, "batch_size": 128},
                max_epochs=2,
            )
            study = optuna.create_study(direction="maximize")
            study.optimize(objective, n_trials=2, catch=(RecTrainingError,))
    """

    def build(n_items: int, params: dict[str, Any]) -> SequentialRecommender:
        return SASRec(
            n_items=n_items,
            maxlen=params["maxlen"],
            hidden_size=params["hidden_size"],
            num_blocks=params["num_blocks"],
            num_heads=params["num_heads"],
            dropout=params["dropout"],
        )

    return RecObjective(
        model_name="SASRec",
        build_model=build,
        default_space=sasrec_search_space(),
        dataset=dataset,
        search_space=search_space,
        max_epochs=max_epochs,
        time_budget_s=time_budget_s,
        patience=patience,
        device=device,
        seed=seed,
        eval_batch_size=eval_batch_size,
    )


def hstu_objective(
    dataset: SequenceDataset | LeaveOneOutSplit | str | os.PathLike[str],
    *,
    search_space: Mapping[str, Any] | None = None,
    max_epochs: int = 200,
    time_budget_s: float | None = None,
    patience: int | None = 10,
    device: str | torch.device | None = None,
    seed: int = 0,
    eval_batch_size: int = 256,
) -> RecObjective:
    """An objective that trains HSTU and returns validation NDCG@10 (maximize).

    Same arguments, behaviour and user attributes as :func:`sasrec_objective`, with the
    default space :func:`hstu_search_space`.
    """

    def build(n_items: int, params: dict[str, Any]) -> SequentialRecommender:
        return HSTU(
            n_items=n_items,
            maxlen=params["maxlen"],
            hidden_size=params["hidden_size"],
            num_blocks=params["num_blocks"],
            num_heads=params["num_heads"],
            dropout=params["dropout"],
            temperature=params["temperature"],
        )

    return RecObjective(
        model_name="HSTU",
        build_model=build,
        default_space=hstu_search_space(),
        dataset=dataset,
        search_space=search_space,
        max_epochs=max_epochs,
        time_budget_s=time_budget_s,
        patience=patience,
        device=device,
        seed=seed,
        eval_batch_size=eval_batch_size,
    )
