"""One proposal from the LLM: build the prompt, ask, validate, repair, or give up with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
import threading

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.trial import FrozenTrial
import sqlalchemy

from optuna_vmle._classical_view import classical_view
from optuna_vmle._client import LLMClient
from optuna_vmle._clients import ClientPool
from optuna_vmle._duplicates import DuplicateFinder
from optuna_vmle._history import build_study_view
from optuna_vmle._history import HistoryLimits
from optuna_vmle._llm import LLMCallError
from optuna_vmle._llm import LLMConfigurationError
from optuna_vmle._llm import LLMReply
from optuna_vmle._options import LLMOptions
from optuna_vmle._options import TransferOptions
from optuna_vmle._prompt_memory import memory_sections
from optuna_vmle._prompt_memory import Retrieved
from optuna_vmle._prompt_memory import similar_summaries
from optuna_vmle._prompts import build_proposal_messages
from optuna_vmle._prompts import build_repair_messages
from optuna_vmle._prompts import CLASSICAL_SECTION_TITLE
from optuna_vmle._prompts import format_classical_view
from optuna_vmle._proposal import InvalidProposal
from optuna_vmle._proposal import parse_proposal
from optuna_vmle._proposal import Proposal
from optuna_vmle._proposal import proposal_schema
from optuna_vmle._spend import spent_usd


_logger = optuna.logging.get_logger(f"optuna.{__name__}")


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
    memory_ids: list[str] = field(default_factory=list)


class Proposer:
    """The propose flow of one trial: prompt (task, history, memory) -> LLM -> validation.

    A transient failure, a cost cap reached or an unreadable transcript database gives a
    result without a proposal (and its reason); a configuration error is raised unless
    ``llm.on_configuration_error`` is ``"fallback"``.
    """

    def __init__(
        self,
        *,
        task: str,
        budget: int | None,
        history: HistoryLimits,
        llm: LLMOptions,
        transfer: TransferOptions,
        clients: ClientPool,
        classical: TPESampler | None = None,
    ) -> None:
        self._task = task
        self._classical = classical
        self._budget = budget
        self._history = history
        self._llm = llm
        self._transfer = transfer
        self._clients = clients
        # Retrieved once per study and process: summaries change rarely, prompts every trial.
        self._retrieved: dict[str, Retrieved] = {}
        self._lock = threading.Lock()

    def propose(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: Mapping[str, BaseDistribution],
        find_duplicate: DuplicateFinder,
        seed: int | None,
    ) -> ProposalResult:
        """Ask for a configuration of ``search_space`` for ``trial``."""
        cap = self._llm.budget_usd
        if cap is not None and spent_usd(study) >= cap:
            return ProposalResult(None, failure=f"budget_usd={cap} reached", failure_kind="budget")
        try:
            sections, memory_ids = memory_sections(study, self.similar_summaries(study))
        except (RuntimeError, sqlalchemy.exc.SQLAlchemyError) as error:
            # The proposal works without memory, only less informed.
            _logger.warning(f"Trial {trial.number}: memory unavailable for the prompt ({error}).")
            sections, memory_ids = [], []
        sections += self._classical_sections(study, search_space)
        try:
            client = self._clients.get(study, "proposal")
            result = self._ask(client, study, trial, search_space, find_duplicate, sections, seed)
        except LLMConfigurationError as error:
            if self._llm.on_configuration_error == "raise":
                raise
            result = ProposalResult(None, failure=str(error), failure_kind="configuration")
        except (RuntimeError, sqlalchemy.exc.SQLAlchemyError) as error:
            # A broken transcript database must not stop the study.
            failure = f"transcript database unavailable: {error}"
            result = ProposalResult(None, failure=failure, failure_kind="database")
        result.memory_ids = memory_ids
        return result

    def _classical_sections(
        self, study: optuna.Study, search_space: Mapping[str, BaseDistribution]
    ) -> list[tuple[str, str]]:
        """TPE's good region and the LLM's trust share, when a guarded TPE shares the study."""
        if self._classical is None:
            return []
        text = format_classical_view(classical_view(study, self._classical), search_space)
        return [(CLASSICAL_SECTION_TITLE, text)] if text else []

    def similar_summaries(self, study: optuna.Study) -> Retrieved:
        """The summaries of similar past studies (cached per study in this process)."""
        with self._lock:
            cached = self._retrieved.get(study.study_name)
        if cached is None:
            cached = similar_summaries(study, self._transfer, self._clients.tables_url(study))
            with self._lock:
                self._retrieved[study.study_name] = cached
        return cached

    def _ask(
        self,
        client: LLMClient,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: Mapping[str, BaseDistribution],
        find_duplicate: DuplicateFinder,
        memory_sections: Sequence[tuple[str, str]],
        seed: int | None,
    ) -> ProposalResult:
        """Ask; feed problems back up to ``max_repair_rounds`` times."""
        view = build_study_view(study, trial, self._history)

        def messages_with(sections: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
            return build_proposal_messages(
                task=self._task,
                search_space=search_space,
                view=view,
                budget=self._budget,
                extra_sections=sections,
            )

        messages = messages_with(memory_sections)
        # The stored reply is found by the prompt without memory, which may differ by timing.
        key_messages = messages_with(()) if memory_sections else None
        schema = proposal_schema(search_space)
        result = ProposalResult(proposal=None)
        for round_number in range(self._llm.max_repair_rounds + 1):
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
