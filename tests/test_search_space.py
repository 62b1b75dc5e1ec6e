from __future__ import annotations

from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
import pytest

from optuna_vmle._search_space import coerce_value
from optuna_vmle._search_space import describe
from optuna_vmle._search_space import InvalidValue
from optuna_vmle._search_space import json_schema_for


def test_float_in_range_is_kept_and_numeric_text_is_parsed() -> None:
    d = FloatDistribution(1e-5, 1e-1, log=True)
    assert coerce_value("lr", d, 0.003) == 0.003
    assert coerce_value("lr", d, "1e-3") == pytest.approx(1e-3)


@pytest.mark.parametrize("raw", [0.5, -1.0, float("nan"), "abc", None, True, [1]])
def test_float_rejects_out_of_range_and_non_numbers(raw: object) -> None:
    with pytest.raises(InvalidValue):
        coerce_value("lr", FloatDistribution(1e-5, 1e-1, log=True), raw)


def test_float_step_snaps_to_grid() -> None:
    d = FloatDistribution(0.1, 0.5, step=0.1)
    assert coerce_value("dropout", d, 0.26) == pytest.approx(0.3)
    assert d._contains(coerce_value("dropout", d, 0.49))


def test_int_snaps_to_step_and_rejects_bool() -> None:
    assert coerce_value("layers", IntDistribution(1, 9, step=2), 4.2) == 5
    assert coerce_value("units", IntDistribution(8, 512, log=True), 100.0) == 100
    with pytest.raises(InvalidValue):
        coerce_value("layers", IntDistribution(1, 4), True)
    with pytest.raises(InvalidValue):
        coerce_value("layers", IntDistribution(1, 4), 5)


def test_categorical_matches_exact_types() -> None:
    d = CategoricalDistribution([None, True, 1, 2.5, "adam"])
    assert coerce_value("c", d, None) is None
    assert coerce_value("c", d, True) is True
    assert coerce_value("c", d, 1) == 1 and coerce_value("c", d, 1) is not True
    assert coerce_value("c", d, 2.5) == 2.5
    assert coerce_value("c", d, "adam") == "adam"
    assert coerce_value("c", d, "2.5") == 2.5  # a number written as text
    with pytest.raises(InvalidValue):
        coerce_value("c", CategoricalDistribution([1, 2]), True)
    with pytest.raises(InvalidValue):
        coerce_value("c", d, "sgd")


def test_schema_and_description_cover_every_kind() -> None:
    assert json_schema_for(CategoricalDistribution(["a", None]))["enum"] == ["a", None]
    assert json_schema_for(IntDistribution(1, 4))["type"] == "integer"
    assert json_schema_for(FloatDistribution(0, 1))["maximum"] == 1
    assert describe("lr", FloatDistribution(1e-4, 1e-2, log=True)).endswith("log scale")
    assert "step 2" in describe("k", IntDistribution(1, 9, step=2))
