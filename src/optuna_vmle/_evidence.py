"""The evidence of a finished study, computed in code: top configurations, good ranges, failures.

Also the one place that cleans a summary (from the LLM, a file or the database) down to known
fields, JSON scalars and bounded texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
import json
import math
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs


TOP_QUANTILE = 0.2
MAX_RULES = 8
MAX_TOP_CONFIGS = 5
MAX_FAILURE_REGIONS = 5
MAX_GOOD_VALUES = 3
TEXT_MAX_CHARS = 240


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
        "param_ranges": good_ranges(top),
        "failure_regions": [
            {
                "trial": t.number,
                "params": _json_params(t.params),
                "error": str(t.user_attrs.get(_attrs.ERROR, ""))[:TEXT_MAX_CHARS],
            }
            for t in failed[-MAX_FAILURE_REGIONS:]
        ],
    }


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
        "rules": clean_texts(_list(raw.get("rules")), MAX_RULES),
        "n_trials": int(raw["n_trials"]) if _is_number(raw.get("n_trials")) else 0,
        "directions": clean_texts(_list(raw.get("directions")), 8),
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


def good_ranges(top: Sequence[FrozenTrial]) -> dict[str, dict[str, Any]]:
    """Per parameter of ``top``, its ``{"low", "high"}`` (numbers) or most common ``{"values"}``."""
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


def clean_texts(raw: Sequence[Any], limit: int) -> list[str]:
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
