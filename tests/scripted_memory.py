"""Scripted replies for studies that reflect: proposals and reflections interleave, so one
callable answers each request according to the schema it asks for."""

from __future__ import annotations

from collections.abc import Callable
import json
import re
from typing import Any

from optuna_vmle.testing import random_valid_reply


Reply = Callable[[list[dict[str, str]], dict[str, Any]], str]


def reflection_reply(rule: str = "keep lr near 1e-3") -> Reply:
    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        number = re.search(r"Trial #(\d+)", messages[-1]["content"]).group(1)
        return json.dumps(
            {
                "hypothesis": f"trial {number} tests a change",
                "verdict": "confirmed",
                "rule": rule,
                "next_action": "try a larger model",
            }
        )

    return reply


def insights_reply(principle: str = "moderate learning rates win") -> Reply:
    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        trials = [int(n) for n in re.findall(r"^#(\d+) ", messages[-1]["content"], re.MULTILINE)]
        return json.dumps(
            {
                "principles": [{"text": principle, "trials": trials[:3]}],
                "failure_modes": [{"text": "huge learning rates diverge", "trials": trials[-1:]}],
            }
        )

    return reply


def by_purpose(
    proposal: Reply | None = None,
    reflection: Reply | None = None,
    insights: Reply | None = None,
    distill: Reply | None = None,
) -> Reply:
    """One reply callable that routes each request by the JSON schema it asks for."""
    routes = {
        "params": proposal or random_valid_reply(0),
        "verdict": reflection or reflection_reply(),
        "principles": insights or insights_reply(),
        "rules": distill
        or (lambda m, s: json.dumps({"rules": ["widen the blocks before raising lr"]})),
    }

    def reply(messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        properties = schema.get("properties", {})
        for key, route in routes.items():
            if key in properties:
                return route(messages, schema)
        raise AssertionError(f"unexpected schema {schema}")

    return reply
