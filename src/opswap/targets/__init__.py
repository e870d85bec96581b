"""Target profiles: the shipped ones by name, or a user's TOML file by path."""

from __future__ import annotations

import dataclasses
import difflib
from importlib import resources
from pathlib import Path

from opswap.errors import TargetError
from opswap.targets.profile import Level, OpSupport, Target, Verdict, op_name, parse_profile

__all__ = ["Level", "OpSupport", "Target", "Verdict", "builtin_names", "load_target", "op_name"]

_BUILTIN = "opswap.targets.builtin"


def builtin_names() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(_BUILTIN).iterdir()
        if entry.name.endswith(".toml")
    )


def load_target(target: str | Path | Target) -> Target:
    """Resolve a shipped profile name (``snpe-2.7``) or a path to a TOML profile."""
    if isinstance(target, Target):
        return target
    text_name = str(target)
    if isinstance(target, Path) or text_name.endswith(".toml") or "/" in text_name:
        path = Path(target)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TargetError(f"{path}: no such profile file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(f"{path}: cannot read profile ({exc})") from None
        parsed = parse_profile(text, str(path))
        return dataclasses.replace(parsed, path=path)
    names = builtin_names()
    if text_name not in names:
        close = difflib.get_close_matches(text_name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names)}"
        raise TargetError(f"unknown target {text_name!r}{hint} (or pass a path to a .toml profile)")
    resource = resources.files(_BUILTIN).joinpath(f"{text_name}.toml")
    return parse_profile(resource.read_text(encoding="utf-8"), f"{text_name}.toml")
