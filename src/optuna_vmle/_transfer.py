"""Cognition summaries: what a finished study learned, carried to new studies.

A summary holds transferable rules (text) and structured evidence computed in code: the top
configurations, good ranges or values of each parameter (from the top quantile of trials) and
known failure regions (from failed trials). It is tagged with task descriptors (model family,
metric, dataset statistics, user tags); a new study retrieves the summaries whose descriptors
are similar to its own and shows them as hypotheses to confirm, and may enqueue their top
configurations. Summaries move between machines as versioned JSON files.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs
from optuna_vmle._client import LLMClient
from optuna_vmle._llm import LLMCallError
from optuna_vmle._memory import MemoryStore
from optuna_vmle._prompts import build_distill_messages
from optuna_vmle._proposal import extract_json_object
from optuna_vmle._search_space import coerce_value
from optuna_vmle._search_space import InvalidValue


SUMMARY_FORMAT = "optuna-vmle-summaries"
SUMMARY_FORMAT_VERSION = 1
TOP_QUANTILE = 0.2
MAX_RULES = 8
MAX_TOP_CONFIGS = 5
MAX_FAILURE_REGIONS = 5
MAX_GOOD_VALUES = 3
TEXT_MAX_CHARS = 240
DEFAULT_SIMILARITY_THRESHOLD = 0.5

Descriptors = Mapping[str, "float | str"]

_logger = optuna.logging.get_logger(__name__)


class SummaryFormatError(ValueError):
    """A summaries file that is not in a format this optuna-vmle can read."""


def summarize_evidence(study: optuna.Study, top_quantile: float = TOP_QUANTILE) -> dict[str, Any]:
    """Top configurations, good parameter ranges and failure regions of ``study``, in code."""
    ranked = _ranked_complete(study)
    top = ranked[: max(1, math.ceil(top_quantile * len(ranked)))] if ranked else []
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return {
        "n_trials": len(study.get_trials(deepcopy=False)),
        "directions": [d.name.lower() for d in study.directions],
        "top_configs": [
            {"trial": t.number, "params": _json_params(t.params), "value": float(t.values[0])}
            for t in ranked[:MAX_TOP_CONFIGS]
        ],
        "param_ranges": _good_ranges(top),
        "failure_regions": [
            {
                "trial": t.number,
                "params": _json_params(t.params),
                "error": str(t.user_attrs.get(_attrs.ERROR, ""))[:TEXT_MAX_CHARS],
            }
            for t in failed[-MAX_FAILURE_REGIONS:]
        ],
    }


def distill_summary(
    study: optuna.Study,
    *,
    descriptors: Descriptors,
    insights: Mapping[str, Any] | None,
    client: LLMClient | None,
    task: str,
    seed: int | None,
) -> dict[str, Any]:
    """A new cognition summary of ``study``; rules from the LLM, else from the insights."""
    evidence = summarize_evidence(study)
    rules = _principle_texts(insights)
    if client is not None:
        messages = build_distill_messages(
            task=task,
            descriptors=descriptors,
            insights=insights,
            evidence=evidence,
            max_rules=MAX_RULES,
        )
        try:
            answer = client.ask(
                messages,
                distill_schema(),
                seed=seed,
                purpose="distill",
                study_name=study.study_name,
                trial_number=None,
            )
            rules = parse_rules(answer.reply.content) or rules
        except (LLMCallError, ValueError) as error:
            _logger.warning(f"Distilling rules with the LLM failed ({error}); using the insights.")
    return clean_summary(
        {
            "id": uuid.uuid4().hex,
            "study_name": study.study_name,
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "task": task,
            "descriptors": dict(descriptors),
            "rules": rules,
            **evidence,
        }
    )


def distill_schema() -> dict[str, Any]:
    """The JSON schema of a distill reply."""
    rule = {"type": "string", "maxLength": TEXT_MAX_CHARS}
    return {
        "type": "object",
        "properties": {"rules": {"type": "array", "items": rule, "maxItems": MAX_RULES}},
        "required": ["rules"],
        "additionalProperties": False,
    }


def parse_rules(text: str) -> list[str]:
    """The rules of a distill reply: strings only, truncated, at most ``MAX_RULES``."""
    rules = extract_json_object(text).get("rules")
    if not isinstance(rules, list):
        return []
    return _clean_texts(rules, MAX_RULES)


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


def write_summaries_file(summaries: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write summaries as a versioned JSON document."""
    document = {
        "format": SUMMARY_FORMAT,
        "version": SUMMARY_FORMAT_VERSION,
        "summaries": [clean_summary(s) for s in summaries],
    }
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_summaries_file(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a summaries file written by :func:`write_summaries_file`.

    Raises:
        SummaryFormatError: the file is not a summaries document of a supported version.
    """
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise SummaryFormatError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != SUMMARY_FORMAT:
        raise SummaryFormatError(f"{path} is not an {SUMMARY_FORMAT} file")
    if document.get("version") != SUMMARY_FORMAT_VERSION:
        raise SummaryFormatError(
            f"{path} has format version {document.get('version')}, this optuna-vmle reads "
            f"version {SUMMARY_FORMAT_VERSION}"
        )
    summaries = document.get("summaries")
    if not isinstance(summaries, list):
        raise SummaryFormatError(f"{path} has no list of summaries")
    return [clean_summary(s) for s in summaries if isinstance(s, dict) and s.get("id")]


def clean_summary(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A summary with only known fields, JSON scalars and bounded texts (files are untrusted)."""
    return {
        "id": str(raw["id"])[:64],
        "study_name": str(raw.get("study_name", ""))[:512],
        "created_at": str(raw.get("created_at", ""))[:64],
        "task": str(raw.get("task", ""))[:TEXT_MAX_CHARS],
        "descriptors": {
            str(k)[:64]: (v[:TEXT_MAX_CHARS] if isinstance(v, str) else float(v))
            for k, v in _mapping(raw.get("descriptors")).items()
            if isinstance(v, str) or (_is_number(v) and math.isfinite(v))
        },
        "rules": _clean_texts(_list(raw.get("rules")), MAX_RULES),
        "n_trials": int(raw["n_trials"]) if _is_number(raw.get("n_trials")) else 0,
        "directions": _clean_texts(_list(raw.get("directions")), 8),
        "top_configs": [
            {
                "trial": _trial(c),
                "params": _json_params(_mapping(c.get("params"))),
                "value": float(c["value"]),
            }
            for c in _list(raw.get("top_configs"))[:MAX_TOP_CONFIGS]
            if isinstance(c, dict) and _is_number(c.get("value")) and math.isfinite(c["value"])
        ],
        "param_ranges": {
            str(name)[:64]: _clean_range(good)
            for name, good in _mapping(raw.get("param_ranges")).items()
            if isinstance(good, dict) and _clean_range(good)
        },
        "failure_regions": [
            {
                "trial": _trial(r),
                "params": _json_params(_mapping(r.get("params"))),
                "error": str(r.get("error", ""))[:TEXT_MAX_CHARS],
            }
            for r in _list(raw.get("failure_regions"))[:MAX_FAILURE_REGIONS]
            if isinstance(r, dict)
        ],
    }


def _ranked_complete(study: optuna.Study) -> list[FrozenTrial]:
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if math.isfinite(t.values[0])
    ]
    # Multi-objective studies are ranked by their first objective.
    sign = -1.0 if study.directions[0] == StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(complete, key=lambda t: sign * t.values[0])
    # A configuration evaluated twice (a grid, a re-run) is one piece of evidence: keep its best.
    seen: set[str] = set()
    distinct = []
    for trial in ranked:
        key = json.dumps(_json_params(trial.params), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            distinct.append(trial)
    return distinct


def _good_ranges(top: Sequence[FrozenTrial]) -> dict[str, dict[str, Any]]:
    names = sorted({name for t in top for name in t.params})
    ranges: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [t.params[name] for t in top if name in t.params]
        if all(_is_number(v) for v in values):
            ranges[name] = {"low": min(values), "high": max(values)}
        else:
            counts = Counter(json.dumps(v) for v in values)
            ranges[name] = {
                "values": [json.loads(v) for v, _ in counts.most_common(MAX_GOOD_VALUES)]
            }
    return ranges


def _clean_range(good: Mapping[str, Any]) -> dict[str, Any]:
    if _is_number(good.get("low")) and _is_number(good.get("high")):
        return {"low": good["low"], "high": good["high"]}
    values = [v for v in _list(good.get("values")) if _is_scalar(v)]
    return {"values": values[:MAX_GOOD_VALUES]} if values else {}


def _principle_texts(insights: Mapping[str, Any] | None) -> list[str]:
    if not insights:
        return []
    return _clean_texts([item.get("text") for item in insights.get("principles", [])], MAX_RULES)


def _clean_texts(raw: Sequence[Any], limit: int) -> list[str]:
    texts = [" ".join(t.split())[:TEXT_MAX_CHARS] for t in raw if isinstance(t, str)]
    return [t for t in texts if t][:limit]


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k)[:128]: v for k, v in params.items() if _is_scalar(v)}


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _trial(entry: Mapping[str, Any]) -> int:
    return int(entry["trial"]) if _is_number(entry.get("trial")) else -1


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def export_summaries(memory_url: str, path: str | Path, ids: Sequence[str] | None = None) -> int:
    """Write the summaries stored at ``memory_url`` (all, or those in ``ids``) to a JSON file.

    Returns the number of summaries written.

    Example:
        .. code-block:: python

            from optuna_vmle import export_summaries, import_summaries

            export_summaries("sqlite:///team_a.db", "summaries.json")
            import_summaries("postgresql://db.team-b/optuna", "summaries.json")
    """
    summaries = MemoryStore(memory_url).summaries(list(ids) if ids is not None else None)
    write_summaries_file(summaries, path)
    return len(summaries)


def import_summaries(memory_url: str, path: str | Path) -> int:
    """Store the summaries of a JSON file at ``memory_url``; already known ids are skipped.

    Returns the number of summaries added.
    """
    memory = MemoryStore(memory_url)
    return sum(memory.add_summary(summary) for summary in read_summaries_file(path))
