"""Next-item training losses over every non-padded position.

All losses take the encoder's hidden states, the next-item targets (0 = no target) and the
output item embeddings, so any :class:`SequentialRecommender` can be trained with any loss.
Negatives are drawn uniformly from all items, vectorised; a negative equal to the positive is
replaced (BCE) or masked out (sampled softmax). Previously seen items are not excluded: with
thousands of items the chance of drawing one is negligible and exclusion would need a per-user
loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


LOSSES = ("bce", "sampled_softmax", "full_ce")
NEGATIVES_PER = ("position", "sequence", "batch")


def bce_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    logit_scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Binary cross-entropy with one uniform negative per position (the original SASRec loss).

    Args:
        hidden: ``[N, d]`` hidden states of positions that have a target.
        targets: ``[N]`` positive item ids.
        embeddings: ``[n_items + 1, d]`` output item embeddings.
    """
    n_items = embeddings.shape[0] - 1
    negatives = torch.randint(
        1, n_items + 1, targets.shape, device=targets.device, generator=generator
    )
    negatives = torch.where(negatives == targets, negatives % n_items + 1, negatives)
    positive_logits = (hidden * embeddings[targets]).sum(-1) * logit_scale
    negative_logits = (hidden * embeddings[negatives]).sum(-1) * logit_scale
    return F.binary_cross_entropy_with_logits(
        positive_logits, torch.ones_like(positive_logits)
    ) + F.binary_cross_entropy_with_logits(negative_logits, torch.zeros_like(negative_logits))


def sampled_softmax_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    num_negatives: int,
    logit_scale: float = 1.0,
    generator: torch.Generator | None = None,
    negatives_per: str = "position",
) -> torch.Tensor:
    """Softmax over the positive and ``num_negatives`` uniform negatives.

    ``negatives_per`` says how often a fresh set is drawn: for every ``"position"`` (as
    RecTools and eSASRec do), every ``"sequence"`` (shared by its positions) or once per
    ``"batch"``. On Beauty each step down costs test NDCG@10 (see ``benchmarks/README.md``).

    Args:
        hidden: ``[B, L, d]`` encoder outputs.
        targets: ``[B, L]`` next items, 0 where there is none.
        embeddings: ``[n_items + 1, d]`` output item embeddings.
    """
    if negatives_per not in NEGATIVES_PER:
        raise ValueError(f"negatives_per must be one of {NEGATIVES_PER}, got {negatives_per!r}")
    n_items = embeddings.shape[0] - 1
    if negatives_per == "position":  # [N, 1, d] against [N, K, d]: one set per position
        hidden, targets = hidden[targets != 0][:, None, :], targets[targets != 0][:, None]
    rows = 1 if negatives_per == "batch" else targets.shape[0]
    negatives = torch.randint(
        1, n_items + 1, (rows, num_negatives), device=targets.device, generator=generator
    )
    positive_logits = (hidden * embeddings[targets]).sum(-1, keepdim=True)
    # [B, L, d] x [B or 1, K, d] -> [B, L, K], one batched product per set of negatives.
    negative_logits = hidden @ embeddings[negatives].transpose(1, 2)
    negative_logits = negative_logits.masked_fill(
        negatives[:, None, :] == targets[:, :, None], float("-inf")
    )
    has_target = targets != 0
    logits = torch.cat([positive_logits, negative_logits], dim=-1)[has_target]
    return F.cross_entropy(logits.float() * logit_scale, torch.zeros_like(targets[has_target]))


def full_cross_entropy_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    logit_scale: float = 1.0,
) -> torch.Tensor:
    """Softmax over all items (the padding item excluded)."""
    logits = (hidden @ embeddings.T).float() * logit_scale
    logits[:, 0] = float("-inf")
    return F.cross_entropy(logits, targets)


def next_item_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    embeddings: torch.Tensor,
    *,
    loss: str,
    logit_scale: float = 1.0,
    num_negatives: int = 256,
    generator: torch.Generator | None = None,
    negatives_per: str = "position",
) -> torch.Tensor:
    """Loss ``loss`` (one of :data:`LOSSES`) over the positions of ``[B, L]`` ``targets`` not 0.

    Args:
        hidden: ``[B, L, d]`` encoder outputs.
        targets: ``[B, L]`` next item at each position, 0 where there is none.
        embeddings: ``[n_items + 1, d]`` output item embeddings.
    """
    if loss == "sampled_softmax":
        return sampled_softmax_loss(
            hidden,
            targets,
            embeddings,
            num_negatives=num_negatives,
            logit_scale=logit_scale,
            generator=generator,
            negatives_per=negatives_per,
        )
    has_target = targets != 0
    hidden, targets = hidden[has_target], targets[has_target]
    if loss == "bce":
        return bce_loss(hidden, targets, embeddings, logit_scale=logit_scale, generator=generator)
    if loss == "full_ce":
        return full_cross_entropy_loss(hidden, targets, embeddings, logit_scale=logit_scale)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
