"""Errors that reach the user as one line and an exit code.

Anything raised as an :class:`OpswapError` is the user's input being wrong (a missing file, a model
that is not ONNX, an unknown target, ...). The CLI prints ``opswap: <message>`` and exits 2.
"""

from __future__ import annotations


class OpswapError(Exception):
    """Bad input or usage; shown to the user as one line, exit code 2."""

    exit_code = 2


class ModelError(OpswapError):
    """The model file is missing, unreadable, not ONNX, or malformed."""


class TargetError(OpswapError):
    """The target profile is unknown or malformed."""


class VerifyError(OpswapError):
    """Verification cannot run as asked (for example an unresolved symbolic dimension)."""


class FrontendError(OpswapError):
    """A PyTorch model spec or weights file cannot be used."""
