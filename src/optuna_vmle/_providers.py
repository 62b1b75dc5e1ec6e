"""litellm itself: its lazy import and the registry of in-process providers.

litellm is imported lazily (it takes seconds) with its bundled cost map, so that importing it never
reaches the network. In-process providers (the embedded model, scripted test models) are merged
into ``litellm.custom_provider_map``; entries the user registered there are kept.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import types

LOCAL_PROVIDER_PREFIX = "vmle-local"
"""Model strings ``"vmle-local/<name>"`` run the embedded model in this process."""
DEFAULT_MODEL = f"{LOCAL_PROVIDER_PREFIX}/smollm2-135m"
MODEL_ENV = "VMLE_MODEL"

_lock = threading.Lock()
_litellm_module: types.ModuleType | None = None


def import_litellm() -> types.ModuleType:
    """Import litellm once, without letting its import fetch the remote cost map."""
    global _litellm_module
    with _lock:
        if _litellm_module is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            # Provider errors are ours to handle; no "file a litellm bug" notices in user logs.
            os.environ.setdefault("LITELLM_DISABLE_BUG_REPORT_LINK", "true")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            _litellm_module = litellm
    return _litellm_module


def register_provider(prefix: str, handler: Any) -> None:
    """Make ``"<prefix>/<name>"`` models reach the in-process ``litellm.CustomLLM`` ``handler``.

    A later registration for the same prefix replaces the earlier one; providers registered
    in ``litellm.custom_provider_map`` by anyone else stay.

    Example:
        >>> import litellm
        >>> from optuna_vmle._providers import is_registered, register_provider
        >>> theirs = {"provider": "mine", "custom_handler": litellm.CustomLLM()}
        >>> litellm.custom_provider_map.append(theirs)
        >>> register_provider("doc-example", litellm.CustomLLM())
        >>> is_registered("doc-example"), theirs in litellm.custom_provider_map
        (True, True)
    """
    litellm = import_litellm()
    with _lock:
        others = [entry for entry in litellm.custom_provider_map if entry.get("provider") != prefix]
        # litellm reads this map on every completion call.
        litellm.custom_provider_map = [*others, {"provider": prefix, "custom_handler": handler}]


def is_registered(prefix: str) -> bool:
    """Whether an in-process provider serves ``prefix`` (as litellm's map says right now)."""
    litellm = import_litellm()
    return any(entry.get("provider") == prefix for entry in litellm.custom_provider_map)


def provider_of(model: str) -> str:
    """The provider prefix of a model string: ``"openai/gpt-4o" -> "openai"``."""
    return model.split("/", 1)[0]


def default_model() -> str:
    """``$VMLE_MODEL``, else the embedded model."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL
