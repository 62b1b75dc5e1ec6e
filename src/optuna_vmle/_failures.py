"""Keep the reason a trial failed, so the LLM (and the reflection) can learn from it."""

from __future__ import annotations

from collections.abc import Callable
import functools
from typing import TypeVar

import optuna

from optuna_vmle import _attrs


_MAX_ERROR_CHARS = 500
Result = TypeVar("Result")


def record_errors(
    objective: Callable[[optuna.Trial], Result],
) -> Callable[[optuna.Trial], Result]:
    """Wrap an objective so that an exception's text is stored in ``vmle:error`` before Optuna
    marks the trial failed (Optuna itself only logs it). Pruning is not an error.

    Example:
        >>> import optuna
        >>> from optuna_vmle import record_errors
        >>> def objective(trial):
        ...     raise RuntimeError(f"CUDA out of memory at lr={trial.suggest_float('lr', 0, 1):.1f}")
        >>> study = optuna.create_study()
        >>> study.optimize(record_errors(objective), n_trials=1, catch=(RuntimeError,))
        >>> study.trials[0].user_attrs["vmle:error"].startswith("RuntimeError: CUDA out of memory")
        True
    """

    @functools.wraps(objective)
    def wrapped(trial: optuna.Trial) -> Result:
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            trial.set_user_attr(_attrs.ERROR, f"{type(error).__name__}: {error}"[:_MAX_ERROR_CHARS])
            raise

    return wrapped
