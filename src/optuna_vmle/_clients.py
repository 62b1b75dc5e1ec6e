"""One LLM client per (database, purpose), shared by the sampler and its learner."""

from __future__ import annotations

import threading

import optuna

from optuna_vmle._client import LLMClient
from optuna_vmle._db import is_process_local
from optuna_vmle._db import tables_url_for
from optuna_vmle._options import LearningOptions
from optuna_vmle._options import LLMOptions
from optuna_vmle._options import StoreOptions
from optuna_vmle._transcripts import TranscriptStore


# Up to 20 insight items of a few sentences each: more room than one proposal needs.
SUMMARY_MAX_TOKENS = 1536

_logger = optuna.logging.get_logger(f"optuna.{__name__}")


class ClientPool:
    """Builds and keeps the clients of one model.

    ``"proposal"`` clients use the proposal limits of ``llm``; ``"reflection"`` clients the
    limits of ``learning``; ``"summary"`` clients (insights, distillation) get more tokens.
    """

    def __init__(
        self, model: str, llm: LLMOptions, store: StoreOptions, learning: LearningOptions
    ) -> None:
        self.model = model
        self._llm = llm
        self._store = store
        self._learning = learning
        self._clients: dict[tuple[str, str], LLMClient] = {}
        self._warned_local: set[str] = set()
        self._lock = threading.Lock()

    def tables_url(self, study: optuna.Study) -> str:
        """The database of the transcripts and summaries of ``study``."""
        url = tables_url_for(study, self._store.url)
        if is_process_local(url) and not isinstance(
            study._storage, optuna.storages.InMemoryStorage
        ):
            with self._lock:
                first = study.study_name not in self._warned_local
                self._warned_local.add(study.study_name)
            if first:
                _logger.warning(
                    f"Study {study.study_name!r} is on a storage that is not an RDB, so its LLM "
                    "transcripts (replay) and cognition summaries are kept in this process only; "
                    "trial notes and insights are shared through the study's storage. Pass "
                    "store=StoreOptions(url=...) (or set $VMLE_MEMORY_URL) to share them too."
                )
        return url

    def get(self, study: optuna.Study, purpose: str) -> LLMClient:
        """The client for ``purpose`` (``"proposal"``, ``"reflection"`` or ``"summary"``)."""
        url = self.tables_url(study)
        with self._lock:
            client = self._clients.get((url, purpose))
            if client is None:
                timeout, max_tokens = self._limits(purpose)
                client = LLMClient(
                    model=self.model,
                    temperature=self._llm.temperature,
                    timeout=timeout,
                    max_tokens=max_tokens,
                    store=TranscriptStore(url),
                    replay=self._store.replay,
                    reuse=self._store.reuse,
                )
                self._clients[(url, purpose)] = client
            return client

    def _limits(self, purpose: str) -> tuple[float | None, int]:
        if purpose == "reflection":
            return self._learning.timeout, self._learning.max_tokens
        if purpose == "summary":
            return self._learning.timeout, max(self._llm.max_tokens, SUMMARY_MAX_TOKENS)
        return self._llm.timeout, self._llm.max_tokens
