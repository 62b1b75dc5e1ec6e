"""``python -m optuna_vmle``: distill a study, and move cognition summaries between databases.

Examples:
    .. code-block:: console

        python -m optuna_vmle distill --storage sqlite:///study.db --study sasrec-beauty \
            --descriptor model=sasrec --descriptor metric=recall@10 --descriptor n_users=22363
        python -m optuna_vmle export --memory-url sqlite:///study.db summaries.json
        python -m optuna_vmle import --memory-url sqlite:///other.db summaries.json
        python -m optuna_vmle show --memory-url sqlite:///study.db --study sasrec-beauty
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import optuna

from optuna_vmle._db import DEFAULT_MEMORY_URL
from optuna_vmle._db import MEMORY_URL_ENV
from optuna_vmle._memory import MemoryStore
from optuna_vmle._prompts import format_insights
from optuna_vmle._sampler import VirtualMLESampler
from optuna_vmle._transfer import export_summaries
from optuna_vmle._transfer import import_summaries


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    memory_url = (
        args.memory_url
        or getattr(args, "storage", None)
        or os.environ.get(MEMORY_URL_ENV, DEFAULT_MEMORY_URL)
    )
    if args.command == "distill":
        study = optuna.load_study(study_name=args.study, storage=args.storage)
        sampler = VirtualMLESampler(
            model=args.model, task=args.task, memory_url=memory_url, reflect=False
        )
        summary = sampler.distill(
            study, descriptors=dict(args.descriptor), use_llm=args.model is not None
        )
        print(json.dumps(summary, indent=2, sort_keys=True))
    elif args.command == "export":
        count = export_summaries(memory_url, args.file, ids=args.id or None)
        print(f"exported {count} summaries to {args.file}")
    elif args.command == "import":
        count = import_summaries(memory_url, args.file)
        print(f"imported {count} new summaries from {args.file}")
    else:
        _show(MemoryStore(memory_url), args.study)
    return 0


def _show(memory: MemoryStore, study_name: str | None) -> None:
    if study_name is not None:
        record = memory.insights(study_name)
        notes = memory.count_notes(study_name)
        print(f"study {study_name}: {notes} trial notes")
        if record is not None:
            print(f"insights v{record.version}:\n{format_insights(record.insights)}")
    for summary in memory.summaries():
        descriptors = ", ".join(f"{k}={v}" for k, v in summary["descriptors"].items())
        print(f"\nsummary {summary['id']} from study {summary['study_name']} ({descriptors})")
        for rule in summary["rules"]:
            print(f"  - {rule}")


def _descriptor(text: str) -> tuple[str, float | str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key.strip(), float(value)
    except ValueError:
        return key.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m optuna_vmle", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    memory_help = "SQLAlchemy URL of the optuna-vmle tables (default: --storage, $VMLE_MEMORY_URL)"

    distill = commands.add_parser("distill", help="store a cognition summary of a study")
    distill.add_argument("--storage", required=True, help="the study's Optuna storage URL")
    distill.add_argument("--study", required=True, help="the study name")
    distill.add_argument("--memory-url", help=memory_help)
    distill.add_argument(
        "--descriptor", type=_descriptor, action="append", default=[], metavar="KEY=VALUE",
        help="task descriptor (repeatable), e.g. model=sasrec or n_users=22363",
    )
    distill.add_argument("--model", help="litellm model for the rules (default: no LLM)")
    distill.add_argument("--task", default="", help="task description shown to the LLM")

    export = commands.add_parser("export", help="write summaries to a JSON file")
    export.add_argument("file")
    export.add_argument("--memory-url", help=memory_help)
    export.add_argument("--id", action="append", help="only this summary id (repeatable)")

    import_ = commands.add_parser("import", help="add the summaries of a JSON file")
    import_.add_argument("file")
    import_.add_argument("--memory-url", help=memory_help)

    show = commands.add_parser("show", help="print stored summaries (and a study's insights)")
    show.add_argument("--memory-url", help=memory_help)
    show.add_argument("--study", help="also print this study's notes count and insights")
    return parser


if __name__ == "__main__":
    sys.exit(main())
