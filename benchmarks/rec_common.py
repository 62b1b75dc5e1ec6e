"""What the rec benchmarks share: finding the data files, and results written as they come."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
import statistics
import sys
import tempfile


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATA_DIR


REPORTS_DIR = Path(__file__).resolve().parent / "reports" / "rec"

DATA_HELP = """\
The benchmark data is not in {data_dir} (missing: {missing}).

Get the files (see benchmarks/README.md, "Rec data"):
  * Beauty.txt, Sports_and_Outdoors.txt, Toys_and_Games.txt: the S3Rec split, from the public
    repository https://github.com/RUCAIBox/CIKM2020-S3Rec, folder data/ (one line per user,
    "user item1 item2 ...");
  * virtualmle_HSTU_Baby.txt, virtualmle_SASRec_Pet_Supplies.txt: from
    https://github.com/cst20/VirtualMLE-is-all-you-need-to-Recommend,
    VirtualMLE/HSTU/Baby/sequential_data_processed.txt and
    VirtualMLE/SASRec/Pet_Supplies/sequential_data_processed.txt (renamed);
  * or build a split from the raw Amazon 2014 5-core reviews (reviews_<Category>_5.json.gz)
    with optuna_vmle.rec.load_amazon_reviews.
Put them in one folder and point VMLE_DATA_DIR at it (default: ../shared/data beside the
repository), or pass --data PATH.
"""


def data_file(name: str) -> Path:
    """``name`` in the benchmark data folder (``$VMLE_DATA_DIR``, default ``../shared/data``)."""
    return DATA_DIR / name


def require_files(*paths: str | os.PathLike[str]) -> None:
    """Exit with instructions (status 2, no traceback) when a data file is absent."""
    missing = [str(p) for p in paths if not os.path.isfile(p)]
    if missing:
        sys.stderr.write(DATA_HELP.format(data_dir=DATA_DIR, missing=", ".join(missing)))
        raise SystemExit(2)


class ResultsFile:
    """A JSON file of runs by key, rewritten after every change so that a rerun resumes.

    Several processes may share one file (say, one per configuration): each save merges this
    process's runs into what is on disk, under a lock.
    """

    def __init__(self, path: str | os.PathLike[str], meta: dict) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.meta = meta
        self.runs: dict[str, dict] = self._read().get("runs", {})
        self._mine: set[str] = set()

    def _read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def done(self, key: str) -> bool:
        return self.runs.get(key, {}).get("finished", False)

    def finished(self, config: str) -> list[dict]:
        """The finished runs of configuration ``config``."""
        return [r for r in self.runs.values() if r["config"] == config and r.get("finished")]

    def start(self, key: str, record: dict) -> dict:
        """Register a new run of this process; ``record`` is saved on every :meth:`save`."""
        self.runs[key] = record
        self._mine.add(key)
        return record

    def save(self) -> None:
        lock_name = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:16] + ".lock"
        with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stored = self._read()
            runs = {**stored.get("runs", {}), **{key: self.runs[key] for key in self._mine}}
            self.runs = {**runs, **{key: self.runs[key] for key in self._mine}}
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {"meta": {**stored.get("meta", {}), **self.meta}, "runs": runs}, indent=1
                )
            )
            tmp.replace(self.path)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def train_and_record(
    results: ResultsFile, key: str, record: dict, model, split, config, *, device=None
) -> dict:
    """Train with ``fit``, saving the learning curve after every epoch and the outcome at the end.

    The test split is evaluated once, with the weights of the best validation epoch.
    """
    from optuna_vmle.rec import fit

    metric = config.selection_metric
    record = results.start(key, {**record, "metric": metric, "curve": [], "finished": False})
    print(f"== {key}: {record}", flush=True)

    def log(epoch) -> None:
        record["curve"].append(
            [
                epoch.epoch,
                round(epoch.loss, 4),
                round(epoch.valid[metric], 5),
                round(epoch.wall_time_s, 1),
            ]
        )
        print(
            f"epoch {epoch.epoch:3d}  loss {epoch.loss:.4f}  "
            f"valid {metric} {epoch.valid[metric]:.4f}  {epoch.wall_time_s:.0f} s",
            flush=True,
        )
        results.save()

    result = fit(model, split, config, device=device, on_epoch=log)
    record.update(
        finished=True,
        best_epoch=result.best_epoch,
        epochs=len(result.history),
        stop_reason=result.stop_reason,
        valid=result.best_valid,
        test=result.test,
        wall_time_s=round(result.wall_time_s, 1),
        s_per_epoch=round(result.wall_time_s / len(result.history), 2),
        n_params=result.n_params,
        device=result.device,
    )
    results.save()
    print(
        f"-> {key}: valid {metric} {result.best_valid[metric]:.4f}; "
        f"test NDCG@10 {result.test['ndcg@10']:.4f}, "
        f"HR@10 {result.test['hr@10']:.4f} at epoch {result.best_epoch} of {len(result.history)} "
        f"({result.stop_reason}), {result.wall_time_s:.0f} s",
        flush=True,
    )
    return record
