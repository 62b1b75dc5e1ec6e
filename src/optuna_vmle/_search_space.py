"""Optuna distributions as the LLM sees them: a JSON schema, a short text, and value validation.

Everything an LLM returns is untrusted data. :func:`coerce_value` turns one raw JSON value into a
value of the distribution (snapping log/step grids) or raises :class:`InvalidValue` with a message
that can be fed back to the LLM for repair.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution


class InvalidValue(ValueError):
    """A proposed value that does not belong to its distribution."""


def json_schema_for(distribution: BaseDistribution) -> dict[str, Any]:
    """The JSON-schema fragment for one parameter."""
    if isinstance(distribution, CategoricalDistribution):
        return {"enum": [_json_choice(choice) for choice in distribution.choices]}
    if isinstance(distribution, IntDistribution):
        return {"type": "integer", "minimum": distribution.low, "maximum": distribution.high}
    if isinstance(distribution, FloatDistribution):
        return {"type": "number", "minimum": distribution.low, "maximum": distribution.high}
    raise TypeError(f"unsupported distribution {distribution!r}")


def describe(name: str, distribution: BaseDistribution) -> str:
    """One line such as ``lr: float in [1e-05, 0.1], log scale``."""
    if isinstance(distribution, CategoricalDistribution):
        choices = ", ".join(format_value(choice) for choice in distribution.choices)
        return f"{name}: one of [{choices}]"
    if isinstance(distribution, IntDistribution | FloatDistribution):
        kind = "int" if isinstance(distribution, IntDistribution) else "float"
        text = f"{name}: {kind} in [{format_value(distribution.low)}, {format_value(distribution.high)}]"
        if distribution.log:
            text += ", log scale"
        if distribution.step is not None and not (kind == "int" and distribution.step == 1):
            text += f", step {format_value(distribution.step)}"
        return text
    raise TypeError(f"unsupported distribution {distribution!r}")


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    """Suggest ``name`` from ``distribution`` through the public Trial API.

    Objectives that keep their search space as distributions (the rec objectives, benchmark
    problems) suggest every parameter this way.

    Example:
        >>> import optuna
        >>> from optuna_vmle import suggest
        >>> space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
        >>> study = optuna.create_study()
        >>> study.optimize(lambda t: suggest(t, "lr", space["lr"]), n_trials=1)
        >>> 1e-4 <= study.best_params["lr"] <= 1e-1
        True
    """
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(f"unsupported distribution for {name!r}: {distribution!r}")


def format_value(value: Any) -> str:
    """Compact, unambiguous text for a parameter or objective value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def coerce_value(name: str, distribution: BaseDistribution, raw: Any) -> Any:
    """Validate ``raw`` against ``distribution`` and return the value Optuna should use."""
    if isinstance(distribution, CategoricalDistribution):
        return _match_choice(name, distribution, raw)
    number = _as_number(name, raw)
    low, high = distribution.low, distribution.high
    tolerance = 1e-9 * max(1.0, abs(high - low))
    if not (low - tolerance <= number <= high + tolerance):
        raise InvalidValue(
            f"{name}={format_value(raw)} is outside [{format_value(low)}, {format_value(high)}]"
        )
    number = min(max(number, low), high)
    if isinstance(distribution, IntDistribution):
        step = distribution.step
        snapped = low + round((number - low) / step) * step
        return int(min(snapped, high))
    if distribution.step is not None:
        step = distribution.step
        snapped = low + round((number - low) / step) * step
        return float(min(snapped, high))
    return float(number)


def _as_number(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or raw is None:
        raise InvalidValue(f"{name} must be a number, got {format_value(raw)}")
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            raise InvalidValue(f"{name} must be a number, got {raw!r}") from None
    else:
        raise InvalidValue(f"{name} must be a number, got {type(raw).__name__}")
    if not math.isfinite(number):
        raise InvalidValue(f"{name} must be finite, got {raw!r}")
    return number


def _match_choice(name: str, distribution: CategoricalDistribution, raw: Any) -> Any:
    for choice in distribution.choices:
        if _same_choice(choice, raw):
            return choice
    # Lenient second pass: the LLM wrote a number or bool as text, or vice versa.
    for choice in distribution.choices:
        if isinstance(raw, str) and format_value(choice).strip('"') == raw.strip():
            return choice
    choices = ", ".join(format_value(choice) for choice in distribution.choices)
    raise InvalidValue(f"{name}={format_value(raw)} is not one of [{choices}]")


def _same_choice(choice: Any, raw: Any) -> bool:
    # bool is a subclass of int in Python, but True must not match the choice 1.
    if isinstance(choice, bool) or isinstance(raw, bool):
        return isinstance(choice, bool) and isinstance(raw, bool) and choice == raw
    if choice is None or raw is None:
        return choice is None and raw is None
    if isinstance(choice, int | float) and isinstance(raw, int | float):
        return choice == raw
    return type(choice) is type(raw) and choice == raw


def _json_choice(choice: Any) -> Any:
    if isinstance(choice, float) and not math.isfinite(choice):
        return str(choice)
    return choice
