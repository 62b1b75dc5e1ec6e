"""Every ``.. code-block:: python`` in the rec docstrings runs as written."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from optuna_vmle import rec


def code_blocks(docstring: str) -> list[str]:
    blocks, lines = [], docstring.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == ".. code-block:: python":
            indent = len(line) - len(line.lstrip())
            body = []
            for following in lines[start + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            blocks.append(textwrap.dedent("\n".join(body)))
    return blocks


def documented_examples() -> dict[str, str]:
    objects = {"optuna_vmle.rec": rec} | {name: getattr(rec, name) for name in rec.__all__}
    examples = {}
    for name, obj in objects.items():
        doc = inspect.getdoc(obj) if not inspect.ismodule(obj) else obj.__doc__
        for number, block in enumerate(code_blocks(doc or "")):
            examples[f"{name}[{number}]"] = block
    return examples


EXAMPLES = documented_examples()


def test_the_public_entry_points_have_examples():
    assert {"optuna_vmle.rec[0]", "rec_objective[0]", "load_sequences[0]", "SASRec[0]"} <= set(
        EXAMPLES
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(EXAMPLES[name], name, "exec"), {"__name__": "__example__"})  # noqa: S102 (running the documented examples is the point)
