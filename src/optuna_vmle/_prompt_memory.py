"""What memory the proposal prompt shows: this study's insights and similar studies' summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from optuna_vmle._memory import StudyMemory
from optuna_vmle._memory import SummaryStore
from optuna_vmle._options import TransferOptions
from optuna_vmle._prompts import format_insights
from optuna_vmle._prompts import format_transferred
from optuna_vmle._prompts import INSIGHTS_SECTION_TITLE
from optuna_vmle._prompts import TRANSFER_SECTION_TITLE
from optuna_vmle._retrieval import retrieve_summaries


Retrieved = list[tuple[float, Mapping[str, Any]]]


def similar_summaries(
    study: optuna.Study, transfer: TransferOptions, summaries_url: str
) -> Retrieved:
    """The summaries of other studies similar to this one (none without descriptors)."""
    if not (transfer.enabled and transfer.descriptors):
        return []
    return retrieve_summaries(
        SummaryStore(summaries_url).all(),
        transfer.descriptors,
        exclude_study=study.study_name,
        threshold=transfer.threshold,
        limit=transfer.max_summaries,
    )


def memory_sections(
    study: optuna.Study, retrieved: Retrieved
) -> tuple[list[tuple[str, str]], list[str]]:
    """The prompt sections from memory, and the ids of what they show."""
    sections: list[tuple[str, str]] = []
    ids: list[str] = []
    record = StudyMemory(study).insights()
    if record is not None and format_insights(record.insights):
        sections.append((INSIGHTS_SECTION_TITLE, format_insights(record.insights)))
        ids.append(record.memory_id)
    if retrieved:
        sections.append((TRANSFER_SECTION_TITLE, format_transferred(retrieved)))
        ids += [f"summary:{summary['id']}" for _, summary in retrieved]
    return sections, ids
