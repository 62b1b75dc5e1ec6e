"""The proposal reply: its JSON schema, lenient JSON extraction and validation of every value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import json
from typing import Any

from optuna.distributions import BaseDistribution

from optuna_vmle._search_space import coerce_value
from optuna_vmle._search_space import InvalidValue
from optuna_vmle._search_space import json_schema_for


RATIONALE_MAX_CHARS = 200


class InvalidProposal(ValueError):
    """A reply that cannot be used as-is; ``problems`` are fed back to the LLM for repair."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Proposal:
    """Validated parameters and the LLM's short reason for them."""

    params: dict[str, Any]
    rationale: str


def proposal_schema(search_space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """The JSON schema of a reply proposing one value for every parameter of ``search_space``."""
    return {
        "type": "object",
        "properties": {
            "params": {
                "type": "object",
                "properties": {name: json_schema_for(d) for name, d in search_space.items()},
                "required": list(search_space),
                "additionalProperties": False,
            },
            "rationale": {"type": "string", "maxLength": RATIONALE_MAX_CHARS},
        },
        "required": ["params", "rationale"],
        "additionalProperties": False,
    }


def parse_proposal(text: str, search_space: Mapping[str, BaseDistribution]) -> Proposal:
    """Extract and validate a proposal from the raw reply text.

    Raises:
        InvalidProposal: with one message per problem found.
    """
    reply = extract_json_object(text)
    raw_params = reply.get("params")
    if not isinstance(raw_params, dict):
        # Weaker models sometimes put the parameters at the top level.
        raw_params = {k: v for k, v in reply.items() if k in search_space}
        if not raw_params:
            raise InvalidProposal(['the reply has no "params" object'])
    problems = [f"missing parameter {name}" for name in search_space if name not in raw_params]
    problems += [f"unknown parameter {name}" for name in raw_params if name not in search_space]
    params: dict[str, Any] = {}
    for name, distribution in search_space.items():
        if name not in raw_params:
            continue
        try:
            params[name] = coerce_value(name, distribution, raw_params[name])
        except InvalidValue as error:
            problems.append(str(error))
    if problems:
        raise InvalidProposal(problems)
    rationale = reply.get("rationale")
    rationale = (
        " ".join(rationale.split())[:RATIONALE_MAX_CHARS] if isinstance(rationale, str) else ""
    )
    return Proposal(params=params, rationale=rationale)


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``, also when wrapped in prose or a code fence."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise InvalidProposal(["the reply is not a JSON object"])
