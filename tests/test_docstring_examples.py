"""Every ``>>>`` example in the package's docstrings runs and shows what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import optuna_vmle


def _modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(optuna_vmle.__path__, prefix="optuna_vmle.")
        if not info.name.endswith("__main__")
    )


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    if name.startswith("optuna_vmle.rec"):
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_main_entry_points_have_examples() -> None:
    finder = doctest.DocTestFinder()
    for obj in (optuna_vmle.VirtualMLESampler, optuna_vmle.Learner, optuna_vmle.study_report):
        assert any(test.examples for test in finder.find(obj)), obj.__name__
