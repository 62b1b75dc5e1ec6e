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
from optuna_vmle.rec._batches import evaluation_data
from optuna_vmle.rec._batches import EvaluationData
from optuna_vmle.rec._batches import training_windows
from optuna_vmle.rec._batches import TrainingWindows
from optuna_vmle.rec._data import DatasetDescriptors
from optuna_vmle.rec._data import leave_one_out
from optuna_vmle.rec._data import LeaveOneOutSplit
from optuna_vmle.rec._data import load_sequences
from optuna_vmle.rec._data import MissingDataFileError
from optuna_vmle.rec._data import RecDataError
from optuna_vmle.rec._data import SequenceDataset
from optuna_vmle.rec._hstu import HSTU
from optuna_vmle.rec._layers import SequentialRecommender
from optuna_vmle.rec._losses import LOSSES
from optuna_vmle.rec._losses import next_item_loss
from optuna_vmle.rec._metrics import evaluate
from optuna_vmle.rec._metrics import metric_sums
from optuna_vmle.rec._metrics import random_ranking_ndcg
from optuna_vmle.rec._metrics import target_ranks
from optuna_vmle.rec._objective import hstu_objective
from optuna_vmle.rec._objective import rec_objective
from optuna_vmle.rec._objective import RecObjective
from optuna_vmle.rec._objective import sasrec_objective
from optuna_vmle.rec._registry import hstu_search_space
from optuna_vmle.rec._registry import model_spec
from optuna_vmle.rec._registry import MODELS
from optuna_vmle.rec._registry import ModelSpec
from optuna_vmle.rec._registry import register_model
from optuna_vmle.rec._registry import sasrec_search_space
from optuna_vmle.rec._sasrec import SASRec
from optuna_vmle.rec._synthetic import make_synthetic_dataset
from optuna_vmle.rec._train import EpochResult
from optuna_vmle.rec._train import fit
from optuna_vmle.rec._train import FitResult
from optuna_vmle.rec._train import RecTrainingError
from optuna_vmle.rec._train import select_device
from optuna_vmle.rec._train import train_epoch
from optuna_vmle.rec._train import TrainingConfig


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
