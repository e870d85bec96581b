"""The values a rule computes with, and the exception a rule raises when a node is outside its reach."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Value:
    """A tensor a rule computes with: its name in the graph, element type, and what else is known.

    ``shape`` is filled for the inputs of ops whose rules declare ``shapes=True`` (None entries are
    symbolic dims; None for the whole shape means unknown rank). ``const`` holds the value of a small
    constant input (axes, shapes, bounds).
    """

    name: str
    dtype: int
    shape: tuple[int | None, ...] | None = None
    const: np.ndarray | None = None

    @property
    def rank(self) -> int:
        """The rank, or RuleNotApplicable when it is unknown."""
        if self.shape is None:
            raise RuleNotApplicable(f"the rank of {self.name!r} is unknown")
        return len(self.shape)

    def static_shape(self) -> tuple[int, ...]:
        """The shape when every dim is known, or RuleNotApplicable."""
        dims = tuple(int(d) for d in self.shape or () if d is not None)
        if self.shape is None or len(dims) != len(self.shape):
            raise RuleNotApplicable(f"the shape of {self.name!r} is not static")
        return dims

    def value(self) -> np.ndarray:
        """The constant's value, or RuleNotApplicable when the input is computed."""
        if self.const is None:
            raise RuleNotApplicable(f"{self.name!r} is not a constant")
        return self.const


Input = Value | float | int | None


class RuleNotApplicable(Exception):
    """Raised by a rule when the node is outside what the rule handles (reason in the message)."""
