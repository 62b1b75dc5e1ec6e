"""Reflections and insights as optuna-dashboard notes, when optuna-dashboard is installed.

``optuna_dashboard.save_note`` needs a live ``Trial``; the sampler only has a ``FrozenTrial``.
Notes are study system attrs (a version key and the body in chunks), so they are written through
the storage with optuna-dashboard's own helper, which works for running and finished trials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna


def save_note(study: optuna.Study, trial_id: int | None, markdown: str) -> bool:
    """Replace the note of a trial (or of the study, for ``trial_id=None``).

    Returns False when optuna-dashboard is not installed.
    """
    try:
        from optuna_dashboard._note import note_ver_key
        from optuna_dashboard._note import save_note_with_version
    except ImportError:
        return False
    storage = study._storage
    current = storage.get_study_system_attrs(study._study_id).get(note_ver_key(trial_id), 0)
    save_note_with_version(storage, study._study_id, trial_id, int(current) + 1, markdown)
    return True


def reflection_markdown(note: Mapping[str, Any]) -> str:
    """A trial note: the facts, then the reflection."""
    lines = [
        f"## Reflection on trial {note['trial']} ({note['state']})",
        "",
        f"- **Outcome:** {note.get('outcome', '')}",
        f"- **Changed versus {note.get('reference', 'reference')}:** {note.get('changed', '')}",
    ]
    labels = (
        ("expectation", "Expectation"),
        ("hypothesis", "Hypothesis"),
        ("verdict", "Verdict"),
        ("rule", "Rule"),
        ("next_action", "Next action"),
        ("no_usable_rule", "No usable rule"),
        ("reflection_error", "Reflection skipped"),
    )
    lines += [f"- **{label}:** {note[key]}" for key, label in labels if note.get(key)]
    return "\n".join(lines) + "\n"


def insights_markdown(insights: Mapping[str, Any]) -> str:
    """A study note: the current principles and failure modes."""
    lines = ["## Study insights (optuna-vmle)", ""]
    for title, key in (("Principles", "principles"), ("Failure modes", "failure_modes")):
        lines.append(f"### {title}")
        for item in insights.get(key, []) or [{"text": "(none yet)", "trials": []}]:
            trials = ", ".join(f"#{n}" for n in item.get("trials", []))
            lines.append(f"- {item['text']}" + (f" ({trials})" if trials else ""))
        lines.append("")
    return "\n".join(lines)
