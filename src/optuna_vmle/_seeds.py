"""The LLM seed of each trial: fixed by the sampler's seed and the trial number alone.

``reseed_rng`` (which Optuna calls for every trial under ``n_jobs>1``) does not change it, so
requests, and with them replay and stored replies, stay the same however trials are scheduled.
"""

from __future__ import annotations


def trial_seed(seed: int | None, trial_number: int) -> int | None:
    """``None`` without a seed.

    Example:
        >>> from optuna_vmle._seeds import trial_seed
        >>> trial_seed(0, 3), trial_seed(None, 3)
        (3, None)
    """
    if seed is None:
        return None
    return (seed * 1_000_003 + trial_number) % (2**31 - 1)
