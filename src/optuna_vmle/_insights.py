"""Consolidation: all trial notes of a study become a bounded set of study insights.

At most ``MAX_ITEMS`` principles and ``MAX_ITEMS`` failure modes, each with the numbers of the
trials that support it, whatever the number of trials; the LLM merges the newest notes into the
previous insights, and a deterministic ranking (support, then the best value reached) takes over
when the LLM fails.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Sequence
import functools
import re
from typing import Any

import optuna

from optuna_vmle._client import ask_json
from optuna_vmle._client import LLMClient
from optuna_vmle._client import Purpose
from optuna_vmle._prompts import build_insights_messages
from optuna_vmle._proposal import extract_json_object
from optuna_vmle._relevance import usable_text


MAX_ITEMS = 10
MAX_TRIALS_PER_ITEM = 20
MAX_NOTES_PER_CALL = 40
ITEM_MAX_CHARS = 160

_logger = optuna.logging.get_logger(f"optuna.{__name__}")


class InvalidInsights(ValueError):
    """An insights reply with no usable principle or failure mode."""


def insights_schema() -> dict[str, Any]:
    """The JSON schema of a consolidation reply."""
    item = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "maxLength": ITEM_MAX_CHARS},
            "trials": {"type": "array", "items": {"type": "integer"}, "maxItems": 10},
        },
        "required": ["text", "trials"],
        "additionalProperties": False,
    }
    items = {"type": "array", "items": item, "maxItems": MAX_ITEMS}
    return {
        "type": "object",
        "properties": {"principles": items, "failure_modes": items},
        "required": ["principles", "failure_modes"],
        "additionalProperties": False,
    }


def consolidate_notes(
    notes: Sequence[dict[str, Any]],
    previous: dict[str, Any] | None,
    *,
    maximize: bool,
    client: LLMClient | None,
    task: str,
    study_name: str,
    seed: int | None,
    vocabulary: Collection[str] | None = None,
) -> dict[str, Any]:
    """Bounded insights from ``notes`` (and the ``previous`` insights, when the LLM merges)."""
    if client is not None:
        messages = build_insights_messages(
            task=task,
            current=previous,
            notes=_most_informative(notes, MAX_NOTES_PER_CALL),
            max_items=MAX_ITEMS,
        )
        known = {int(note["trial"]) for note in notes}
        purpose = Purpose("insights", study_name, None, seed)
        parse = functools.partial(parse_insights, known_trials=known, vocabulary=vocabulary)
        answer = ask_json(client, messages, insights_schema(), parse, purpose)
        if answer.value is not None:
            return {**answer.value, "method": "llm"}
        _logger.warning(
            f"Insights consolidation by the LLM failed ({answer.error}); ranking rules."
        )
    return {**rank_insights(notes, maximize=maximize), "method": "ranking"}


def parse_insights(
    text: str, known_trials: set[int], vocabulary: Collection[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Validated insights: strings truncated, trial numbers restricted to ``known_trials``;
    with a ``vocabulary``, items that name nothing of the task (or copy the template) dropped."""
    try:
        reply = extract_json_object(text)
    except ValueError:
        raise InvalidInsights("the reply is not a JSON object") from None
    insights = {key: _clean_items(reply.get(key), known_trials) for key in _KINDS}
    if vocabulary is not None:
        insights = {
            key: [item for item in items if usable_text(item["text"], vocabulary=vocabulary)]
            for key, items in insights.items()
        }
    if not any(insights.values()):
        raise InvalidInsights("the reply has no principle and no failure mode")
    return insights


def rank_insights(
    notes: Sequence[dict[str, Any]], *, maximize: bool
) -> dict[str, list[dict[str, Any]]]:
    """Deterministic insights: rules grouped by their wording, ranked by support and value.

    Principles come from complete trials (their rules, else what changed in a trial that set a
    new best); failure modes from failed and pruned trials (their rules, else their outcome).
    """
    complete = [n for n in notes if n.get("state") == "COMPLETE"]
    failed = [n for n in notes if n.get("state") in ("FAIL", "PRUNED")]
    principle_texts = {n["trial"]: n.get("rule") or _improvement_text(n) for n in complete}
    failure_texts = {n["trial"]: n.get("rule") or n.get("outcome", "") for n in failed}
    values = {
        n["trial"]: (-n["value"] if maximize else n["value"])
        for n in complete
        if isinstance(n.get("value"), int | float)
    }
    return {
        "principles": _group_and_rank(principle_texts, values),
        "failure_modes": _group_and_rank(failure_texts, {}),
    }


def _improvement_text(note: dict[str, Any]) -> str:
    if "new best" not in note.get("outcome", ""):
        return ""
    return f"improved the best by changing {note.get('changed', '')}"


def _group_and_rank(texts: dict[int, str], losses: dict[int, float]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for trial, text in sorted(texts.items()):
        if not text:
            continue
        group = groups.setdefault(_wording_key(text), {"text": text[:ITEM_MAX_CHARS], "trials": []})
        group["trials"].append(trial)

    def rank(group: dict[str, Any]) -> tuple[int, float]:
        best = min((losses[t] for t in group["trials"] if t in losses), default=float("inf"))
        return -len(group["trials"]), best

    ranked = sorted(groups.values(), key=rank)[:MAX_ITEMS]
    return [{"text": g["text"], "trials": g["trials"][-MAX_TRIALS_PER_ITEM:]} for g in ranked]


def _most_informative(notes: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The newest notes, with failed and pruned ones kept first when there are too many."""
    failed = [n for n in notes if n.get("state") != "COMPLETE"][-limit // 2 :]
    rest = [n for n in notes if n.get("state") == "COMPLETE"][-(limit - len(failed)) :]
    return sorted([*failed, *rest], key=lambda n: n["trial"])


def _clean_items(raw: Any, known_trials: set[int]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    items = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            continue
        text = " ".join(entry["text"].split())[:ITEM_MAX_CHARS]
        trials = entry.get("trials") if isinstance(entry.get("trials"), list) else []
        numbers = sorted(
            {t for t in trials if type(t) is int and t in known_trials}  # bool is not a trial
        )
        if text:
            items.append({"text": text, "trials": numbers[-MAX_TRIALS_PER_ITEM:]})
    return items[:MAX_ITEMS]


def _wording_key(text: str) -> str:
    # Rules that differ only in numbers or punctuation are the same lesson.
    return " ".join(re.sub(r"[^a-z]+", " ", text.lower()).split())


_KINDS = ("principles", "failure_modes")
