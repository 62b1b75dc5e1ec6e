"""Sequential recommendation for Optuna studies: data, SASRec/HSTU, training and objectives.

Requires the ``rec`` extra (PyTorch). The modules, in the order data flows through them:

* data: ``_data`` (text files, leave-one-out), ``_amazon`` (raw review dumps), ``_synthetic``;
* models: ``_layers`` (interface, masks, embeddings), ``_sasrec``, ``_hstu`` with
  ``_hstu_attention`` and ``_relative_bias``;
* training: ``_batches`` (padded windows), ``_losses``, ``_train`` (the loop), ``_metrics``
  (full ranking);
* objectives: ``_registry`` (models and their search spaces), ``_objective``.

Typical use (a real study trains longer, on a real file: ``rec_objective("sasrec", "Beauty.txt")``):

.. code-block:: python

    import optuna
    from optuna_vmle.rec import RecTrainingError, make_synthetic_dataset, rec_objective

    objective = rec_objective(
        "sasrec",
        make_synthetic_dataset(n_users=100, n_items=50),
        search_space={"maxlen": 20, "hidden_size": 16, "num_blocks": 1},
        max_epochs=1,
    )
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1, catch=(RecTrainingError,))
"""

from __future__ import annotations

from optuna_vmle.rec._amazon import load_amazon_reviews
from optuna_vmle.rec._batches import EvaluationData, TrainingWindows, evaluation_data, training_windows
from optuna_vmle.rec._data import (
    DatasetDescriptors,
    LeaveOneOutSplit,
    MissingDataFileError,
    RecDataError,
    SequenceDataset,
    leave_one_out,
    load_sequences,
)
from optuna_vmle.rec._hstu import HSTU
from optuna_vmle.rec._layers import SequentialRecommender
from optuna_vmle.rec._losses import LOSSES, next_item_loss
from optuna_vmle.rec._metrics import evaluate, metric_sums, random_ranking_ndcg, target_ranks
from optuna_vmle.rec._objective import RecObjective, hstu_objective, rec_objective, sasrec_objective
from optuna_vmle.rec._registry import (
    MODELS,
    ModelSpec,
    hstu_search_space,
    model_spec,
    register_model,
    sasrec_search_space,
)
from optuna_vmle.rec._sasrec import SASRec
from optuna_vmle.rec._synthetic import make_synthetic_dataset
from optuna_vmle.rec._train import (
    EpochResult,
    FitResult,
    RecTrainingError,
    TrainingConfig,
    fit,
    select_device,
    train_epoch,
)

__all__ = [
    "HSTU",
    "LOSSES",
    "MODELS",
    "DatasetDescriptors",
    "EpochResult",
    "EvaluationData",
    "FitResult",
    "LeaveOneOutSplit",
    "MissingDataFileError",
    "ModelSpec",
    "RecDataError",
    "RecObjective",
    "RecTrainingError",
    "SASRec",
    "SequenceDataset",
    "SequentialRecommender",
    "TrainingConfig",
    "TrainingWindows",
    "evaluate",
    "evaluation_data",
    "fit",
    "hstu_objective",
    "hstu_search_space",
    "leave_one_out",
    "load_amazon_reviews",
    "load_sequences",
    "make_synthetic_dataset",
    "metric_sums",
    "model_spec",
    "next_item_loss",
    "random_ranking_ndcg",
    "rec_objective",
    "register_model",
    "sasrec_objective",
    "sasrec_search_space",
    "select_device",
    "target_ranks",
    "train_epoch",
    "training_windows",
]
