"""Warm start: a study's first trials are the best configurations of similar past studies.

It happens exactly once per study, however many workers start at the same moment, without a lock:
only the worker that runs trial number 0 does it (every storage hands out each trial number
once). Trial 0 itself runs the first configuration, unless the user enqueued its parameters;
the others are enqueued behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from optuna_vmle import _attrs


WARM_PARAMS = "vmle:warm_start_params"  # trial system attr: the configuration trial 0 runs


def enqueue_warm_start(
    study: optuna.Study, trial: FrozenTrial, configs: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Give ``configs`` (summary id, params) to trial 0 and the trials after it."""
    if trial.number != 0 or not configs:
        return
    configs = list(configs)
    if not trial.system_attrs.get("fixed_params"):
        summary_id, params = configs.pop(0)
        study._storage.set_trial_system_attr(trial._trial_id, WARM_PARAMS, params)
        _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.TRANSFERRED_FROM: summary_id})
    for summary_id, params in configs:
        study.enqueue_trial(
            params, user_attrs={_attrs.TRANSFERRED_FROM: summary_id}, skip_if_exists=True
        )


def warm_start_params(study: optuna.Study, trial: FrozenTrial) -> Mapping[str, Any]:
    """The transferred configuration this trial runs (empty for all but a warm-started trial 0).

    Read from the storage: it was written after Optuna took the frozen trial.
    """
    if trial.number != 0:
        return {}
    return study._storage.get_trial_system_attrs(trial._trial_id).get(WARM_PARAMS) or {}
