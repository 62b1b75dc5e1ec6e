"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optuna_vmle.rec._layers import ItemAndPositionEmbedding, SequentialRecommender, xavier_init


class CausalSelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.num_heads = num_heads
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        dropout = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.out(attended.transpose(1, 2).reshape(batch, length, hidden))


class SASRecBlock(nn.Module):
    """Pre-LayerNorm transformer block: attention then a point-wise feed-forward network."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(hidden_size, eps=1e-8)
        self.attention = CausalSelfAttention(hidden_size, num_heads, dropout)
        self.feed_forward_norm = nn.LayerNorm(hidden_size, eps=1e-8)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), mask))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class SASRec(SequentialRecommender):
    """SASRec with learned positions and input/output item embeddings shared.

    Args:
        n_items: Number of items (ids ``1..n_items``; 0 is padding).
        maxlen: Longest input sequence.
        hidden_size: Embedding and model width; must be divisible by ``num_heads``.
        num_blocks: Number of transformer blocks.
        num_heads: Attention heads.
        dropout: Dropout on embeddings, attention weights and residual branches.
    """

    def __init__(
        self,
        *,
        n_items: int,
        maxlen: int = 50,
        hidden_size: int = 64,
        num_blocks: int = 2,
        num_heads: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.n_items, self.maxlen = n_items, maxlen
        self.embedding = ItemAndPositionEmbedding(n_items, hidden_size, maxlen, dropout)
        self.blocks = nn.ModuleList(SASRecBlock(hidden_size, num_heads, dropout) for _ in range(num_blocks))
        self.final_norm = nn.LayerNorm(hidden_size, eps=1e-8)
        xavier_init(self)

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        return self.final_norm(self.run_blocks(items))

    def output_embeddings(self) -> torch.Tensor:
        return self.embedding.items.weight
