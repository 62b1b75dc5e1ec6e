"""The end-of-study summary: where trials came from, what the LLM cost, why it fell back,
what the study learned and where the notes live."""

from __future__ import annotations

from collections import Counter

import optuna

from optuna_vmle import _attrs
from optuna_vmle._memory import StudyMemory
from optuna_vmle._prompts import format_insights


def study_report(study: optuna.Study) -> str:
    """A few lines of text about an optuna-vmle study (``python -m optuna_vmle show``).

    Example:
        >>> import optuna
        >>> from optuna_vmle import study_report
        >>> study = optuna.create_study(study_name="demo")
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        >>> print(study_report(study).splitlines()[0])
        study 'demo': 2 trials (2 complete)
    """
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name.lower() for t in trials)
    sources = Counter(str(t.user_attrs.get(_attrs.SOURCE, "not by optuna-vmle")) for t in trials)
    kinds = Counter(
        str(t.user_attrs[_attrs.FALLBACK_KIND])
        for t in trials
        if _attrs.FALLBACK_KIND in t.user_attrs
    )
    usage = [_attrs.llm_usage(t) for t in trials]
    memory = StudyMemory(study)
    notes = memory.notes()
    asked = sum(1 for u in usage if u.get("calls"))
    chosen = sources[_attrs.SOURCE_LLM] + sources[_attrs.SOURCE_LLM_REPAIRED]
    tokens = sum(int(u.get("prompt_tokens", 0)) + int(u.get("completion_tokens", 0)) for u in usage)
    tokens += sum(
        int((n.get("llm") or {}).get("prompt_tokens", 0))
        + int((n.get("llm") or {}).get("completion_tokens", 0))
        for n in notes
    )
    costs = [float(u["cost_usd"]) for u in usage if u.get("cost_usd") is not None]
    lines = [
        f"study {study.study_name!r}: {len(trials)} trials ("
        + ", ".join(f"{n} {state}" for state, n in states.most_common())
        + ")",
        "trials by source: " + ", ".join(f"{s} {n}" for s, n in sources.most_common()),
        f"LLM asked for {asked} trials, its proposal chosen for {chosen}"
        + (f" ({chosen / asked:.0%})" if asked else ""),
        f"tokens: {tokens}; cost: " + (f"${sum(costs):.4f}" if costs else "not reported"),
        "fallbacks by cause: " + (", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none"),
    ]
    record = memory.insights()
    if record is not None and format_insights(record.insights):
        lines.append(f"insights (from {record.version} notes):")
        lines.append(format_insights(record.insights))
    else:
        lines.append("insights: none yet")
    usable = sum(1 for n in notes if n.get("rule"))
    lines.append(
        f"notes: {len(notes)} ({usable} with a usable rule), in the study's system attrs "
        "'vmle:note:<trial>' and, with optuna-dashboard, as each trial's note"
    )
    return "\n".join(lines)
