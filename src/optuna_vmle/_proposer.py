"""One proposal from the LLM: ask, validate, repair once, or give up with the reason."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from optuna.distributions import BaseDistribution

from optuna_vmle._client import LLMClient
from optuna_vmle._llm import LLMCallError
from optuna_vmle._prompts import build_repair_messages
from optuna_vmle._proposal import InvalidProposal
from optuna_vmle._proposal import parse_proposal
from optuna_vmle._proposal import Proposal
from optuna_vmle._proposal import proposal_schema


DuplicateCheck = Callable[[dict[str, Any]], "int | None"]
"""Returns the number of an existing trial with the same parameters, or None."""


@dataclass
class Usage:
    """What the LLM calls for one proposal cost."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    from_store: bool = False


@dataclass
class ProposalResult:
    """A validated proposal (or the reason there is none) and the usage it took."""

    proposal: Proposal | None
    repaired: bool = False
    failure: str | None = None
    usage: Usage = field(default_factory=Usage)


def request_proposal(
    client: LLMClient,
    messages: list[dict[str, str]],
    search_space: Mapping[str, BaseDistribution],
    *,
    find_duplicate: DuplicateCheck,
    max_repair_rounds: int,
    seed: int | None,
    study_name: str | None,
    trial_number: int | None,
) -> ProposalResult:
    """Ask for a configuration; feed validation problems back up to ``max_repair_rounds`` times."""
    schema = proposal_schema(search_space)
    result = ProposalResult(proposal=None)
    for round_number in range(max_repair_rounds + 1):
        try:
            answer = client.ask(
                messages,
                schema,
                seed=seed,
                purpose="proposal" if round_number == 0 else "repair",
                study_name=study_name,
                trial_number=trial_number,
            )
        except LLMCallError as error:
            result.usage.calls += 1  # a failed call was still made (and may have cost time)
            result.failure = str(error)
            return result
        _add_usage(result.usage, answer.reply, answer.from_store)
        try:
            proposal = parse_proposal(answer.reply.content, search_space)
            duplicate_of = find_duplicate(proposal.params)
            if duplicate_of is not None:
                raise InvalidProposal(
                    [f"this configuration was already tried in trial #{duplicate_of}"]
                )
        except InvalidProposal as invalid:
            result.failure = f"invalid reply: {invalid}"
            messages = build_repair_messages(messages, answer.reply.content, invalid.problems)
            continue
        result.proposal = proposal
        result.repaired = round_number > 0
        result.failure = None
        return result
    return result


def _add_usage(usage: Usage, reply: Any, from_store: bool) -> None:
    usage.calls += 1
    usage.prompt_tokens += reply.prompt_tokens
    usage.completion_tokens += reply.completion_tokens
    usage.latency_s += reply.latency_s
    usage.from_store = usage.from_store or from_store
    if reply.cost_usd is not None:
        usage.cost_usd = (usage.cost_usd or 0.0) + reply.cost_usd
