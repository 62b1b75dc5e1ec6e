"""VirtualMLESampler: an LLM proposes each trial; a classical sampler covers what it cannot."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_vmle import _attrs
from optuna_vmle import _dashboard
from optuna_vmle._client import LLMClient
from optuna_vmle._db import memory_url_for
from optuna_vmle._history import build_study_view
from optuna_vmle._history import HistoryLimits
from optuna_vmle._history import trial_params_for_duplicates
from optuna_vmle._insights import consolidate_notes
from optuna_vmle._llm import LOCAL_PROVIDER_PREFIX
from optuna_vmle._memory import MemoryStore
from optuna_vmle._prompts import build_proposal_messages
from optuna_vmle._prompts import format_insights
from optuna_vmle._prompts import format_transferred
from optuna_vmle._prompts import INSIGHTS_SECTION_TITLE
from optuna_vmle._prompts import TRANSFER_SECTION_TITLE
from optuna_vmle._proposer import ProposalResult
from optuna_vmle._proposer import request_proposal
from optuna_vmle._reflection import reflect_on_trial
from optuna_vmle._screen import screen_candidates
from optuna_vmle._screen import ScreenResult
from optuna_vmle._transcripts import TranscriptStore
from optuna_vmle._transfer import DEFAULT_SIMILARITY_THRESHOLD
from optuna_vmle._transfer import distill_summary
from optuna_vmle._transfer import retrieve_summaries
from optuna_vmle._transfer import transferred_configs


_logger = optuna.logging.get_logger(__name__)

MODEL_ENV = "VMLE_MODEL"
DEFAULT_MODEL = LOCAL_PROVIDER_PREFIX + "/smollm2-135m"
SUMMARY_MAX_TOKENS = 1536


class VirtualMLESampler(BaseSampler):
    """An Optuna sampler that asks an LLM for the next parameters of every trial.

    Each trial sends one structured request (a JSON schema built from the distributions) through
    ``litellm.completion``. The reply is validated against every distribution and checked for
    duplicates; an invalid reply gets ``max_repair_rounds`` chances with the problems fed back,
    then the ``fallback_sampler`` decides. LLM errors (timeouts, rate limits, an unreachable
    provider) are logged and also go to the fallback: the study never crashes because of the LLM.
    Parameters outside the LLM's search space (define-by-run branches) come from the fallback.

    Every request/response pair is stored in the database at ``memory_url`` so that a finished
    study can be replayed without an LLM (``replay=True``), and every trial records its
    provenance in user attrs prefixed ``vmle:``.

    After each trial (complete, failed or pruned) one more LLM call reflects on it: the note
    (facts computed in code plus the LLM's hypothesis, verdict, rule and next action) goes to
    ``vmle:reflection``, to the memory tables and, with optuna-dashboard installed, to the
    trial's dashboard note. Every ``insight_interval`` notes they are consolidated into at most
    10 principles and 10 failure modes shown in every later prompt. :meth:`distill` turns a
    finished study into a cognition summary; a later study with similar ``descriptors`` sees it
    as hypotheses to test and can start from its best configurations (``warm_start``).

    Example:
        .. code-block:: python

            import optuna
            from optuna_vmle import VirtualMLESampler


            def objective(trial):
                x = trial.suggest_float("x", -10, 10)
                return (x - 2) ** 2


            sampler = VirtualMLESampler(task="minimise (x - 2)^2", seed=0)
            study = optuna.create_study(sampler=sampler)
            study.optimize(objective, n_trials=10)

    Args:
        model: litellm model string, e.g. ``"openai/gpt-4o-mini"``. Default: ``$VMLE_MODEL``,
            else the embedded local model ``"vmle-local/smollm2-135m"``.
        task: Free-text description of the objective, data and metric, shown to the LLM.
        search_space: Distributions the LLM proposes from the first trial on. Without it, the
            intersection search space of finished trials is used, so the first trial comes from
            the fallback sampler.
        fallback_sampler: Sampler for trials and parameters the LLM does not cover.
            Default: ``TPESampler(seed=seed)``.
        seed: Seed of the fallback sampler and of the per-trial LLM seed.
        temperature: LLM sampling temperature.
        max_repair_rounds: How many times an invalid reply is sent back for correction.
        timeout: Seconds allowed per LLM call.
        max_tokens: Completion token limit per LLM call.
        budget: The study's planned number of trials, shown to the LLM as remaining budget.
        history: How many best, recent, failed and running trials the prompt shows.
        memory_url: SQLAlchemy URL of the sampler's tables. Default: the study's RDB URL, else
            ``$VMLE_MEMORY_URL``, else ``sqlite:///optuna_vmle.db``.
        replay: Never call the LLM; answer from recorded transcripts (missing ones fall back).
        serve_from_store: Answer requests identical to recorded ones from the store.
        reflect: Reflect on every finished trial (one LLM call each).
        reflection_max_tokens: Completion token limit of a reflection.
        reflection_timeout: Seconds allowed per reflection.
        insight_interval: Consolidate the notes into study insights every this many notes
            (``None``: only when :meth:`consolidate` is called).
        descriptors: Task descriptors (e.g. ``{"model": "sasrec", "metric": "recall@10",
            "n_users": 19445, "mean_seq_len": 8.9}``) that tag distilled summaries and select
            the summaries of similar past studies.
        transfer: Show the summaries of similar past studies (needs ``descriptors``).
        transfer_threshold: Smallest descriptor similarity (0-1) of a summary to be shown.
        max_transferred: How many summaries the prompt shows at most.
        warm_start: Enqueue up to this many top configurations of the retrieved summaries,
            mapped into ``search_space``, once per study (they are the study's first trials).
        llm_bonus: Guard against a weak LLM, active with a ``TPESampler`` fallback. During
            TPE's startup an LLM proposal is used only if it is as far from earlier trials as a
            typical random draw, else a random draw is; after it, each LLM proposal competes
            with TPE's own candidates on TPE's acquisition value (log density ratio), the LLM's
            raised by this bonus, and the winner is evaluated. Configurations that repeat an
            earlier trial are avoided in both phases. ``None`` disables the guard (the LLM
            always decides; the fallback covers unusable replies).
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        task: str = "",
        search_space: dict[str, BaseDistribution] | None = None,
        fallback_sampler: BaseSampler | None = None,
        seed: int | None = None,
        temperature: float = 0.7,
        max_repair_rounds: int = 1,
        timeout: float | None = 120.0,
        max_tokens: int = 512,
        budget: int | None = None,
        history: HistoryLimits | None = None,
        memory_url: str | None = None,
        replay: bool = False,
        serve_from_store: bool = True,
        reflect: bool = True,
        reflection_max_tokens: int = 320,
        reflection_timeout: float | None = 60.0,
        insight_interval: int | None = 10,
        descriptors: Mapping[str, float | str] | None = None,
        transfer: bool = True,
        transfer_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
        max_transferred: int = 2,
        warm_start: int = 0,
        llm_bonus: float | None = 0.5,
    ) -> None:
        if max_repair_rounds < 0:
            raise ValueError("max_repair_rounds must be >= 0")
        if insight_interval is not None and insight_interval < 1:
            raise ValueError("insight_interval must be >= 1 or None")
        self._model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self._task = task
        self._search_space = dict(search_space) if search_space is not None else None
        self._fallback = fallback_sampler or TPESampler(seed=seed)
        self._seed = seed
        self._temperature = temperature
        self._max_repair_rounds = max_repair_rounds
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._budget = budget
        self._history = history or HistoryLimits()
        self._memory_url = memory_url
        self._replay = replay
        self._serve_from_store = serve_from_store
        self._reflect = reflect
        self._reflection_max_tokens = reflection_max_tokens
        self._reflection_timeout = reflection_timeout
        self._insight_interval = insight_interval
        self._descriptors = dict(descriptors or {})
        self._transfer = transfer
        self._transfer_threshold = transfer_threshold
        self._max_transferred = max_transferred
        self._warm_start = warm_start
        self._llm_bonus = llm_bonus
        self._memories: dict[str, MemoryStore] = {}
        # Retrieved once per study: summaries change rarely, the prompt is built every trial.
        self._transferred: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
        self._warm_started: set[str] = set()
        self._intersection = IntersectionSearchSpace()
        self._clients: dict[tuple[str, str], LLMClient] = {}
        self._lock = threading.Lock()
        # Names sampled independently per running trial; the storage attr is the durable copy.
        self._independent: dict[int, list[str]] = {}

    @property
    def model(self) -> str:
        """The litellm model string this sampler asks."""
        return self._model

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._search_space is not None:
            space = self._search_space
        else:
            with self._lock:
                space = self._intersection.calculate(study)
        return {name: d for name, d in space.items() if not d.single()}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._fallback.before_trial(study, trial)
        if self._warm_start > 0:
            try:
                self._enqueue_warm_start(study, trial)
            except Exception as error:  # Transfer is optional; the study starts cold instead.
                _logger.warning(f"Warm start skipped ({error}).")
        fixed = trial.system_attrs.get("fixed_params")
        source = _attrs.SOURCE_ENQUEUED if fixed else _attrs.SOURCE_FALLBACK
        _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.SOURCE: source})

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        fixed = trial.system_attrs.get("fixed_params") or {}
        space = {name: d for name, d in search_space.items() if name not in fixed}
        if not space:
            return {}
        find_duplicate = _duplicate_finder(_earlier_params(study, trial), fixed=fixed)
        result = self._ask_llm(study, trial, space, find_duplicate)
        screened = None if fixed else self._screen(study, trial, space, result, find_duplicate)
        if result.proposal is None:
            _logger.warning(
                f"Trial {trial.number}: LLM proposal unusable ({result.failure}); "
                f"using {type(self._fallback).__name__}."
            )
            self._record(study, trial, result, source=_attrs.SOURCE_FALLBACK, screen=screened)
            if screened is not None:
                return screened.params
            return self._fallback_relative(study, trial, space)
        if screened is not None and not screened.chose_llm:
            result.failure = _screened_out_reason(screened)
            self._record(study, trial, result, source=_attrs.SOURCE_FALLBACK, screen=screened)
            return screened.params
        source = _attrs.SOURCE_LLM_REPAIRED if result.repaired else _attrs.SOURCE_LLM
        if fixed:
            source = _attrs.SOURCE_ENQUEUED
        self._record(study, trial, result, source=source, screen=screened)
        return result.proposal.params

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock:
            names = self._independent.setdefault(trial._trial_id, [])
            names.append(param_name)
            snapshot = list(names)
        _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.INDEPENDENT_PARAMS: snapshot})
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._independent.pop(trial._trial_id, None)
        self._fallback.after_trial(study, trial, state, values)
        if self._reflect:
            try:
                self._reflect_and_remember(study, trial, state, values)
            except Exception as error:  # Reflection is a by-product: it never fails a trial.
                _logger.warning(f"Trial {trial.number}: reflection failed ({error}).")

    def consolidate(self, study: Study, *, use_llm: bool = True) -> dict[str, Any] | None:
        """Replace the study's insights with a consolidation of all its trial notes.

        Call it at the end of a study (``distill`` does); during the study it runs every
        ``insight_interval`` notes. Returns the insights now stored, or None without notes.
        """
        return self._consolidate(study, use_llm=use_llm, attempts=3)

    def distill(
        self,
        study: Study,
        *,
        descriptors: Mapping[str, float | str] | None = None,
        use_llm: bool = True,
    ) -> dict[str, Any]:
        """Store and return a cognition summary of ``study`` for similar future studies.

        The evidence (top configurations, good parameter ranges from the top 20% of trials,
        failure regions) is computed from the trials; the transferable rules come from the LLM,
        else from the study insights. ``descriptors`` add to (and override) the sampler's.

        Example:
            .. code-block:: python

                descriptors = {"model": "sasrec", "metric": "recall@10", "n_users": 22363}
                sampler = VirtualMLESampler(task="SASRec on Amazon Beauty", descriptors=descriptors)
                study = optuna.create_study(direction="maximize", sampler=sampler)
                study.optimize(objective, n_trials=50)
                sampler.distill(study)

                # A later study on a similar dataset sees the summary and starts from its best
                # configurations.
                descriptors = {"model": "sasrec", "metric": "recall@10", "n_users": 19445}
                sampler = VirtualMLESampler(
                    descriptors=descriptors, search_space=space, warm_start=2
                )
        """
        insights = self._consolidate(study, use_llm=use_llm, attempts=3)
        summary = distill_summary(
            study,
            descriptors={**self._descriptors, **(descriptors or {})},
            insights=insights,
            client=self._client_for(study, purpose="summary") if use_llm else None,
            task=self._task,
            seed=self._seed,
        )
        self._memory_for(study).add_summary(summary)
        return summary

    def _reflect_and_remember(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        # The frozen trial handed to after_trial may predate the attrs written during the run.
        fresh = study._storage.get_trial(trial._trial_id)
        note, reply = reflect_on_trial(
            self._client_for(study, purpose="reflection"),
            study,
            fresh,
            state,
            values,
            task=self._task,
            seed=self._trial_seed(trial),
        )
        attrs: dict[str, Any] = {_attrs.REFLECTION: note}
        if reply is not None:
            attrs[_attrs.REFLECTION_PROMPT_TOKENS] = reply.prompt_tokens
            attrs[_attrs.REFLECTION_COMPLETION_TOKENS] = reply.completion_tokens
            attrs[_attrs.REFLECTION_LATENCY_S] = round(reply.latency_s, 4)
        _attrs.set_trial_attrs(study, trial._trial_id, attrs)
        memory = self._memory_for(study)
        memory.add_note(study.study_name, trial.number, note)
        _dashboard.save_note(study, trial._trial_id, _dashboard.reflection_markdown(note))
        interval = self._insight_interval
        if interval is not None and memory.count_notes(study.study_name) % interval == 0:
            # Another worker consolidating at the same time wins; this one skips.
            self._consolidate(study, use_llm=True, attempts=1)

    def _consolidate(
        self, study: Study, *, use_llm: bool, attempts: int
    ) -> dict[str, Any] | None:
        memory = self._memory_for(study)
        for _ in range(attempts):
            notes = memory.notes(study.study_name)
            if not notes:
                return None
            current = memory.insights(study.study_name)
            insights = consolidate_notes(
                notes,
                current.insights if current else None,
                maximize=study.directions[0] == optuna.study.StudyDirection.MAXIMIZE,
                client=self._client_for(study, purpose="summary") if use_llm else None,
                task=self._task,
                study_name=study.study_name,
                seed=self._seed,
            )
            seen = current.version if current else None
            if memory.replace_insights(
                study.study_name, insights, n_notes=len(notes), seen_version=seen
            ):
                _dashboard.save_note(study, None, _dashboard.insights_markdown(insights))
                return insights
        latest = memory.insights(study.study_name)
        return latest.insights if latest else None

    def _memory_sections(self, study: Study) -> tuple[list[tuple[str, str]], list[str]]:
        """The prompt sections from memory and the ids of what they show."""
        sections: list[tuple[str, str]] = []
        ids: list[str] = []
        memory = self._memory_for(study)
        record = memory.insights(study.study_name)
        if record is not None and format_insights(record.insights):
            sections.append((INSIGHTS_SECTION_TITLE, format_insights(record.insights)))
            ids.append(record.memory_id)
        transferred = self._transferred_summaries(study)
        if transferred:
            sections.append((TRANSFER_SECTION_TITLE, format_transferred(transferred)))
            ids += [f"summary:{summary['id']}" for _, summary in transferred]
        return sections, ids

    def _transferred_summaries(self, study: Study) -> list[tuple[float, Mapping[str, Any]]]:
        if not (self._transfer and self._descriptors):
            return []
        with self._lock:
            cached = self._transferred.get(study.study_name)
        if cached is None:
            cached = retrieve_summaries(
                self._memory_for(study).summaries(),
                self._descriptors,
                exclude_study=study.study_name,
                threshold=self._transfer_threshold,
                limit=self._max_transferred,
            )
            with self._lock:
                self._transferred[study.study_name] = cached
        return cached

    def _enqueue_warm_start(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            if study.study_name in self._warm_started:
                return
            self._warm_started.add(study.study_name)
        # The study attr stops other workers (and later runs of this study) from enqueuing again.
        storage = study._storage
        if storage.get_study_system_attrs(study._study_id).get(_attrs.WARM_STARTED):
            return
        storage.set_study_system_attr(study._study_id, _attrs.WARM_STARTED, True)
        if self._search_space is None:
            _logger.warning("warm_start needs search_space; no configuration was transferred.")
            return
        configs = transferred_configs(
            self._transferred_summaries(study), self._search_space, self._warm_start
        )
        if configs and not trial.system_attrs.get("fixed_params"):
            # The first configuration runs in this very trial, as if it had been enqueued:
            # Optuna's Trial reads fixed params from the frozen trial it handed to before_trial.
            summary_id, params = configs.pop(0)
            storage.set_trial_system_attr(trial._trial_id, "fixed_params", params)
            trial.system_attrs["fixed_params"] = params
            _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.TRANSFERRED_FROM: summary_id})
        for summary_id, params in configs:
            study.enqueue_trial(
                params, user_attrs={_attrs.TRANSFERRED_FROM: summary_id}, skip_if_exists=True
            )

    def _ask_llm(
        self,
        study: Study,
        trial: FrozenTrial,
        space: dict[str, BaseDistribution],
        find_duplicate: Callable[[Mapping[str, Any]], int | None],
    ) -> ProposalResult:
        try:
            client = self._client_for(study)
        except Exception as error:  # A broken memory database must not stop the study.
            return ProposalResult(proposal=None, failure=f"memory database unavailable: {error}")
        try:
            sections, memory_ids = self._memory_sections(study)
        except Exception as error:  # The proposal works without memory, only less informed.
            _logger.warning(f"Trial {trial.number}: memory unavailable for the prompt ({error}).")
            sections, memory_ids = [], []
        if memory_ids:
            _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.MEMORY_IDS: memory_ids})
        view = build_study_view(study, trial, self._history)
        messages = build_proposal_messages(
            task=self._task,
            search_space=space,
            view=view,
            budget=self._budget,
            extra_sections=sections,
        )
        return request_proposal(
            client,
            messages,
            space,
            find_duplicate=find_duplicate,
            max_repair_rounds=self._max_repair_rounds,
            seed=self._trial_seed(trial),
            study_name=study.study_name,
            trial_number=trial.number,
        )

    def _screen(
        self,
        study: Study,
        trial: FrozenTrial,
        space: dict[str, BaseDistribution],
        result: ProposalResult,
        find_duplicate: Callable[[Mapping[str, Any]], int | None],
    ) -> ScreenResult | None:
        """The guarded choice (see ``_screen``), or None when the guard is off or fails."""
        if self._llm_bonus is None or not isinstance(self._fallback, TPESampler):
            return None
        candidates = [result.proposal.params] if result.proposal is not None else []
        try:
            return screen_candidates(
                self._fallback,
                study,
                trial,
                space,
                candidates,
                llm_bonus=self._llm_bonus,
                is_duplicate=lambda params: find_duplicate(params) is not None,
                seed=self._trial_seed(trial),
            )
        except Exception as error:  # The screen is a guard; without it the LLM decides.
            _logger.warning(f"Trial {trial.number}: screening skipped ({error}).")
            return None

    def _fallback_relative(
        self, study: Study, trial: FrozenTrial, space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        fallback_space = self._fallback.infer_relative_search_space(study, trial)
        params = self._fallback.sample_relative(study, trial, fallback_space)
        # Only parameters in our space may be returned; the rest go through sample_independent.
        return {name: value for name, value in params.items() if name in space}

    def _record(
        self,
        study: Study,
        trial: FrozenTrial,
        result: ProposalResult,
        *,
        source: str,
        screen: ScreenResult | None = None,
    ) -> None:
        usage = result.usage
        attrs: dict[str, Any] = {
            _attrs.SOURCE: source,
            _attrs.MODEL: self._model,
            _attrs.LLM_CALLS: usage.calls,
            _attrs.PROMPT_TOKENS: usage.prompt_tokens,
            _attrs.COMPLETION_TOKENS: usage.completion_tokens,
            _attrs.LATENCY_S: round(usage.latency_s, 4),
            _attrs.FROM_STORE: usage.from_store,
        }
        if usage.cost_usd is not None:
            attrs[_attrs.COST_USD] = usage.cost_usd
        if result.proposal is not None:
            attrs[_attrs.RATIONALE] = result.proposal.rationale
            attrs[_attrs.PROPOSAL] = result.proposal.params
        if result.failure is not None:
            attrs[_attrs.FALLBACK_REASON] = result.failure[:300]
        if screen is not None:
            attrs[_attrs.SCREEN] = {
                "phase": screen.phase,
                "llm": _rounded(screen.best_llm_score),
                "tpe": _rounded(screen.best_tpe_score),
            }
        _attrs.set_trial_attrs(study, trial._trial_id, attrs)

    def _client_for(self, study: Study, purpose: str = "proposal") -> LLMClient:
        """The client for proposals, reflections, or summaries (insights and distill)."""
        url = self._url_for(study)
        if purpose == "reflection":
            timeout, max_tokens = self._reflection_timeout, self._reflection_max_tokens
        elif purpose == "summary":
            # Up to 20 items of a few sentences each: more room than one proposal needs.
            timeout, max_tokens = self._timeout, max(self._max_tokens, SUMMARY_MAX_TOKENS)
        else:
            timeout, max_tokens = self._timeout, self._max_tokens
        with self._lock:
            client = self._clients.get((url, purpose))
            if client is None:
                client = LLMClient(
                    model=self._model,
                    temperature=self._temperature,
                    timeout=timeout,
                    max_tokens=max_tokens,
                    store=TranscriptStore(url),
                    replay=self._replay,
                    serve_from_store=self._serve_from_store,
                )
                self._clients[(url, purpose)] = client
            return client

    def _memory_for(self, study: Study) -> MemoryStore:
        url = self._url_for(study)
        with self._lock:
            memory = self._memories.get(url)
            if memory is None:
                memory = self._memories[url] = MemoryStore(url)
            return memory

    def _url_for(self, study: Study) -> str:
        return self._memory_url or memory_url_for(study)

    def _trial_seed(self, trial: FrozenTrial) -> int | None:
        if self._seed is None:
            return None
        return (self._seed * 1_000_003 + trial.number) % (2**31 - 1)


def _earlier_params(study: Study, trial: FrozenTrial) -> list[tuple[int, dict[str, Any]]]:
    """The configurations of every other trial that has not failed (running ones included)."""
    return [
        (t.number, trial_params_for_duplicates(t))
        for t in study.get_trials(deepcopy=False)
        if t.number != trial.number and t.state != TrialState.FAIL
    ]


def _screened_out_reason(screened: ScreenResult) -> str:
    if screened.best_llm_score is None:
        return "screened out: the proposal repeats an earlier trial"
    if screened.phase == "startup":
        return (
            f"screened out at startup: novelty {screened.best_llm_score:.3g} is below "
            f"random draws' median {screened.best_tpe_score:.3g}"
        )
    return (
        f"screened out: TPE's candidate scores {screened.best_tpe_score:.3g}, "
        f"the LLM's {screened.best_llm_score:.3g}"
    )


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(score, 4)


def _duplicate_finder(
    existing: list[tuple[int, dict[str, Any]]], fixed: dict[str, Any] | None
) -> Callable[[Mapping[str, Any]], int | None]:
    """A proposal duplicates a trial when it agrees on every parameter that trial used.

    Conditional parameters a trial never suggested (e.g. ``weight_decay`` when
    ``use_weight_decay`` is false) do not make an otherwise identical proposal new.
    """

    def find(params: Mapping[str, Any]) -> int | None:
        candidate = {**params, **(fixed or {})}
        for number, other in existing:
            shared = other.keys() & candidate.keys()
            if shared and all(_same(other[k], candidate[k]) for k in shared):
                return number
        return None

    return find


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


