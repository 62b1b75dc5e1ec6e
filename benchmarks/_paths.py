"""Where the benchmark datasets are: ../shared/data beside the repository, or $VMLE_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path


DATA_DIR = Path(
    os.environ.get("VMLE_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
