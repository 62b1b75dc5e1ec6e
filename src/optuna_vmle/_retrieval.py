"""Retrieval: the summaries of past studies similar to this one, and their configurations mapped
into this study's search space."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from optuna.distributions import BaseDistribution

from optuna_vmle._search_space import coerce_value
from optuna_vmle._search_space import InvalidValue


DEFAULT_SIMILARITY_THRESHOLD = 0.5

Descriptors = Mapping[str, "float | str"]


def descriptor_similarity(query: Descriptors, candidate: Descriptors) -> float:
    """How similar two tasks are, from 0 (unrelated) to 1 (same descriptors).

    Every text descriptor of ``query`` (model family, metric, tags) must be present in
    ``candidate`` with the same value, else the similarity is 0. Numeric descriptors both have
    are compared in log space: each contributes ``exp(-|log a - log b|)`` (= min/max), and the
    similarity is their mean (1 when there are none).
    """
    ratios = []
    for key, value in query.items():
        other = candidate.get(key)
        if isinstance(value, str):
            if not isinstance(other, str) or other.strip().lower() != value.strip().lower():
                return 0.0
        elif isinstance(other, int | float) and not isinstance(other, bool):
            a, b = float(value), float(other)
            if a > 0 and b > 0:
                ratios.append(min(a, b) / max(a, b))
            else:
                ratios.append(1.0 if a == b else 0.0)
    if not ratios and not any(key in candidate for key in query):
        return 0.0
    return sum(ratios) / len(ratios) if ratios else 1.0


def retrieve_summaries(
    summaries: Sequence[Mapping[str, Any]],
    descriptors: Descriptors,
    *,
    exclude_study: str | None = None,
    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    limit: int = 2,
) -> list[tuple[float, Mapping[str, Any]]]:
    """The most similar summaries at or above ``threshold``, most similar (then newest) first."""
    scored = [
        (descriptor_similarity(descriptors, s.get("descriptors", {})), index, s)
        for index, s in enumerate(summaries)
        if s.get("study_name") != exclude_study
    ]
    ranked = sorted((item for item in scored if item[0] >= threshold), key=lambda i: (-i[0], -i[1]))
    return [(similarity, summary) for similarity, _, summary in ranked[:limit]]


def transferred_configs(
    retrieved: Sequence[tuple[float, Mapping[str, Any]]],
    search_space: Mapping[str, BaseDistribution],
    k: int,
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``k`` (summary id, params) top configurations mapped into ``search_space``.

    Values are snapped to the new distributions; values outside them and parameters the new
    space lacks are left out (the sampler proposes those).
    """
    configs: list[tuple[str, dict[str, Any]]] = []
    for _, summary in retrieved:
        for config in summary.get("top_configs", []):
            mapped = map_params(config.get("params", {}), search_space)
            if mapped and mapped not in [params for _, params in configs]:
                configs.append((str(summary["id"]), mapped))
    return configs[:k]


def map_params(
    params: Mapping[str, Any], search_space: Mapping[str, BaseDistribution]
) -> dict[str, Any]:
    """The values of ``params`` that belong to ``search_space``, snapped to it."""
    mapped = {}
    for name, distribution in search_space.items():
        if name not in params:
            continue
        try:
            mapped[name] = coerce_value(name, distribution, params[name])
        except InvalidValue:
            continue
    return mapped
