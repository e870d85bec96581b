"""Many models against many targets at once: the check matrix a CI job over a model zoo needs.

Each cell says what opswap can do for that model and target, without writing anything:

* ``legal``: the target takes the model as it is;
* ``fixable``: illegal, and exact rules give every illegal node a legal route (``fix`` will also verify);
* ``fixable_approx``: only with approximate rules (``fix --allow-approx``, whose bounds ``fix`` reports);
* ``no_route``: some nodes have no legal route even so (the ops are named).

Each verdict is ``fix``'s own on a copy of the model (fold, rewrite, lower the opset where the target
needs it), with verification and writing off: run ``fix`` to verify and write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opswap.fix import fix
from opswap.jsonout import schema_id
from opswap.model import Model, copy
from opswap.targets import Level, Target

LEGAL, FIXABLE, FIXABLE_APPROX, NO_ROUTE = "legal", "fixable", "fixable_approx", "no_route"


@dataclass
class Cell:
    """One model against one target."""

    model: str
    target: str
    verdict: str
    #: Illegal ops as checked (op -> nodes).
    illegal: dict[str, int] = field(default_factory=dict)
    #: Ops left without a legal route (for ``no_route``).
    unresolved: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "model": self.model,
            "target": self.target,
            "verdict": self.verdict,
            "illegal": self.illegal,
            "unresolved": self.unresolved,
        }


@dataclass
class MatrixReport:
    """Every model against every target."""

    models: list[str]
    targets: list[str]
    cells: list[Cell] = field(default_factory=list)

    @property
    def all_legal(self) -> bool:
        """Whether every model is legal for every target as it is."""
        return all(c.verdict == LEGAL for c in self.cells)

    def cell(self, model: str, target: str) -> Cell:
        """The cell of one model and target."""
        return next(c for c in self.cells if c.model == model and c.target == target)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: models, targets, cells and whether all are legal."""
        return {
            "schema": schema_id("matrix"),
            "models": self.models,
            "targets": self.targets,
            "all_legal": self.all_legal,
            "cells": [c.to_dict() for c in self.cells],
        }


def judge_cell(model: Model, target: Target, label: str) -> Cell:
    """What opswap can do for ``model`` on ``target`` (see the module docstring); ``model`` is not changed."""
    exact = fix(copy(model), target, run_verify=False, convert=False)
    if exact.before.legal:
        return Cell(label, target.name, LEGAL)
    illegal = exact.before.per_op(Level.ERROR)
    if exact.legal:
        return Cell(label, target.name, FIXABLE, illegal)
    approx = fix(copy(model), target, run_verify=False, convert=False, allow_approx=True)
    if approx.legal:
        return Cell(label, target.name, FIXABLE_APPROX, illegal)
    unresolved = list(approx.after.per_op(Level.ERROR))
    return Cell(label, target.name, NO_ROUTE, illegal, unresolved)


def matrix(
    models: Sequence[tuple[str, Callable[[], Model]]],
    targets: Sequence[Target],
    on_cell: Callable[[], None] | None = None,
) -> MatrixReport:
    """Judge every (label, loader) model against every target; each model is loaded once."""
    report = MatrixReport([label for label, _ in models], [t.name for t in targets])
    for label, load in models:
        model = load()
        for target in targets:
            report.cells.append(judge_cell(model, target, label))
            if on_cell is not None:
                on_cell()
    return report
