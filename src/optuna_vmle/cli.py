"""python -m optuna_vmle: study reports, distillation, and summaries moved between databases.

examples:
  python -m optuna_vmle show --storage sqlite:///study.db --study sasrec-beauty
  python -m optuna_vmle distill --storage sqlite:///study.db --study sasrec-beauty \\
      --descriptor model=sasrec --descriptor metric=ndcg@10 --descriptor n_users=22363
  python -m optuna_vmle export --storage sqlite:///study.db summaries.json
  python -m optuna_vmle import --storage sqlite:///other.db summaries.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import os
import sys

import optuna

from optuna_vmle._db import MEMORY_URL_ENV
from optuna_vmle._learning import Learner
from optuna_vmle._memory import SummaryStore
from optuna_vmle._report import study_report
from optuna_vmle._summary_files import export_summaries
from optuna_vmle._summary_files import import_summaries


_TABLES_HELP = (
    "SQLAlchemy URL of the optuna-vmle tables (transcripts and summaries); "
    f"default: --storage, else ${MEMORY_URL_ENV}"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    tables_url = args.memory_url or args.storage or os.environ.get(MEMORY_URL_ENV)
    if args.command == "show":
        if args.study is None and tables_url is None:
            parser.error("show needs --storage (with --study for a study report) or --memory-url")
        if args.study is not None:
            if args.storage is None:
                parser.error("--study needs --storage, the study's Optuna storage URL")
            print(study_report(optuna.load_study(study_name=args.study, storage=args.storage)))
        if tables_url is not None:
            _show_summaries(SummaryStore(tables_url))
        return 0
    if tables_url is None:
        parser.error(f"{args.command} needs --storage or --memory-url (or ${MEMORY_URL_ENV})")
    if args.command == "distill":
        study = optuna.load_study(study_name=args.study, storage=args.storage)
        learner = Learner(model=args.model, task=args.task)
        summary = learner.distill(
            study,
            summaries_url=tables_url,
            descriptors=dict(args.descriptor),
            use_llm=args.model is not None,
        )
        print(json.dumps(summary, indent=2, sort_keys=True))
    elif args.command == "export":
        count = export_summaries(tables_url, args.file, ids=args.id or None)
        print(f"exported {count} summaries to {args.file}")
    else:
        count = import_summaries(tables_url, args.file)
        print(f"imported {count} new summaries from {args.file}")
    return 0


def _show_summaries(store: SummaryStore) -> None:
    summaries = store.all()
    if not summaries:
        print("no cognition summaries stored yet (python -m optuna_vmle distill makes one)")
    for summary in summaries:
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
        prog="python -m optuna_vmle",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--storage", help="the study's Optuna storage URL, e.g. sqlite:///study.db"
        )
        sub.add_argument("--memory-url", help=_TABLES_HELP)
        return sub

    show = command(
        "show",
        "print a study's report (sources, cost, fallbacks, insights) and the stored summaries",
    )
    show.add_argument("--study", help="the study name")

    distill = command("distill", "store a cognition summary of a finished study")
    distill.add_argument("--study", required=True, help="the study name")
    distill.add_argument(
        "--descriptor",
        type=_descriptor,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task descriptor (repeatable), e.g. model=sasrec or n_users=22363",
    )
    distill.add_argument(
        "--model",
        help="litellm model that writes the rules (default: no LLM, rules from the insights)",
    )
    distill.add_argument("--task", default="", help="task description shown to the LLM")

    export = command("export", "write stored summaries to a JSON file")
    export.add_argument("file")
    export.add_argument("--id", action="append", help="only this summary id (repeatable)")

    import_ = command("import", "add the summaries of a JSON file (known ids are skipped)")
    import_.add_argument("file")
    return parser


if __name__ == "__main__":
    sys.exit(main())
