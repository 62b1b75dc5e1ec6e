"""Relevance check: is an LLM-written note or insight about *this* task, or filler?

A small model answers the reflection and consolidation prompts with text that is valid JSON but
useless as a rule: the template's own placeholders (``"<one sentence>"``) or generic prose
("A study showed that sleep is essential for mental health."). Such text must not be stored as
a rule, because it goes into every later prompt.

A text is usable when it is not a placeholder, does not repeat itself in a loop, and names
something of the task: a number (any
number counts as a value), a parameter (also with spaces for underscores, and through a small
synonym map: ``"learning rate"`` for ``lr``), a categorical choice, a metric, or a content word
of the task description. The checks are pure functions of the text and a vocabulary built once
per study with :func:`task_vocabulary` (or :func:`search_space_vocabulary`); no I/O, no LLM.

Example:
    >>> vocabulary = task_vocabulary(["lr", "num_blocks"], [], "Maximize NDCG@10 of SASRec.")
    >>> usable_text("lr above 1e-2 diverges; keep lr <= 3e-3", vocabulary=vocabulary)
    True
    >>> usable_text("more blocks helped", vocabulary=vocabulary)
    True
    >>> relevance_problem("<one sentence>", vocabulary=vocabulary)
    'placeholder text copied from the reply template'
    >>> relevance_problem(
    ...     "A study showed that sleep is essential for mental health.", vocabulary=vocabulary
    ... )
    'names no parameter, value, metric or term of the task'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Mapping
import re
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


PLACEHOLDER = "placeholder text copied from the reply template"
EMPTY = "empty or nearly empty"
REPETITIVE = "repeats itself"
OFF_TOPIC = "names no parameter, value, metric or term of the task"

# "<one sentence>", "<what this trial tested>", "<confirmed|refuted|inconclusive>", "<...>";
# not "lr < 1e-2 and dropout > 0.3" (a digit or "=" inside, or a space after "<").
_ANGLE_PLACEHOLDER = re.compile(r"<(?:[A-Za-z][^<>\d=]*|[\s.…]*)>")
# The texts the reply templates in `_prompts.py` ask for, as a model may copy them unbracketed.
_TEMPLATE_PHRASES = (
    "one sentence",
    "one short sentence",
    "one reusable sentence",
    "what this trial tested",
    "what to try next",
    "confirmed refuted inconclusive",
    "trial numbers",
    "one of the choices",
)
_FILLER = frozenset(
    {"text", "none", "n a", "na", "null", "todo", "tbd", "rule", "hypothesis", "lorem ipsum"}
)
_LABEL = re.compile(
    r"^\s*(?:rule|hypothesis|principle|failure mode|next action|verdict)\s*:\s*", re.IGNORECASE
)
_DIGIT = re.compile(r"\d")
_MAX_TRIGRAM_REPEATS = 3
_WORD = re.compile(r"[a-z0-9]+")

# Words for the same hyperparameter; a parameter named by one of them is also named by the others.
_SYNONYMS = (
    ("lr", "learning rate", "step size", "eta"),
    ("dropout", "dropout rate", "drop rate", "drop prob"),
    ("batch", "batch size", "bs"),
    ("epoch", "max epoch", "num epoch", "n epoch", "training length"),
    ("layer", "block", "num layer", "num block", "n layer", "depth"),
    (
        "hidden",
        "hidden size",
        "hidden dim",
        "hidden unit",
        "embedding",
        "embedding size",
        "embedding dim",
        "d model",
        "width",
        "dim",
    ),
    ("weight decay", "wd", "l2", "regularization", "regularisation"),
    ("negative", "num negative", "negative sample", "neg", "n neg"),
    ("head", "num head", "attention head", "n head"),
    ("maxlen", "max len", "max length", "sequence length", "seq len"),
    ("temperature", "temp"),
    ("optimizer", "optimiser"),
    ("momentum",),
    ("warmup", "warm up"),
)
# Metrics and learning-curve words: a text about them is about the objective, whatever the task.
_METRICS = frozenset(
    {
        "loss",
        "accuracy",
        "auc",
        "ndcg",
        "hr",
        "hit rate",
        "mrr",
        "recall",
        "precision",
        "f1",
        "rmse",
        "mae",
        "mse",
        "perplexity",
        "objective",
        "metric",
        "validation",
        "overfit",
        "overfitting",
        "underfit",
        "diverge",
        "diverged",
        "diverges",
        "converge",
        "pruned",
        "pruning",
        "learning curve",
        "early stopping",
    }
)
# Words that say nothing of a particular task: English function words and the generic vocabulary
# of any search ("best", "trial", "improve"), so that a task description does not make "the best
# way to reduce stress" relevant.
_GENERIC = frozenset(
    """
a about above after again against all also an and any are as at be because been before being
below between both but by can could did do does doing down during each enough every few for from
further get gets got had has have having he her here how i if in into is it its just less like
made make makes many may more most much must my new next no nor not now of off on once one only
or other our out over own same she should so some such than that the their them then there these
they this those through to too try two under until up upon us use used using very was way we
were what when where which while who why will with within without would you your
best better worse good bad high higher low lower large larger small smaller value values result
results trial trials study studies run runs time times set show showed shows find found keep
improve improved improves improvement increase increased increasing decrease decreased reduce
reduced reducing minimise minimize maximise maximize tune tuned tuning model models performance
day days ways thing things essential important key help helps helped work works data
number numbers size rate num max min type mean median level option options none default
test tested testing dataset target first second last complete completed full already seen
excluded leave protocol update recent optimal optimum algorithm sample random hyperparameter
hyperparameters parameter parameters configuration setting settings expected previous original
different case step steps pytorch torch tensorflow jax python framework train trains trained
training
""".split()
)


def task_vocabulary(
    param_names: Iterable[str], choices: Iterable[object] = (), task: str = ""
) -> frozenset[str]:
    """The words and phrases that make a note about this task, normalised as the check needs.

    Args:
        param_names: The search space's parameter names (``"num_blocks"`` also yields
            ``"num blocks"``, ``"block"`` and the synonyms of ``"block"``).
        choices: The categorical choices (numbers need not be listed: any number counts).
        task: The task text given to the sampler (model, dataset, metric): its content words count.
    """
    vocabulary = set(_METRICS)
    for name in param_names:
        phrase = _normalise(name)
        vocabulary.add(phrase)
        vocabulary.update(word for word in phrase.split() if _is_content(word))
    for choice in choices:
        if isinstance(choice, str):
            phrase = _normalise(choice)
            if phrase and phrase not in _GENERIC:
                vocabulary.add(phrase)
    vocabulary.update(word for word in _normalise(task).split() if _is_content(word))
    for group in _SYNONYMS:
        if vocabulary.intersection(group):
            vocabulary.update(group)
    return frozenset(filter(None, map(_normalise, vocabulary)))


def search_space_vocabulary(
    search_space: Mapping[str, BaseDistribution], *, task: str = ""
) -> frozenset[str]:
    """:func:`task_vocabulary` of a search space: its names and its categorical choices."""
    choices = [c for d in search_space.values() for c in getattr(d, "choices", ())]
    return task_vocabulary(search_space, choices, task)


def relevance_problem(text: str, *, vocabulary: Collection[str]) -> str | None:
    """Why ``text`` is not a usable note or insight, or None when it is.

    Args:
        text: One LLM-written text (a hypothesis, a rule, a principle, a failure mode).
        vocabulary: From :func:`task_vocabulary`.

    Returns:
        :data:`PLACEHOLDER`, :data:`EMPTY`, :data:`REPETITIVE` (a small model stuck in a loop:
        a three-word sequence said three times), :data:`OFF_TOPIC`, or None.
    """
    if _ANGLE_PLACEHOLDER.search(text):
        return PLACEHOLDER
    body = _normalise(_LABEL.sub("", text))
    padded = f" {body} "
    if any(f" {phrase} " in padded for phrase in _TEMPLATE_PHRASES) or body in _FILLER:
        return PLACEHOLDER
    words = body.split()
    if _repeats(words):
        return REPETITIVE
    if _DIGIT.search(body):
        return None
    if len(words) < 2:
        return EMPTY
    if any(f" {_normalise(phrase)} " in padded for phrase in vocabulary):
        return None
    return OFF_TOPIC


def usable_text(text: str, *, vocabulary: Collection[str]) -> bool:
    """Whether ``text`` names something of the task and is not template filler."""
    return relevance_problem(text, vocabulary=vocabulary) is None


def _normalise(text: str) -> str:
    """Lower case, ``_``/``-`` as spaces, punctuation dropped, simple plurals made singular."""
    words = _WORD.findall(re.sub(r"[_\-]", " ", text.lower()))
    return " ".join(_singular(word) for word in words)


def _repeats(words: list[str]) -> bool:
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    return bool(trigrams) and max(trigrams.values()) >= _MAX_TRIGRAM_REPEATS


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _is_content(word: str) -> bool:
    return len(word) >= 3 and word not in _GENERIC
