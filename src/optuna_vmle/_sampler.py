"""VirtualMLESampler: an LLM proposes each trial; a classical sampler covers what it cannot."""

from __future__ import annotations

from collections.abc import Sequence
import threading
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import sqlalchemy

from optuna_vmle import _attrs
from optuna_vmle._clients import ClientPool
from optuna_vmle._decision import decide
from optuna_vmle._decision import DecisionRecorder
from optuna_vmle._duplicates import duplicate_finder
from optuna_vmle._history import HistoryLimits
from optuna_vmle._learning import Learner
from optuna_vmle._options import LearningOptions
from optuna_vmle._options import LLMOptions
from optuna_vmle._options import StoreOptions
from optuna_vmle._options import TransferOptions
from optuna_vmle._proposer import ProposalResult
from optuna_vmle._proposer import Proposer
from optuna_vmle._providers import default_model
from optuna_vmle._retrieval import transferred_configs
from optuna_vmle._screen import screen_candidates
from optuna_vmle._screen import ScreenResult
from optuna_vmle._seeds import trial_seed
from optuna_vmle._warm_start import enqueue_warm_start
from optuna_vmle._warm_start import WARM_PARAMS
from optuna_vmle._warm_start import warm_start_params


_logger = optuna.logging.get_logger(f"optuna.{__name__}")


class VirtualMLESampler(BaseSampler):
    """An Optuna sampler that asks an LLM for the next parameters of every trial.

    Each trial sends one structured request (a JSON schema built from the distributions) through
    ``litellm.completion``. The reply is validated against every distribution and checked for
    duplicates; an invalid reply gets ``llm.max_repair_rounds`` chances with the problems fed
    back, then the ``fallback_sampler`` decides. Transient LLM errors (timeouts, rate limits, an
    unreachable provider) fall back too, with one warning per kind; a configuration error (no
    API key, unknown model, embedded model not installed) stops the study at its first trial.
    Parameters outside the LLM's search space (define-by-run branches) come from the fallback.

    After each trial is recorded, the :attr:`learner` reflects on it (in a background thread by
    default): the note goes to the study's storage and, with optuna-dashboard installed, to the
    trial's dashboard note; every ``learning.insight_interval`` notes they are consolidated
    into at most 10 principles and 10 failure modes shown in every later prompt.
    :meth:`distill` turns a finished study into a cognition summary; a later study with similar
    ``transfer.descriptors`` sees it as hypotheses to test and can start from its best
    configurations (``transfer.warm_start``).

    Example:
        >>> import optuna
        >>> from optuna_vmle import VirtualMLESampler
        >>> from optuna_vmle.testing import ScriptedLLM, random_valid_reply
        >>> llm = ScriptedLLM([], default=random_valid_reply(0))  # any litellm model string works
        >>> sampler = VirtualMLESampler(model=llm.register(), task="minimise (x - 2)^2", seed=0)
        >>> study = optuna.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, n_trials=5)
        >>> sampler.wait_for_learning()
        True
        >>> len(sampler.learner.notes(study))
        5

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
        budget: The study's planned number of trials, shown to the LLM as remaining budget.
        llm_bonus: Guard against a weak LLM, active with a ``TPESampler`` fallback (see
            ``_screen``): the LLM's proposal competes with TPE's candidates, raised by this
            bonus. ``None`` disables the guard (the LLM always decides).
        llm: :class:`LLMOptions` (temperature, timeouts, repair rounds, error policy, cost cap).
        store: :class:`StoreOptions` (transcript database, replay, reuse of stored replies).
        learning: :class:`LearningOptions` (reflection, consolidation, background learning).
        transfer: :class:`TransferOptions` (descriptors, similar summaries, warm start).
        history: How many best, recent, failed and running trials the prompt shows.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        task: str = "",
        search_space: dict[str, BaseDistribution] | None = None,
        fallback_sampler: BaseSampler | None = None,
        seed: int | None = None,
        budget: int | None = None,
        llm_bonus: float | None = 0.5,
        llm: LLMOptions | None = None,
        store: StoreOptions | None = None,
        learning: LearningOptions | None = None,
        transfer: TransferOptions | None = None,
        history: HistoryLimits | None = None,
    ) -> None:
        self._llm = llm or LLMOptions()
        self._transfer = transfer or TransferOptions()
        self._learning = learning or LearningOptions()
        self._search_space = dict(search_space) if search_space is not None else None
        self._fallback = fallback_sampler or TPESampler(seed=seed)
        self._seed = seed
        self._llm_bonus = llm_bonus
        self._clients = ClientPool(
            model or default_model(), self._llm, store or StoreOptions(), self._learning
        )
        self._proposer = Proposer(
            task=task,
            budget=budget,
            history=history or HistoryLimits(),
            llm=self._llm,
            transfer=self._transfer,
            clients=self._clients,
            classical=self._guard_tpe(),
        )
        self._recorder = DecisionRecorder(self._clients.model, type(self._fallback).__name__)
        self.learner = Learner(task=task, seed=seed, options=self._learning, clients=self._clients)
        self._intersection = IntersectionSearchSpace()
        # Names sampled independently per running trial; the trial's attr is the durable copy.
        self._independent: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The litellm model string this sampler asks."""
        return self._clients.model

    def reseed_rng(self) -> None:
        # The per-trial LLM seeds depend on the trial number only, so replay keeps working.
        self._fallback.reseed_rng()

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
        if self._transfer.warm_start > 0 and trial.number == 0:
            self._warm_start(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        fixed = {**(trial.system_attrs.get("fixed_params") or {})}
        if self._transfer.warm_start > 0:
            fixed.update(warm_start_params(study, trial))
        space = {name: d for name, d in search_space.items() if name not in fixed}
        if not space:  # nothing to ask; after_trial records where the parameters came from
            return {name: fixed[name] for name in search_space if name in fixed}
        find_duplicate = duplicate_finder(study, trial, fixed)
        seed = trial_seed(self._seed, trial.number)
        result = self._proposer.propose(study, trial, space, find_duplicate, seed)
        try:
            screened = None if fixed else self._screen(study, trial, space, result, find_duplicate)
        except Exception as error:  # A broken guard must not hand the study to an unguarded LLM.
            _logger.warning(f"Trial {trial.number}: the guard failed ({error}); TPE decides.")
            screened = None
            result = ProposalResult(
                None,
                failure=f"the guard failed: {error}",
                failure_kind="guard-error",
                usage=result.usage,
                memory_ids=result.memory_ids,
            )
        decision = decide(result, screened, enqueued=bool(fixed))
        params = decision.params
        if params is None:
            params = self._fallback_relative(study, trial, space)
        self._recorder.record(study, trial, decision, result, screened, {**params, **fixed})
        return {**params, **{name: fixed[name] for name in search_space if name in fixed}}

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
        if _attrs.SOURCE not in trial.user_attrs:  # sample_relative was never called
            given = trial.system_attrs.get("fixed_params") or trial.system_attrs.get(WARM_PARAMS)
            source = _attrs.SOURCE_ENQUEUED if given else _attrs.SOURCE_FALLBACK
            _attrs.set_trial_attrs(study, trial._trial_id, {_attrs.SOURCE: source})
        self._fallback.after_trial(study, trial, state, values)
        if self._learning.background:
            # Learning runs once Optuna has recorded the result; it is handed over, not run here.
            self.learner.submit(study, trial.number)

    def wait_for_learning(self, timeout: float | None = None) -> bool:
        """Wait until the background learner has noted every finished trial handed to it."""
        return self.learner.wait(timeout)

    def consolidate(self, study: Study, *, use_llm: bool = True) -> dict[str, Any] | None:
        """Replace the study's insights with a consolidation of all its trial notes."""
        self.wait_for_learning()
        return self.learner.consolidate(study, use_llm=use_llm)

    def distill(
        self,
        study: Study,
        *,
        descriptors: dict[str, float | str] | None = None,
        use_llm: bool = True,
    ) -> dict[str, Any]:
        """Store a cognition summary of a finished ``study`` for later, similar studies.

        ``descriptors`` are merged over ``transfer.descriptors``.
        """
        self.wait_for_learning()
        return self.learner.distill(
            study,
            descriptors={**self._transfer.descriptors, **(descriptors or {})},
            use_llm=use_llm,
        )

    def _screen(self, study, trial, space, result, find_duplicate) -> ScreenResult | None:  # type: ignore[no-untyped-def]
        """The guarded choice (see ``_screen``), or None when the guard is off or fails."""
        tpe = self._guard_tpe()
        if tpe is None:
            return None
        candidates = [result.proposal.params] if result.proposal is not None else []
        return screen_candidates(
            tpe,
            study,
            trial,
            space,
            candidates,
            llm_bonus=self._llm_bonus,
            is_duplicate=lambda params: find_duplicate(params) is not None,
            seed=trial_seed(self._seed, trial.number),
        )

    def _guard_tpe(self) -> TPESampler | None:
        """The fallback TPE that the guard weighs against the LLM (None: the guard is off)."""
        if self._llm_bonus is None or not isinstance(self._fallback, TPESampler):
            return None
        return self._fallback

    def _fallback_relative(
        self, study: Study, trial: FrozenTrial, space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        fallback_space = self._fallback.infer_relative_search_space(study, trial)
        params = self._fallback.sample_relative(study, trial, fallback_space)
        # Only parameters in our space may be returned; the rest go through sample_independent.
        return {name: value for name, value in params.items() if name in space}

    def _warm_start(self, study: Study, trial: FrozenTrial) -> None:
        if self._search_space is None:
            _logger.warning("warm_start needs search_space; no configuration was transferred.")
            return
        try:
            configs = transferred_configs(
                self._proposer.similar_summaries(study),
                self._search_space,
                self._transfer.warm_start,
            )
            enqueue_warm_start(study, trial, configs)
        except (RuntimeError, sqlalchemy.exc.SQLAlchemyError) as error:
            # An unreadable summaries database (SchemaVersionError too) must not stop the study.
            _logger.warning(f"Warm start skipped ({error}); the study starts cold.")
