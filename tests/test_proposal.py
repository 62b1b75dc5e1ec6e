from __future__ import annotations

from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
import pytest

from optuna_vmle._proposal import extract_json_object
from optuna_vmle._proposal import InvalidProposal
from optuna_vmle._proposal import parse_proposal


SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "opt": CategoricalDistribution(["adam", "sgd"]),
}


def test_json_is_found_inside_prose_and_code_fences() -> None:
    text = 'Sure! ```json\n{"params": {"lr": 0.01, "opt": "sgd"}, "rationale": "x"}\n``` done'
    assert extract_json_object(text)["params"]["opt"] == "sgd"


def test_non_json_reply_is_invalid() -> None:
    with pytest.raises(InvalidProposal):
        extract_json_object("I think lr should be small.")


def test_every_problem_is_reported_for_repair() -> None:
    with pytest.raises(InvalidProposal) as info:
        parse_proposal('{"params": {"lr": 5, "momentum": 0.9}}', SPACE)
    problems = info.value.problems
    assert any("outside" in p for p in problems)
    assert "missing parameter opt" in problems
    assert "unknown parameter momentum" in problems


def test_parameters_at_top_level_are_accepted() -> None:
    proposal = parse_proposal('{"lr": 0.001, "opt": "adam"}', SPACE)
    assert proposal.params == {"lr": 0.001, "opt": "adam"}
    assert proposal.rationale == ""


def test_rationale_is_bounded() -> None:
    proposal = parse_proposal(
        '{"params": {"lr": 0.001, "opt": "adam"}, "rationale": "' + "a " * 500 + '"}', SPACE
    )
    assert len(proposal.rationale) <= 200
