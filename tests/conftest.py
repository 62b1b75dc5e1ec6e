from __future__ import annotations

import os

import optuna
import pytest


os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def memory_url(tmp_path) -> str:
    """A fresh sqlite database for the sampler's tables."""
    return f"sqlite:///{tmp_path / 'memory.db'}"
