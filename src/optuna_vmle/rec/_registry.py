"""The models an objective can train: how to build each one and its default search space.

A search space is plain configuration (Optuna distributions by name); the training loop and
the objective read the same names for every model, so adding a model is one
:func:`register_model` call.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import TYPE_CHECKING

from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution

from optuna_vmle.rec._hstu import HSTU
from optuna_vmle.rec._sasrec import SASRec


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from optuna_vmle.rec._layers import SequentialRecommender


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model an objective can train.

    Attributes:
        name: Display name (``"SASRec"``); the registry key is its lower-case form.
        build: ``build(n_items, params)`` returns a fresh model for one trial's parameters.
        search_space: Returns the default search space (a new dict on every call).
    """

    name: str
    build: Callable[[int, Mapping[str, Any]], SequentialRecommender]
    search_space: Callable[[], dict[str, BaseDistribution]]


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make ``spec`` available to :func:`rec_objective` under ``spec.name.lower()``."""
    MODELS[spec.name.lower()] = spec
    return spec


def model_spec(name: str) -> ModelSpec:
    """The registered model ``name`` (case-insensitive)."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(MODELS)}") from None


def _training_search_space() -> dict[str, BaseDistribution]:
    """Axes of the training loop, shared by every model (the VirtualMLE paper's among them)."""
    return {
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "hidden_size": CategoricalDistribution([32, 64, 128, 256]),
        "num_heads": CategoricalDistribution([1, 2, 4]),
        "dropout": FloatDistribution(0.1, 0.5),
        "maxlen": CategoricalDistribution([50, 100, 200]),
        "batch_size": CategoricalDistribution([128, 256, 512]),
        "optimizer": CategoricalDistribution(["adam", "adamw"]),
        "use_weight_decay": CategoricalDistribution([False, True]),
        "weight_decay": FloatDistribution(1e-6, 1e-3, log=True),
        "num_negatives": CategoricalDistribution([64, 128, 256, 500]),
        "train_targets": CategoricalDistribution(["all_positions", "last_position"]),
        "train_window_size": CategoricalDistribution([0, 10, 20]),
        "patience": CategoricalDistribution([3, 5, 10]),
    }


def sasrec_search_space() -> dict[str, BaseDistribution]:
    """The default SASRec search space, from the SASRec / eSASRec / VirtualMLE literature.

    ``lr`` log 1e-4..1e-2; ``hidden_size`` {32, 64, 128, 256}; ``num_blocks`` 1..4;
    ``num_heads`` {1, 2, 4}; ``dropout`` 0.1..0.5; ``maxlen`` {50, 100, 200}; ``batch_size``
    {128, 256, 512}; ``optimizer`` {adam, adamw}; ``use_weight_decay`` {False, True} and, only
    when true, ``weight_decay`` log 1e-6..1e-3; ``loss`` {bce, sampled_softmax, full_ce} and,
    only for the sampled softmax, ``num_negatives`` {64, 128, 256, 500}; ``train_targets``
    {all_positions, last_position}; ``train_window_size`` {0 (= maxlen), 10, 20};
    early-stopping ``patience`` {3, 5, 10}. Every hidden size is divisible by every head count.
    """
    return {
        **_training_search_space(),
        "num_blocks": IntDistribution(1, 4),
        "loss": CategoricalDistribution(["bce", "sampled_softmax", "full_ce"]),
    }


def hstu_search_space() -> dict[str, BaseDistribution]:
    """The default HSTU search space (generative-recommenders and VirtualMLE configurations).

    As :func:`sasrec_search_space`, except ``num_blocks`` 1..8, ``loss`` {sampled_softmax,
    full_ce} (HSTU is trained with softmax losses), ``temperature`` log 0.02..0.2, per-head
    ``linear_dim`` (U, V) and ``attention_dim`` (Q, K) {8, 16, 32, 64} and
    ``attention_dropout`` 0..0.5.
    """
    return {
        **_training_search_space(),
        "num_blocks": IntDistribution(1, 8),
        "loss": CategoricalDistribution(["sampled_softmax", "full_ce"]),
        "temperature": FloatDistribution(0.02, 0.2, log=True),
        "linear_dim": CategoricalDistribution([8, 16, 32, 64]),
        "attention_dim": CategoricalDistribution([8, 16, 32, 64]),
        "attention_dropout": FloatDistribution(0.0, 0.5),
    }


def _build_sasrec(n_items: int, params: Mapping[str, Any]) -> SequentialRecommender:
    return SASRec(
        n_items=n_items,
        maxlen=params["maxlen"],
        hidden_size=params["hidden_size"],
        num_blocks=params["num_blocks"],
        num_heads=params["num_heads"],
        dropout=params["dropout"],
    )


def _build_hstu(n_items: int, params: Mapping[str, Any]) -> SequentialRecommender:
    return HSTU(
        n_items=n_items,
        maxlen=params["maxlen"],
        hidden_size=params["hidden_size"],
        num_blocks=params["num_blocks"],
        num_heads=params["num_heads"],
        linear_dim=params["linear_dim"],
        attention_dim=params["attention_dim"],
        dropout=params["dropout"],
        attention_dropout=params["attention_dropout"],
        temperature=params["temperature"],
    )


register_model(ModelSpec(name="SASRec", build=_build_sasrec, search_space=sasrec_search_space))
register_model(ModelSpec(name="HSTU", build=_build_hstu, search_space=hstu_search_space))
