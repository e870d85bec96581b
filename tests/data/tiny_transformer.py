"""A small transformer encoder for tests: ``tests/data/tiny_transformer.py:build``."""

from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """Two encoder layers (GELU, LayerNorm, attention) over [1, 16, 64] inputs, then a classifier."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


def build() -> nn.Module:
    torch.manual_seed(0)
    return Encoder().eval()
