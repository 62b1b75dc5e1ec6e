"""The relevance check keeps notes about the task and rejects template filler and generic prose.

The bad texts are real replies of the embedded SmolLM2-135M (issue 13, and a 10-trial run of
examples/tune_sasrec.py) and the consolidation placeholders that `python -m optuna_vmle show`
printed as insights.
"""

from __future__ import annotations

import doctest

from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
import pytest

from optuna_vmle import _relevance
from optuna_vmle._relevance import EMPTY
from optuna_vmle._relevance import OFF_TOPIC
from optuna_vmle._relevance import PLACEHOLDER
from optuna_vmle._relevance import relevance_problem
from optuna_vmle._relevance import REPETITIVE
from optuna_vmle._relevance import search_space_vocabulary
from optuna_vmle._relevance import task_vocabulary
from optuna_vmle._relevance import usable_text


# The task text examples/tune_sasrec.py gives the sampler.
SASREC_TASK = (
    "Tune SASRec (PyTorch) for next-item recommendation on the dataset 'synthetic': 600 users, "
    "200 items, 7,571 interactions, mean sequence length 12.62 (median 13), density 6.31e-02. "
    "Protocol: leave-one-out (last item is the test target, second-to-last the validation "
    "target), full ranking over all items with already-seen items excluded. Objective: maximize "
    "validation NDCG@10. Each trial trains up to 8 epochs, early stopping after 3 epochs without "
    "improvement."
)
SASREC_SPACE = {
    "hidden_size": CategoricalDistribution([32, 64]),
    "num_blocks": IntDistribution(1, 2),
    "num_negatives": CategoricalDistribution([32, 64, 128]),
    "dropout": FloatDistribution(0.0, 0.5),
    "lr": FloatDistribution(1e-4, 1e-2, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "loss": CategoricalDistribution(["bce", "sampled_softmax"]),
}
SASREC = search_space_vocabulary(SASREC_SPACE, task=SASREC_TASK)


@pytest.mark.parametrize(
    "text",
    [
        "Hypothesis: The best way to reduce stress is to get enough sleep every day.",
        "Rule: A study showed that sleep is essential for mental health.",
        "The best way to reduce stress is to get enough sleep every day.",
        "A study showed that sleep is essential for mental health.",
        "None of the trial results are valid, the best trial is not the best trial",
        "This trial tested a hyperparameter search approach using Pytorch to train a single model.",
        "The most recent update is: the most recent update is",
        "Try to be more careful next time.",
        "It is important to keep a healthy lifestyle and drink water.",
    ],
)
def test_generic_prose_is_off_topic(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) == OFF_TOPIC
    assert not usable_text(text, vocabulary=SASREC)


@pytest.mark.parametrize(
    "text",
    [
        "<one sentence>",
        "<one short sentence>",
        "<one reusable sentence>",
        "<what this trial tested>",
        "<what to try next>",
        "<confirmed|refuted|inconclusive>",
        "<...>",
        "<>",
        "one sentence",
        "One sentence.",
        "Rule: one reusable sentence",
        "principle: <one sentence>",
        "failure mode: <one sentence>",
        "what to try next",
        "Keep <parameter> at <value>",
        "lr should be <one short sentence>",
    ],
)
def test_template_placeholders_are_rejected(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) == PLACEHOLDER


@pytest.mark.parametrize(
    "text",
    [
        "The most recent update is: the most recent update is: the most recent update is: the most",
        "The best trial test for the model is not the best trial, but the best trial is not",
        "reimplement the best trial #3, re-pruned it to 3% loss, re-pruned it to 1.5% loss, "
        "re-pruned it to 2% loss, re-pruned it to 1.5% loss",
    ],
)
def test_text_stuck_in_a_loop_is_rejected_even_with_numbers(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) == REPETITIVE


def test_a_rule_may_repeat_a_parameter_name() -> None:
    text = "lr 1e-3 beat lr 1e-2 and lr 1e-4 at the same dropout"
    assert relevance_problem(text, vocabulary=SASREC) is None


@pytest.mark.parametrize("text", ["", "   ", ".", "Rule:", "ok", "n/a", "None"])
def test_empty_or_filler_text_is_rejected(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) in (EMPTY, PLACEHOLDER)


@pytest.mark.parametrize(
    "text",
    [
        "lr above 1e-2 diverges; keep lr <= 3e-3",
        "hidden_size 64 beat 32 at the same dropout",
        "increasing num_blocks to 3 improved NDCG@10",
        "lr < 1e-2 and dropout > 0.3 kept the loss stable",
        "Trial 4 was the best so far.",
    ],
)
def test_rules_with_values_are_kept(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) is None
    assert usable_text(text, vocabulary=SASREC)


@pytest.mark.parametrize(
    "text",
    [
        "A larger hidden size helps when dropout is low.",  # hidden_size written with a space
        "A lower learning rate is safer.",  # synonym of lr
        "Deeper models need more blocks.",  # part of num_blocks, plural
        "More layers overfit the synthetic data.",  # synonym of blocks; a task word
        "Fewer negatives made training unstable.",  # num_negatives
        "Weight decay does not matter much here.",
        "sampled softmax beats bce on this dataset",  # categorical choices
        "Validation NDCG rises while the loss falls.",  # the metric
        "SASRec needs warm items to rank well.",  # the task's model name
    ],
)
def test_rules_naming_the_task_without_numbers_are_kept(text: str) -> None:
    assert relevance_problem(text, vocabulary=SASREC) is None


def test_a_word_counts_only_when_the_task_has_it() -> None:
    text = "Use a larger batch size when the embedding is wide."
    without_batch = task_vocabulary(["lr", "dropout"], [], "Minimise the validation loss.")
    with_batch = task_vocabulary(["lr", "batch_size"], [], "Minimise the validation loss.")
    assert relevance_problem(text, vocabulary=without_batch) == OFF_TOPIC
    assert relevance_problem(text, vocabulary=with_batch) is None


def test_generic_words_of_the_task_text_do_not_count() -> None:
    vocabulary = task_vocabulary([], [], "Find the best way to reduce the loss every day.")
    text = "The best way is to reduce stress every day."
    assert relevance_problem(text, vocabulary=vocabulary) == OFF_TOPIC


def test_content_words_of_the_task_text_count() -> None:
    vocabulary = task_vocabulary([], [], "Tune the scheduler of a churn classifier.")
    assert usable_text("The scheduler should warm restart.", vocabulary=vocabulary)
    assert not usable_text("Sleep is essential for mental health.", vocabulary=vocabulary)


def test_categorical_string_choices_count_but_generic_ones_do_not() -> None:
    vocabulary = task_vocabulary(["activation"], ["relu", "gelu", "none"], "")
    assert usable_text("gelu was steadier than the alternative", vocabulary=vocabulary)
    assert not usable_text("none of this worked out", vocabulary=vocabulary)


def test_vocabulary_is_normalised_phrases() -> None:
    vocabulary = task_vocabulary(["num_blocks", "learning_rate"], ["Sampled_Softmax"], "")
    assert {"num block", "block", "layer", "learning rate", "lr", "sampled softmax"} <= vocabulary
    assert "num" not in vocabulary


def test_module_docstring_example_runs() -> None:
    assert doctest.testmod(_relevance).failed == 0
