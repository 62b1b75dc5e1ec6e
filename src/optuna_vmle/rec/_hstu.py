"""HSTU (Zhai et al., ICML 2024): hierarchical sequential transduction units."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from optuna_vmle.rec._hstu_attention import pointwise_aggregated_attention
from optuna_vmle.rec._layers import ItemAndPositionEmbedding
from optuna_vmle.rec._layers import SequentialRecommender
from optuna_vmle.rec._layers import xavier_init
from optuna_vmle.rec._relative_bias import RelativePositionBias


class HSTUBlock(nn.Module):
    """LN -> SiLU(UVQK projection) -> pointwise attention -> U-gating -> output projection."""

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        linear_dim: int,
        attention_dim: int,
        maxlen: int,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.split_sizes = [linear_dim * num_heads] * 2 + [attention_dim * num_heads] * 2
        self.uvqk = nn.Linear(hidden_size, sum(self.split_sizes))
        self.relative_bias = RelativePositionBias(maxlen)
        self.out = nn.Linear(linear_dim * num_heads, hidden_size)
        self.num_heads, self.maxlen = num_heads, maxlen
        self.dropout, self.attention_dropout = dropout, attention_dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        u, v, q, k = F.silu(self.uvqk(F.layer_norm(x, x.shape[-1:]))).split(
            self.split_sizes, dim=-1
        )
        q, k, v = (t.view(batch, length, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        attended = pointwise_aggregated_attention(
            q,
            k,
            v,
            bias=self.relative_bias(length),
            mask=mask,
            maxlen=self.maxlen,
            dropout=self.attention_dropout,
            training=self.training,
        )
        attended = attended.transpose(1, 2).reshape(batch, length, -1)
        gated = u * F.layer_norm(attended, attended.shape[-1:])
        return x + self.out(F.dropout(gated, p=self.dropout, training=self.training))


class HSTU(SequentialRecommender):
    """HSTU encoder with L2-normalised query and item embeddings and a softmax temperature.

    Args:
        n_items: Number of items (ids ``1..n_items``; 0 is padding).
        maxlen: Longest input sequence.
        hidden_size: Embedding width.
        num_blocks: Number of HSTU blocks.
        num_heads: Attention heads.
        linear_dim: Per-head width of U and V (defaults to ``hidden_size // num_heads``).
        attention_dim: Per-head width of Q and K (defaults to ``hidden_size // num_heads``).
        dropout: Dropout on the embeddings and the gated output.
        attention_dropout: Dropout on the attention weights.
        temperature: Logits are cosine similarities divided by this.
    """

    def __init__(
        self,
        *,
        n_items: int,
        maxlen: int = 50,
        hidden_size: int = 64,
        num_blocks: int = 2,
        num_heads: int = 1,
        linear_dim: int | None = None,
        attention_dim: int | None = None,
        dropout: float = 0.2,
        attention_dropout: float = 0.0,
        temperature: float = 0.05,
    ) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        per_head = hidden_size // num_heads
        self.n_items, self.maxlen, self.logit_scale = n_items, maxlen, 1.0 / temperature
        self.embedding = ItemAndPositionEmbedding(n_items, hidden_size, maxlen, dropout)
        self.blocks = nn.ModuleList(
            HSTUBlock(
                hidden_size,
                num_heads,
                linear_dim or per_head,
                attention_dim or per_head,
                maxlen,
                dropout,
                attention_dropout,
            )
            for _ in range(num_blocks)
        )
        xavier_init(self)

    def encode(self, items: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.run_blocks(items), dim=-1)

    def output_embeddings(self) -> torch.Tensor:
        return F.normalize(self.embedding.items.weight, dim=-1)
