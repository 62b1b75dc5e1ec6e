"""Learned relative-position attention bias (HSTU, Zhai et al. 2024)."""

from __future__ import annotations

import torch
from torch import nn


class RelativePositionBias(nn.Module):
    """One learned scalar per signed distance ``j - i`` between query ``i`` and key ``j``."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.weights = nn.Parameter(torch.empty(2 * maxlen - 1).normal_(std=0.02))

    def forward(self, length: int) -> torch.Tensor:
        """``[length, length]`` bias for a (right-aligned) sequence of ``length`` positions."""
        positions = torch.arange(length, device=self.weights.device)
        distance = positions[None, :] - positions[:, None]
        return self.weights[distance + self.maxlen - 1]
