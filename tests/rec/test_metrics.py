from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optuna_vmle.rec import evaluate
from optuna_vmle.rec import evaluation_data
from optuna_vmle.rec import leave_one_out
from optuna_vmle.rec import make_synthetic_dataset
from optuna_vmle.rec import metric_sums
from optuna_vmle.rec import random_ranking_ndcg
from optuna_vmle.rec import SequentialRecommender
from optuna_vmle.rec import target_ranks


def brute_force_rank(scores: np.ndarray, target: int, seen: set[int]) -> int:
    """Rank of ``target`` among items 1..n that are not seen (the target always counts)."""
    candidates = [i for i in range(1, len(scores)) if i == target or i not in seen]
    higher = sum(scores[i] > scores[target] for i in candidates)
    tied = sum(scores[i] == scores[target] for i in candidates if i != target)
    return higher + tied


def test_ranks_match_brute_force_with_ties_and_seen_items():
    rng = np.random.default_rng(0)
    n_users, n_items = 64, 30
    # Few distinct values force many ties; seen items sometimes include the target itself.
    scores = rng.integers(0, 6, size=(n_users, n_items + 1)).astype(np.float32)
    targets = rng.integers(1, n_items + 1, size=n_users)
    seen = [
        set(rng.choice(np.arange(1, n_items + 1), size=rng.integers(0, 10), replace=False).tolist())
        for _ in range(n_users)
    ]
    seen[0].add(int(targets[0]))
    rows = torch.tensor([u for u in range(n_users) for _ in seen[u]], dtype=torch.long)
    items = torch.tensor([i for u in range(n_users) for i in seen[u]], dtype=torch.long)

    ranks = target_ranks(torch.from_numpy(scores.copy()), torch.from_numpy(targets), rows, items)

    expected = [brute_force_rank(scores[u], int(targets[u]), seen[u]) for u in range(n_users)]
    assert ranks.tolist() == expected


def test_ties_count_against_the_target_and_padding_is_ignored():
    scores = torch.tensor([[9.0, 1.0, 1.0, 1.0, 0.0]])
    rank = target_ranks(
        scores,
        torch.tensor([2]),
        torch.empty(0, dtype=torch.long),
        torch.empty(0, dtype=torch.long),
    )
    assert rank.tolist() == [2]  # item 0 (padding) scores highest but is not a candidate


def test_nan_target_score_gets_the_worst_rank():
    scores = torch.tensor([[0.0, float("nan"), 1.0, 2.0]])
    rank = target_ranks(
        scores,
        torch.tensor([1]),
        torch.empty(0, dtype=torch.long),
        torch.empty(0, dtype=torch.long),
    )
    assert rank.tolist() == [2]


def test_metric_sums_follow_the_definitions():
    sums = metric_sums(torch.tensor([0, 3, 9, 10, 25]), cutoffs=(10, 20))
    assert sums["hr@10"] == 3
    assert sums["hr@20"] == 4
    assert sums["ndcg@10"] == pytest.approx(1 + 1 / math.log2(5) + 1 / math.log2(11))
    assert sums["ndcg@20"] == pytest.approx(sums["ndcg@10"] + 1 / math.log2(12))
    assert sums["mrr"] == pytest.approx(1 + 1 / 4 + 1 / 10 + 1 / 11 + 1 / 26)


class FixedScores(SequentialRecommender):
    """Scores depend only on the last input item, through a fixed table."""

    def __init__(self, table: torch.Tensor, maxlen: int) -> None:
        super().__init__()
        self.table, self.maxlen, self.n_items = table, maxlen, table.shape[1] - 1

    def score_next(self, items):
        return self.table[items[:, -1]].clone()


def test_evaluate_matches_brute_force_over_batches():
    dataset = make_synthetic_dataset(n_users=57, n_items=25, seed=1)
    split = leave_one_out(dataset)
    rng = np.random.default_rng(2)
    table = torch.from_numpy(rng.integers(0, 4, size=(26, 26)).astype(np.float32))
    metrics = evaluate(FixedScores(table, 10), evaluation_data(split, 10, "test"), batch_size=8)

    ranks = []
    for train, valid, test in zip(
        split.train, split.valid_targets, split.test_targets, strict=True
    ):
        history = np.append(train, valid)
        ranks.append(brute_force_rank(table[history[-1]].numpy(), int(test), set(history.tolist())))
    ranks = np.asarray(ranks)
    assert metrics["hr@10"] == pytest.approx(np.mean(ranks < 10))
    assert metrics["ndcg@20"] == pytest.approx(np.mean((ranks < 20) / np.log2(ranks + 2)))
    assert metrics["mrr"] == pytest.approx(np.mean(1 / (ranks + 1)))


def test_random_ranking_ndcg_matches_simulation():
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 50, size=200_000)
    simulated = np.mean((ranks < 10) / np.log2(ranks + 2))
    assert random_ranking_ndcg(50, 10) == pytest.approx(simulated, rel=0.02)
