"""Learning: finished trials become notes, notes become insights, a study becomes a summary.

:class:`Learner` works on a study's storage alone, so it runs anywhere: as an Optuna callback
(``study.optimize(..., callbacks=[learner])``), called by hand after ``study.tell``, in the
sampler's background thread, or from the command line on a finished study. It never runs before
a trial's result is recorded: a trial it is handed that is not finished yet is waited for.

Crashed workers leave finished trials without a note (and trials failed by the heartbeat);
every learner picks up such orphans once they are older than ``LearningOptions.orphan_grace_s``,
claiming them in the storage first so that live workers rarely do the same work twice. A second
note of a trial replaces the first, so there is never more than one.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
import threading
import time
from typing import Any
import uuid

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _dashboard
from optuna_vmle._clients import ClientPool
from optuna_vmle._distill import distill_summary
from optuna_vmle._insights import consolidate_notes
from optuna_vmle._memory import StudyMemory
from optuna_vmle._memory import SummaryStore
from optuna_vmle._options import LearningOptions
from optuna_vmle._options import LLMOptions
from optuna_vmle._options import StoreOptions
from optuna_vmle._providers import default_model
from optuna_vmle._reflection import reflect_on_trial
from optuna_vmle._relevance import search_space_vocabulary
from optuna_vmle._seeds import trial_seed


# Trials queued for the background thread at most; older ones are caught up as orphans.
MAX_PENDING = 256
# How many orphans one pass picks up, so that catching up never starves new trials.
ORPHANS_PER_PASS = 4
_FINISH_WAIT_S = 60.0

_logger = optuna.logging.get_logger(f"optuna.{__name__}")


class Learner:
    """Reflection, consolidation and distillation for the studies of one model and task.

    Example:
        >>> import optuna
        >>> from optuna_vmle import Learner, LearningOptions
        >>> from optuna_vmle.testing import ScriptedLLM, random_valid_reply
        >>> model = ScriptedLLM([], default=random_valid_reply(0)).register()
        >>> learner = Learner(model=model, options=LearningOptions(insight_interval=None))
        >>> study = optuna.create_study()
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, callbacks=[learner])
        >>> sorted(learner.notes(study))
        [0, 1, 2]
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        task: str = "",
        seed: int | None = None,
        options: LearningOptions | None = None,
        clients: ClientPool | None = None,
    ) -> None:
        self.options = options or LearningOptions()
        self._clients = clients or ClientPool(
            model or default_model(), LLMOptions(), StoreOptions(), self.options
        )
        self._task = task
        self._seed = seed
        self._worker = uuid.uuid4().hex[:12]
        self._pending: collections.deque[tuple[optuna.Study, int]] = collections.deque(
            maxlen=MAX_PENDING
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Learn from ``trial`` (Optuna callback signature: runs after the trial is recorded)."""
        self.learn(study, trial.number)

    def learn(self, study: optuna.Study, trial_number: int | None = None) -> None:
        """Write the note of trial ``trial_number`` (if it has none), pick up orphans, and
        consolidate the study's notes when ``insight_interval`` new ones have come in.

        Errors of the LLM leave facts-only notes; configuration errors are raised.
        """
        memory = StudyMemory(study)
        if self.options.reflect:
            if trial_number is not None:
                self._note(study, memory, trial_number, wait=True)
            for number in self._orphans(study, memory):
                self._note(study, memory, number, wait=False)
        interval = self.options.insight_interval
        if interval is not None:
            memory = StudyMemory(study)  # what other workers wrote meanwhile counts here
            notes = memory.notes()
            current = memory.insights()
            due = len(notes) - (current.version if current else 0) >= interval
            if due and not self._consolidating_elsewhere(memory):
                memory.claim_consolidation(self._worker, time.time())
                try:
                    self._consolidate(study, memory, notes)
                finally:
                    memory.claim_consolidation(self._worker, 0.0)  # done: the next one may start

    def submit(self, study: optuna.Study, trial_number: int) -> None:
        """Learn from a trial in the background thread (started on demand, stops when idle).

        The thread is not a daemon: the interpreter waits for the queue before it exits.
        """
        with self._lock:
            self._pending.append((study, trial_number))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name="optuna-vmle-learner", daemon=False
                )
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the background queue is empty; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or not thread.is_alive():
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            thread.join(remaining)

    def consolidate(self, study: optuna.Study, *, use_llm: bool = True) -> dict[str, Any] | None:
        """Replace the study's insights with a consolidation of all its notes (None: no notes)."""
        memory = StudyMemory(study)
        notes = memory.notes()
        if not notes:
            return None
        return self._consolidate(study, memory, notes, use_llm=use_llm)

    def distill(
        self,
        study: optuna.Study,
        *,
        summaries_url: str | None = None,
        descriptors: Mapping[str, float | str] | None = None,
        use_llm: bool = True,
    ) -> dict[str, Any]:
        """Store a cognition summary of ``study`` (at ``summaries_url``, default the study's
        tables) for later studies with similar ``descriptors``, and return it."""
        insights = self.consolidate(study, use_llm=use_llm)
        summary = distill_summary(
            study,
            descriptors=dict(descriptors or {}),
            insights=insights,
            client=self._clients.get(study, "summary") if use_llm else None,
            task=self._task,
            seed=self._seed,
            vocabulary=self._vocabulary(study),
        )
        SummaryStore(summaries_url or self._clients.tables_url(study)).add(summary)
        return summary

    def notes(self, study: optuna.Study) -> dict[int, dict[str, Any]]:
        """The notes of ``study`` by trial number."""
        return {int(note["trial"]): note for note in StudyMemory(study).notes()}

    def _consolidating_elsewhere(self, memory: StudyMemory) -> bool:
        """Whether another worker started consolidating recently (then this one need not)."""
        claim = memory.consolidation_claim()
        if not claim or claim.get("worker") == self._worker:
            return False
        return time.time() - float(claim.get("at", 0.0)) < 2 * (self.options.timeout or 60.0)

    def _vocabulary(self, study: optuna.Study) -> frozenset[str]:
        """What a note must name to count as a rule: the study's parameters, choices, task."""
        distributions: dict[str, Any] = {}
        for trial in study.get_trials(deepcopy=False):
            distributions.update(trial.distributions)
        return search_space_vocabulary(distributions, task=self._task)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                study, number = self._pending.popleft()
            try:
                self.learn(study, number)
            except Exception as error:  # A background by-product must never kill the thread.
                _logger.warning(
                    f"Trial {number}: learning failed ({type(error).__name__}: {error})."
                )

    def _note(self, study: optuna.Study, memory: StudyMemory, number: int, *, wait: bool) -> None:
        trial = _finished_trial(study, number, _FINISH_WAIT_S if wait else 0.0)
        if trial is None or number in memory.noted_trials():
            return
        if not wait:  # an orphan: tell the other workers' learners that this one has it
            memory.claim(number, self._worker, time.time())
        values = trial.values if trial.state == TrialState.COMPLETE else None
        note, reply = reflect_on_trial(
            self._clients.get(study, "reflection"),
            study,
            trial,
            trial.state,
            values,
            task=self._task,
            seed=trial_seed(self._seed, number),
            vocabulary=self._vocabulary(study),
        )
        if reply is not None:
            note["llm"] = {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "latency_s": round(reply.latency_s, 4),
                **({"cost_usd": reply.cost_usd} if reply.cost_usd is not None else {}),
            }
        memory.add_note(number, note)
        _dashboard.save_note(study, trial._trial_id, _dashboard.reflection_markdown(note))

    def _orphans(self, study: optuna.Study, memory: StudyMemory) -> list[int]:
        now = time.time()
        grace = self.options.orphan_grace_s
        noted = memory.noted_trials()
        claims = memory.claims()
        with self._lock:
            mine = {n for s, n in self._pending if s.study_name == study.study_name}
        orphans = []
        for trial in study.get_trials(deepcopy=False):
            if not trial.state.is_finished() or trial.number in noted or trial.number in mine:
                continue
            finished = trial.datetime_complete.timestamp() if trial.datetime_complete else now
            claim = claims.get(trial.number)
            if now - finished < grace or (claim and now - float(claim.get("at", 0)) < grace):
                continue
            orphans.append(trial.number)
            if len(orphans) == ORPHANS_PER_PASS:
                break
        return orphans

    def _consolidate(
        self,
        study: optuna.Study,
        memory: StudyMemory,
        notes: list[dict[str, Any]],
        *,
        use_llm: bool = True,
    ) -> dict[str, Any]:
        current = memory.insights()
        insights = consolidate_notes(
            notes,
            current.insights if current else None,
            maximize=study.directions[0] == StudyDirection.MAXIMIZE,
            client=self._clients.get(study, "summary") if use_llm else None,
            task=self._task,
            study_name=study.study_name,
            seed=self._seed,
            vocabulary=self._vocabulary(study),
        )
        if memory.replace_insights(insights, n_notes=len(notes)):
            _dashboard.save_note(study, None, _dashboard.insights_markdown(insights))
            return insights
        newest = memory.insights()  # another worker consolidated more notes meanwhile
        return newest.insights if newest else insights


def _finished_trial(study: optuna.Study, number: int, wait_s: float) -> FrozenTrial | None:
    """Trial ``number`` once it is finished in the storage (the sampler hands trials over
    before Optuna records their state); None if it is not finished within ``wait_s``."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        trial = study._storage.get_trial(trial_id)
        if trial.state.is_finished() or time.monotonic() >= deadline:
            return trial if trial.state.is_finished() else None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
