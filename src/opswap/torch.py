"""The PyTorch side of opswap (needs torch): ``from opswap.torch import swap_layers``."""

from __future__ import annotations

from opswap.frontends.swap import SwapReport, swap_layers

__all__ = ["SwapReport", "swap_layers"]
