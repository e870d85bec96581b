"""The JSON opswap prints: one object per run, each naming its kind and version in ``schema``.

Every object a command prints with ``--format json`` (and every report's ``to_dict()``) starts with
``"schema": "opswap/<kind>/<version>"``. The JSON Schema of each kind ships in the package,
``report.schema.json`` (``schema_path()``); a field is added within a version, and renamed, removed
or retyped only with a new version.
"""

from __future__ import annotations

from pathlib import Path

#: The version of every kind's form; raised when a field is renamed, removed or changes type.
VERSION = 1

#: The kinds of object opswap prints.
KINDS = ("check", "fix", "convert", "verify", "matrix", "export", "targets", "target", "target-diff", "rules", "probe")


def schema_id(kind: str) -> str:
    """``opswap/<kind>/<version>``, the value of the ``schema`` field of a ``kind`` object."""
    if kind not in KINDS:
        raise ValueError(f"unknown JSON kind {kind!r}")
    return f"opswap/{kind}/{VERSION}"


def schema_path() -> Path:
    """The JSON Schema (draft 2020-12) of every kind, shipped with the package."""
    return Path(__file__).with_name("report.schema.json")
