"""Pointwise aggregated attention (HSTU): SiLU instead of softmax, normalised by length."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pointwise_aggregated_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor,
    mask: torch.Tensor,
    maxlen: int,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """``SiLU(q k^T + bias) / maxlen`` applied to ``v``, with masked weights set to zero.

    Without a softmax the weights keep the intensity of user engagement instead of a
    distribution. Dividing by the fixed ``maxlen`` (not the batch's padded width) keeps the
    result independent of how a batch was trimmed.

    Args:
        q, k: ``[B, H, L, Dqk]``.
        v: ``[B, H, L, Dv]``.
        bias: ``[L, L]`` relative position bias.
        mask: ``[B, 1, L, L]`` boolean, true where query ``i`` may attend to key ``j``.
    """
    weights = F.silu(q @ k.transpose(-1, -2) + bias) / maxlen
    weights = F.dropout(weights * mask, p=dropout, training=training)
    return weights @ v
