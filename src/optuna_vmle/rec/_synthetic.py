"""A seeded synthetic sequential dataset with structure a model can learn."""

from __future__ import annotations

import numpy as np

from optuna_vmle.rec._data import SequenceDataset


def make_synthetic_dataset(
    *,
    n_users: int = 500,
    n_items: int = 200,
    n_clusters: int = 10,
    min_length: int = 5,
    max_length: int = 20,
    follow_probability: float = 0.8,
    seed: int = 0,
    name: str = "synthetic",
) -> SequenceDataset:
    """Sample sequences from a mixture of Markov chains over item clusters.

    Items are split into ``n_clusters`` clusters, and each cluster orders its items in a cycle.
    A user starts on a random item; at every step, with probability ``follow_probability`` the
    next item is the successor of the current one in its cluster's cycle, otherwise the user
    jumps to another cluster (drawn from a sparse cluster-to-cluster transition matrix) and a
    random item in it. Items never repeat within a user. The same arguments always produce the
    same dataset.

    A model that learns the cycles predicts most next items exactly, so on this data a trained
    model should clearly beat random ranking.
    """
    if n_items < max_length:
        raise ValueError(
            f"n_items ({n_items}) must be at least max_length ({max_length}): items never repeat"
        )
    if not 1 <= n_clusters <= n_items:
        raise ValueError(f"n_clusters must be in [1, n_items], got {n_clusters}")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    rng = np.random.default_rng(seed)
    clusters = np.array_split(rng.permutation(n_items) + 1, n_clusters)
    cluster_of = np.empty(n_items + 1, dtype=np.int64)
    successor = np.empty(n_items + 1, dtype=np.int64)
    for index, members in enumerate(clusters):
        cluster_of[members] = index
        successor[members] = np.roll(members, -1)
    transitions = rng.dirichlet(np.full(n_clusters, 0.3), size=n_clusters)

    sequences = []
    for length in rng.integers(min_length, max_length + 1, size=n_users):
        item = int(rng.integers(1, n_items + 1))
        sequence = [item]
        seen = {item}
        while len(sequence) < length:
            if rng.random() < follow_probability:
                cluster = cluster_of[item]
                candidate = int(successor[item])
            else:
                cluster = rng.choice(n_clusters, p=transitions[cluster_of[item]])
                candidate = int(rng.choice(clusters[cluster]))
            if candidate in seen:
                unseen = [i for i in clusters[cluster] if i not in seen] or [
                    i for i in range(1, n_items + 1) if i not in seen
                ]
                candidate = int(rng.choice(unseen))
            item = candidate
            sequence.append(item)
            seen.add(item)
        sequences.append(np.asarray(sequence, dtype=np.int64))
    return SequenceDataset(
        sequences=sequences,
        n_items=n_items,
        name=name,
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
    )
