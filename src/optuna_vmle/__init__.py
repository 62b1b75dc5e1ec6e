"""optuna-vmle: an LLM as an Optuna sampler that proposes, reflects and remembers."""

from __future__ import annotations

__version__ = "0.1.0"
