"""Distillation: a finished study becomes a cognition summary (rules plus evidence)."""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
import datetime
import functools
from typing import Any
import uuid

import optuna

from optuna_vmle._client import ask_json
from optuna_vmle._client import LLMClient
from optuna_vmle._client import Purpose
from optuna_vmle._evidence import clean_summary
from optuna_vmle._evidence import clean_texts
from optuna_vmle._evidence import MAX_RULES
from optuna_vmle._evidence import summarize_evidence
from optuna_vmle._evidence import TEXT_MAX_CHARS
from optuna_vmle._prompts import build_distill_messages
from optuna_vmle._proposal import extract_json_object
from optuna_vmle._relevance import usable_text


Descriptors = Mapping[str, "float | str"]

_logger = optuna.logging.get_logger(f"optuna.{__name__}")


def distill_summary(
    study: optuna.Study,
    *,
    descriptors: Descriptors,
    insights: Mapping[str, Any] | None,
    client: LLMClient | None,
    task: str,
    seed: int | None,
    vocabulary: Collection[str] | None = None,
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
        purpose = Purpose("distill", study.study_name, None, seed)
        parse = functools.partial(parse_rules, vocabulary=vocabulary)
        answer = ask_json(client, messages, distill_schema(), parse, purpose)
        if answer.error is not None:
            _logger.warning(
                f"Distilling rules with the LLM failed ({answer.error}); using the insights."
            )
        rules = answer.value or rules
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


def parse_rules(text: str, vocabulary: Collection[str] | None = None) -> list[str]:
    """The rules of a distill reply: strings only, truncated, at most ``MAX_RULES``; with a
    ``vocabulary``, rules that name nothing of the task are dropped."""
    rules = extract_json_object(text).get("rules")
    if not isinstance(rules, list):
        return []
    cleaned = clean_texts(rules, MAX_RULES)
    if vocabulary is None:
        return cleaned
    return [rule for rule in cleaned if usable_text(rule, vocabulary=vocabulary)]


def _principle_texts(insights: Mapping[str, Any] | None) -> list[str]:
    if not insights:
        return []
    return clean_texts([item.get("text") for item in insights.get("principles", [])], MAX_RULES)
