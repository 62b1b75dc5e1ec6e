"""The sampler's options, grouped by the part of it they configure.

Each group is a frozen dataclass so that one options object can be shared by many samplers (and
workers) without one changing another's behaviour.

Example:
    >>> from optuna_vmle import LLMOptions, LearningOptions
    >>> LLMOptions(timeout=30.0).max_tokens
    512
    >>> LearningOptions(insight_interval=None).reflect
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Literal


@dataclass(frozen=True)
class LLMOptions:
    """How each proposal is asked for.

    Args:
        temperature: Sampling temperature of every call.
        timeout: Seconds allowed per proposal call.
        max_tokens: Completion token limit per proposal call.
        max_repair_rounds: How many times an invalid reply is sent back for correction.
        on_configuration_error: ``"raise"`` (default): a missing or invalid API key, an unknown
            model or provider, or an embedded model that is not installed stops the study at
            its first trial with a message that says what to fix. ``"fallback"``: such errors
            are treated like transient ones (the classical sampler decides).
        budget_usd: Stop asking the LLM once the cost litellm reports for this study reaches
            this many US dollars (``None``: no cap).
    """

    temperature: float = 0.7
    timeout: float | None = 120.0
    max_tokens: int = 512
    max_repair_rounds: int = 1
    on_configuration_error: Literal["raise", "fallback"] = "raise"
    budget_usd: float | None = None

    def __post_init__(self) -> None:
        if self.max_repair_rounds < 0:
            raise ValueError("max_repair_rounds must be >= 0")
        if self.on_configuration_error not in ("raise", "fallback"):
            raise ValueError('on_configuration_error must be "raise" or "fallback"')


@dataclass(frozen=True)
class StoreOptions:
    """Where LLM transcripts and cognition summaries are kept, and when replies are reused.

    Args:
        url: SQLAlchemy URL of the ``vmle_*`` tables. Default: the study's RDB URL, else
            ``$VMLE_MEMORY_URL``; with neither, a process-local database (with a warning when
            the storage is shared, as journal and gRPC storages are).
        replay: Never call the LLM; answer from recorded transcripts of any study (a request
            with no recorded reply falls back).
        reuse: Answer a request identical to a recorded one from the store: ``"study"``
            (default) only within the same study, ``"any"`` across studies, ``"never"``.
    """

    url: str | None = None
    replay: bool = False
    reuse: Literal["study", "any", "never"] = "study"

    def __post_init__(self) -> None:
        if self.reuse not in ("study", "any", "never"):
            raise ValueError('reuse must be "study", "any" or "never"')


@dataclass(frozen=True)
class LearningOptions:
    """Reflection on finished trials and their consolidation into study insights.

    Learning runs after a trial's result is recorded, never before: in a background thread of
    the sampler (``background=True``), or only when the learner is called (``background=False``:
    pass ``sampler.learner`` as a ``study.optimize`` callback, or call
    ``sampler.learner.learn(study)`` yourself).

    Args:
        reflect: Write a note on every finished trial (one LLM call each).
        insight_interval: Consolidate the notes into insights every this many notes
            (``None``: only when ``consolidate`` is called).
        timeout: Seconds allowed per reflection or consolidation call.
        max_tokens: Completion token limit of a reflection.
        background: Learn in a background thread (see above).
        orphan_grace_s: A finished trial without a note (its worker crashed) is picked up by
            another worker's learner once it is this many seconds old.
    """

    reflect: bool = True
    insight_interval: int | None = 10
    timeout: float | None = 60.0
    max_tokens: int = 320
    background: bool = True
    orphan_grace_s: float = 300.0

    def __post_init__(self) -> None:
        if self.insight_interval is not None and self.insight_interval < 1:
            raise ValueError("insight_interval must be >= 1 or None")


@dataclass(frozen=True)
class TransferOptions:
    """Cognition summaries of similar past studies.

    Args:
        descriptors: Task descriptors (e.g. ``{"model": "sasrec", "metric": "recall@10",
            "n_users": 19445}``) that tag distilled summaries and select similar ones.
        enabled: Show the summaries of similar past studies in the prompt.
        threshold: Smallest descriptor similarity (0-1) of a summary to be shown.
        max_summaries: How many summaries the prompt shows at most.
        warm_start: Enqueue up to this many top configurations of the retrieved summaries,
            mapped into the search space, once per study (they are its first trials).
    """

    descriptors: Mapping[str, float | str] = field(default_factory=dict)
    enabled: bool = True
    threshold: float = 0.5
    max_summaries: int = 2
    warm_start: int = 0
