"""The rule listing ``opswap rules`` prints, read without loading the rules (or onnx).

Building the registry imports onnx and every rule module, and finding what each rule emits runs it
on a sample node: more than a second. The listing is data, so it ships as ``rules/catalogue.json``
(written by ``scripts/rule_catalogue.py``) for the onnx release it was built with; with another
onnx installed (whose function bodies may register other rules) the live registry is read instead.
``tests/test_cli_misc.py`` checks that the shipped catalogue is the live registry's listing.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

#: The shipped listing (next to the rule modules and their certificates).
CATALOGUE = Path(__file__).with_name("rules") / "catalogue.json"
CERTIFICATES = Path(__file__).with_name("rules") / "certificates.json"


def live_rows() -> list[dict[str, Any]]:
    """Every registered rule, from the registry itself (imports onnx and the rules)."""
    from opswap.rules import all_rules
    from opswap.rules.base import emitted_ops

    return [
        {
            "id": r.id,
            "op_type": r.op_type,
            "domain": r.domain,
            "source": r.source,
            "versions": list(r.opsets) if r.opsets is not None else None,
            "produces": emitted_ops(r),
            "exact": r.exact,
            "bound": r.bound or None,
            "description": r.doc,
        }
        for r in all_rules()
    ]


def rows() -> list[dict[str, Any]]:
    """The listing: the shipped catalogue when it was built with the installed onnx, else the live one."""
    try:
        shipped = json.loads(CATALOGUE.read_text(encoding="utf-8"))
        installed = metadata.version("onnx")
    except (OSError, ValueError, metadata.PackageNotFoundError):
        return live_rows()
    if shipped.get("onnx") != installed:
        return live_rows()
    return list(shipped["rules"])


def certificates() -> dict[str, dict[str, Any]]:
    """The shipped certificates by rule id (see ``opswap.rules.certificates``), read as plain JSON."""
    if not CERTIFICATES.is_file():
        return {}
    data = json.loads(CERTIFICATES.read_text(encoding="utf-8"))
    return {entry["rule"]: entry for entry in data["certificates"]}


def text() -> str:
    """The catalogue file's content for the installed onnx and the registry as it is."""
    return json.dumps({"onnx": metadata.version("onnx"), "rules": live_rows()}, indent=1) + "\n"
