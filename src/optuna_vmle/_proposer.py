"""One proposal from the LLM: build the prompt, ask, validate, repair, or give up with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from optuna_vmle._client import LLMClient
from optuna_vmle._duplicates import DuplicateFinder
from optuna_vmle._history import build_study_view
from optuna_vmle._history import HistoryLimits
from optuna_vmle._llm import LLMCallError
from optuna_vmle._llm import LLMReply
from optuna_vmle._prompts import build_proposal_messages
from optuna_vmle._prompts import build_repair_messages
from optuna_vmle._proposal import InvalidProposal
from optuna_vmle._proposal import parse_proposal
from optuna_vmle._proposal import Proposal
from optuna_vmle._proposal import proposal_schema


@dataclass
class Usage:
    """What the LLM calls for one proposal cost."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    from_store: bool = False

    def add(self, reply: LLMReply, from_store: bool) -> None:
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.latency_s += reply.latency_s
        self.from_store = self.from_store or from_store
        if reply.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + reply.cost_usd


@dataclass
class ProposalResult:
    """A validated proposal (or the reason there is none, and its kind) and the usage it took.

    ``failure_kind`` is an :data:`~optuna_vmle._llm.TRANSIENT_KINDS` entry, ``"invalid"`` for
    replies that never validated, or a reason the LLM was not asked (``"budget"``).
    """

    proposal: Proposal | None
    repaired: bool = False
    failure: str | None = None
    failure_kind: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class Proposer:
    """Asks for the configuration of one trial from the task, the history and memory."""

    task: str
    budget: int | None
    history: HistoryLimits
    max_repair_rounds: int

    def propose(
        self,
        client: LLMClient,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: Mapping[str, BaseDistribution],
        *,
        find_duplicate: DuplicateFinder,
        memory_sections: Sequence[tuple[str, str]],
        seed: int | None,
    ) -> ProposalResult:
        """Ask for a configuration; feed problems back up to ``max_repair_rounds`` times.

        Raises:
            LLMConfigurationError: the LLM cannot be reached as configured.
        """
        view = build_study_view(study, trial, self.history)

        def messages_with(sections: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
            return build_proposal_messages(
                task=self.task,
                search_space=search_space,
                view=view,
                budget=self.budget,
                extra_sections=sections,
            )

        messages = messages_with(memory_sections)
        # The stored reply is found by the prompt without memory, which may differ by timing.
        key_messages = messages_with(()) if memory_sections else None
        schema = proposal_schema(search_space)
        result = ProposalResult(proposal=None)
        for round_number in range(self.max_repair_rounds + 1):
            try:
                answer = client.ask(
                    messages,
                    schema,
                    seed=seed,
                    purpose="proposal" if round_number == 0 else "repair",
                    study_name=study.study_name,
                    trial_number=trial.number,
                    key_messages=key_messages,
                )
            except LLMCallError as error:
                result.usage.calls += 1  # a failed call was still made (and may have cost time)
                result.failure, result.failure_kind = str(error), error.kind
                return result
            result.usage.add(answer.reply, answer.from_store)
            try:
                proposal = parse_proposal(answer.reply.content, search_space)
                duplicate_of = find_duplicate(proposal.params)
                if duplicate_of is not None:
                    raise InvalidProposal(
                        [f"this configuration was already tried in trial #{duplicate_of}"]
                    )
            except InvalidProposal as invalid:
                result.failure, result.failure_kind = f"invalid reply: {invalid}", "invalid"
                content = answer.reply.content
                messages = build_repair_messages(messages, content, invalid.problems)
                if key_messages is not None:
                    key_messages = build_repair_messages(key_messages, content, invalid.problems)
                continue
            result.proposal = proposal
            result.repaired = round_number > 0
            result.failure = result.failure_kind = None
            return result
        return result


def proposal_usage_attrs(model: str, usage: Usage) -> dict[str, Any]:
    """The ``vmle:llm`` attribute of a trial."""
    attrs: dict[str, Any] = {
        "model": model,
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "latency_s": round(usage.latency_s, 4),
        "from_store": usage.from_store,
    }
    if usage.cost_usd is not None:
        attrs["cost_usd"] = usage.cost_usd
    return attrs
