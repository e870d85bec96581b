"""Target profiles: the shipped ones by name, or a user's TOML file by path."""

from __future__ import annotations

import dataclasses
import difflib
import re
from importlib import resources
from pathlib import Path

from opswap.errors import TargetError
from opswap.targets.profile import Level, OpSupport, Target, Verdict, op_name, parse_profile, tomllib

__all__ = [
    "Level",
    "OpSupport",
    "Target",
    "Verdict",
    "aliases",
    "builtin_names",
    "diff_targets",
    "load_target",
    "op_name",
]

_BUILTIN = "opswap.targets.builtin"


_ALIASES = "aliases.toml"


def builtin_names() -> list[str]:
    """Names of the shipped profiles, sorted (aliases not included)."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(_BUILTIN).iterdir()
        if entry.name.endswith(".toml") and entry.name != _ALIASES
    )


def aliases() -> dict[str, dict[str, str]]:
    """Other names for shipped profiles: name -> {profile, converter, converter_output_suffix}."""
    text = resources.files(_BUILTIN).joinpath(_ALIASES).read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["aliases"])


def load_target(target: str | Path | Target) -> Target:
    """Resolve a shipped profile name (``snpe-2.7``) or a path to a TOML profile."""
    if isinstance(target, Target):
        return target
    text_name = str(target)
    if isinstance(target, Path) or text_name.endswith(".toml") or "/" in text_name:
        path = Path(target)
        text = _read_profile(path)
        parsed = parse_profile(text, str(path))
        return dataclasses.replace(parsed, path=path)
    names = builtin_names()
    alias = aliases().get(text_name)
    if alias is not None:
        profile = load_target(alias["profile"])
        return dataclasses.replace(
            profile,
            name=text_name,
            description=f"{profile.description}; converted with {alias['converter']}",
            converter=alias["converter"],
            converter_output_suffix=alias.get("converter_output_suffix", profile.converter_output_suffix),
        )
    if text_name not in names:
        every = names + sorted(aliases())
        nearest = nearest_release(text_name, every)
        if nearest is not None:
            return dataclasses.replace(load_target(nearest), requested=text_name)
        close = _family(text_name, every) or difflib.get_close_matches(text_name, every, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(every)}"
        raise TargetError(f"unknown target {text_name!r}{hint} (or pass a path to a .toml profile)")
    resource = resources.files(_BUILTIN).joinpath(f"{text_name}.toml")
    return parse_profile(resource.read_text(encoding="utf-8"), f"{text_name}.toml")


_RELEASE = re.compile(r"([a-z]+)-(\d+(?:\.\d+)*)")
#: Other words users type for a family of shipped profiles.
_SYNONYMS = {"trt": "tensorrt", "tf": "tflite", "litert": "tflite", "mlprogram": "coreml", "neuralnetwork": "coreml"}


def nearest_release(name: str, names: list[str]) -> str | None:
    """``snpe-2.14`` -> the shipped ``snpe-*`` release nearest at or below it, of the same major version.

    None when there is none. An older release of the same major version is the safe side: its
    converter gains ops from release to release, so the older profile may call a newer op illegal,
    not an unsupported one legal. Across a major version ops are also removed (TensorRT 10 dropped
    some), so ``tensorrt-11`` resolves to nothing.
    """
    asked = _RELEASE.fullmatch(name.lower())
    if asked is None:
        return None
    family, version = asked.group(1), _version(asked.group(2))
    below = []
    for candidate in names:
        found = _RELEASE.fullmatch(candidate)
        shipped = _version(found.group(2)) if found else ()
        if found and found.group(1) == family and shipped[:1] == version[:1] and shipped <= version:
            below.append((_version(found.group(2)), candidate))
    return max(below)[1] if below else None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _family(name: str, names: list[str]) -> list[str]:
    """Shipped names that hold what was typed as a word (``coreml``, ``trt``, ``qnn``)."""
    word = _SYNONYMS.get(name.lower(), name.lower())
    if len(word) < 2:
        return []
    return [n for n in names if word in n.split("-") or n.startswith(f"{word}-") or f"-{word}" in n][:6]


#: Largest profile file read: the biggest shipped one is about 20 KiB.
MAX_PROFILE_BYTES = 4 << 20


def _read_profile(path: Path) -> str:
    """A user's profile text: a regular file of at most :data:`MAX_PROFILE_BYTES`, in UTF-8."""
    try:
        if not path.exists():
            raise TargetError(f"{path}: no such profile file")
        if not path.is_file():
            raise TargetError(f"{path}: not a regular file, so not a profile")
        with path.open("rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
        if len(data) > MAX_PROFILE_BYTES:
            raise TargetError(f"{path}: over {MAX_PROFILE_BYTES >> 20} MiB, too big to be a profile")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TargetError(f"{path}: cannot read profile ({exc})") from None


def diff_targets(a: Target, b: Target) -> dict[str, list[str]]:
    """What changes from profile ``a`` to profile ``b``: ops added, removed, and changed (with how)."""
    added = sorted(op_name(op, d) for (d, op) in b.ops.keys() - a.ops.keys())
    removed = sorted(op_name(op, d) for (d, op) in a.ops.keys() - b.ops.keys())
    changed = []
    for key in sorted(a.ops.keys() & b.ops.keys()):
        old, new = a.ops[key], b.ops[key]
        parts = []
        if old.opsets != new.opsets:
            parts.append(f"versions {_versions(old.opsets)} -> {_versions(new.opsets)}")
        for field in ("attributes", "static_inputs", "dtypes", "max_rank", "outputs", "note"):
            if getattr(old, field) != getattr(new, field):
                parts.append(f"{field} {getattr(old, field)!r} -> {getattr(new, field)!r}")
        if parts:
            changed.append(f"{op_name(key[1], key[0])}: {'; '.join(parts)}")
    return {"added": added, "removed": removed, "changed": changed}


def _versions(opsets: tuple[int, ...] | None) -> str:
    return "all" if opsets is None else ",".join(map(str, opsets))
