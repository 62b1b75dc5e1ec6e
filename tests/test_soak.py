"""The short form of the kill -9 soak (benchmarks/soak.py): workers killed mid-trial lose no note,
leave no running trial behind, and the study still reaches its target."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest


pytestmark = pytest.mark.slow
SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def storages(tmp_path: Path) -> list[str]:
    specs = [f"journal:{tmp_path / 'soak.log'}"]
    for variable in ("VMLE_TEST_POSTGRES_URL", "VMLE_TEST_MYSQL_URL"):
        if os.environ.get(variable):
            specs.append(os.environ[variable])
    return specs


def test_killed_workers_lose_no_note_and_the_study_resumes(tmp_path: Path) -> None:
    import json

    for spec in storages(tmp_path):
        out = tmp_path / "soak.json"
        subprocess.run(
            [
                sys.executable,
                str(SOAK),
                "--storage",
                spec,
                "--workers",
                "3",
                "--trials",
                "24",
                "--kills",
                "2",
                "--first-kill",
                "12",
                "--kill-every",
                "6",
                "--latency",
                "0.05",
                "0.3",
                "--orphan-grace",
                "3",
                "--timeout",
                "400",
                "--out",
                str(out),
            ],
            check=True,
            timeout=600,
        )
        result = json.loads(out.read_text())["vmle"]
        assert result["kills"] == 2
        assert result["reached_target"]
        assert "RUNNING" not in result["states"]
        assert result["finished_without_note"] == 0
        assert result["duplicate_notes"] == 0
        assert result["notes_not_matching_their_key"] == 0
        assert result["insights_consistent"] and result["insight_versions"]
