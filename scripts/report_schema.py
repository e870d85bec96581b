"""Write ``src/opswap/report.schema.json``, the JSON Schema of what opswap prints with ``--format json``.

Edit the definitions here and run ``python scripts/report_schema.py``; ``tests/test_json_schema.py``
checks that the shipped file is what this writes and that every command's real output validates.
A field added to a report's ``to_dict`` goes here too (the schema allows no field it does not list).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from opswap.jsonout import KINDS, VERSION, schema_path

Schema = dict[str, Any]


def S() -> Schema:
    return {"type": "string"}


def I() -> Schema:  # noqa: E743
    return {"type": "integer"}


def N() -> Schema:
    return {"type": "number"}


def B() -> Schema:
    return {"type": "boolean"}


def opt(t: Schema) -> Schema:
    return {"anyOf": [t, {"type": "null"}]}


def arr(t: Schema) -> Schema:
    return {"type": "array", "items": t}


def obj(props: dict[str, Schema], extra: bool = False, required: list[str] | None = None) -> Schema:
    """An object with ``props`` (all required unless ``required`` says), no others unless ``extra``."""
    o: Schema = {"type": "object", "properties": props, "required": sorted(props) if required is None else required}
    if not extra:
        o["additionalProperties"] = False
    return o


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def kind(k: str) -> Schema:
    return {"const": f"opswap/{k}/{VERSION}"}


def mapping(t: Schema) -> Schema:
    return {"type": "object", "additionalProperties": t}


defs: dict[str, Schema] = {}
defs["finding_group"] = obj(
    {
        "op_type": S(),
        "domain": S(),
        "count": I(),
        "nodes": arr(S()),
        "reason": S(),
        "static_only": B(),
    }
)
defs["check_quantization"] = obj(
    {
        "units": I(),
        "outside_units": arr(obj({"node": S(), "op_type": S()})),
        "unencoded_tensors": arr(S()),
        "illegal_in_units": I(),
        "illegal_outside_units": I(),
    }
)
defs["check"] = obj(
    {
        "schema": kind("check"),
        "target": S(),
        "model": S(),
        "legal": B(),
        "nodes": I(),
        "illegal": arr(ref("finding_group")),
        "warnings": arr(ref("finding_group")),
        "caveats": arr(ref("finding_group")),
        "quantization": opt(ref("check_quantization")),
        "judged": opt(S()),
        "lowering_advice": opt(S()),
    }
)
defs["rewrite"] = obj(
    {
        "op_type": S(),
        "domain": S(),
        "count": I(),
        "route": {"type": "array", "items": S(), "minItems": 1},
        "exact": B(),
        "bounds": arr(S()),
        "nodes": arr(S()),
    }
)
defs["unresolved"] = obj(
    {
        "op_type": S(),
        "domain": S(),
        "count": I(),
        "reason": S(),
        "explanation": S(),
        "nodes": arr(S()),
    }
)
defs["output_figures"] = obj(
    {
        "name": S(),
        "max_abs": N(),
        "max_rel": N(),
        "cosine": N(),
        "top1_agreement": opt(N()),
        "mismatches": I(),
        "steps": opt(obj({"step": N(), "max_steps": N(), "identical": opt(N()), "within_one_step": opt(N())})),
    }
)
defs["value_figures"] = obj(
    {
        "name": S(),
        "op_type": S(),
        "node": S(),
        "route": opt(arr(S())),
        "max_abs": N(),
        "max_rel": N(),
        "cosine": N(),
        "mismatches": I(),
    }
)
defs["per_value"] = obj(
    {
        "rtol": N(),
        "compared": I(),
        "left_out": I(),
        "differ": I(),
        "first": opt(ref("value_figures")),
        "values": arr(ref("value_figures")),
    }
)
defs["verify"] = obj(
    {
        "schema": kind("verify"),
        "samples": I(),
        "rtol": N(),
        "min_top1": N(),
        "min_cosine": opt(N()),
        "max_abs": N(),
        "max_rel": N(),
        "max_ref": N(),
        "cosine": N(),
        "top1_agreement": opt(N()),
        "top1_near_ties": I(),
        "vacuous": B(),
        "precision": S(),
        "ulps": opt(N()),
        "runtimes": mapping(S()),
        "quantized": opt(
            obj(
                {
                    "units": I(),
                    "max_steps": I(),
                    "changed": N(),
                    "max_changed": N(),
                    "passed": B(),
                    "per_unit": arr(obj({"unit": S(), "step": N(), "max_steps": I(), "changed": N()})),
                }
            )
        ),
        "within_one_step": opt(N()),
        "max_steps": opt(N()),
        "spread": opt(ref("verify")),
        "per_value": opt(ref("per_value")),
        "passed": B(),
        "outputs": arr(ref("output_figures")),
    }
)
defs["converter_run"] = obj(
    {
        "tool": S(),
        "found": B(),
        "in_process": B(),
        "command": opt(S()),
        "returncode": opt(I()),
        "output": opt(S()),
        "rejected_ops": arr(S()),
        "held": opt(S()),
    }
)
defs["fix"] = obj(
    {
        "schema": kind("fix"),
        "target": S(),
        "model": S(),
        "legal": B(),
        "ok": B(),
        "output": opt(S()),
        "not_written": opt(S()),
        "rewrites": arr(ref("rewrite")),
        "unresolved": arr(ref("unresolved")),
        "nodes_removed": I(),
        "nodes_added": I(),
        "initializers_added": I(),
        "folded": I(),
        "fused": mapping(I()),
        "quantization": opt(
            obj({"pairs": I(), "by_encoding": mapping(I()), "constants": I(), "nodes": I(), "skipped": arr(S())})
        ),
        "verification": opt(ref("verify")),
        "before": ref("check"),
        "after": ref("check"),
        "converter": opt(ref("converter_run")),
        "opset": opt(obj({"from": I(), "to": I(), "adapted": mapping(I())})),
        "opset_not_lowered": opt(S()),
        "fixed_dims": mapping(I()),
        "unchanged": B(),
        "cut": opt(obj({"outputs": arr(S()), "nodes_kept": I(), "nodes_removed": I(), "inputs_dropped": arr(S())})),
        "cut_hint": opt(arr(S())),
    }
)
defs["partitions"] = obj({"ep": S(), "partitions": I(), "supported_nodes": I(), "nodes": I(), "suitability": S()})
defs["convert"] = obj(
    {
        "schema": kind("convert"),
        "target": S(),
        "tool": S(),
        "ok": B(),
        "converted": B(),
        "found": B(),
        "artifact": opt(S()),
        "message": opt(S()),
        "rounds": arr(
            obj(
                {
                    **defs["converter_run"]["properties"],
                    "rejected": arr(S()),
                    "folded": I(),
                    "folded_verification": opt(ref("verify")),
                }
            )
        ),
        "partitions_before": opt(ref("partitions")),
        "partitions_after": opt(ref("partitions")),
        "runtime": opt(ref("verify")),
        "runtime_original": opt(ref("verify")),
        "original_note": opt(S()),
        "files": arr(S()),
        "fix": ref("fix"),
    }
)
defs["matrix"] = obj(
    {
        "schema": kind("matrix"),
        "models": arr(S()),
        "targets": arr(S()),
        "all_legal": B(),
        "cells": arr(
            obj(
                {
                    "model": S(),
                    "target": S(),
                    "verdict": {"enum": ["legal", "fixable", "fixable_approx", "no_route"]},
                    "illegal": mapping(I()),
                    "unresolved": arr(S()),
                }
            )
        ),
    }
)
defs["export"] = obj(
    {
        "schema": kind("export"),
        "spec": S(),
        "target": S(),
        "via": S(),
        "exporter": S(),
        "ok": B(),
        "legal": B(),
        "output": opt(S()),
        "swapped": opt({"type": "object"}),
        "rewrites": arr(ref("rewrite")),
        "unresolved": arr(ref("unresolved")),
        "verification": ref("verify"),
        "torch": opt(ref("verify")),
        "after": ref("check"),
        "opset": opt(obj({"from": I(), "to": I(), "adapted": mapping(I())})),
    }
)
defs["op_support"] = obj(
    {
        "opsets": opt(arr(I())),
        "attributes": mapping(arr({"type": ["number", "string"]})),
        "static_inputs": arr(I()),
        "dtypes": opt(arr(S())),
        "max_rank": opt(I()),
        "outputs": opt(I()),
        "note": S(),
        "checks": arr(S()),
    }
)
defs["profile"] = obj(
    {
        "name": S(),
        "description": S(),
        "source": S(),
        "converter": S(),
        "converter_args": arr(S()),
        "unlisted_opset": {"enum": ["warning", "error"]},
        "fixed_shapes": B(),
        "max_rank": opt(I()),
        "model_opsets": opt({"type": "array", "items": I(), "minItems": 2, "maxItems": 2}),
        "partitions_after": opt(S()),
        "ops": mapping(ref("op_support")),
    }
)
defs["targets"] = obj(
    {
        "schema": kind("targets"),
        "targets": arr(ref("profile")),
        "aliases": mapping(obj({"profile": S(), "converter": S()}, extra=True, required=["profile"])),
    }
)
defs["target"] = obj({"schema": kind("target"), **defs["profile"]["properties"]})
defs["target-diff"] = obj(
    {
        "schema": kind("target-diff"),
        "from": S(),
        "to": S(),
        "added": arr(S()),
        "removed": arr(S()),
        "changed": arr(S()),
    }
)
defs["certificate"] = obj(
    {
        "rule": S(),
        "op_type": S(),
        "inputs": I(),
        "max_ulp": I(),
        "worst_input": N(),
        "max_abs": N(),
        "mismatches": I(),
        "full": B(),
    },
    extra=True,
    required=["rule", "op_type", "max_ulp", "max_abs", "mismatches"],
)
defs["rules"] = obj(
    {
        "schema": kind("rules"),
        "rules": arr(
            obj(
                {
                    "id": S(),
                    "op_type": S(),
                    "domain": S(),
                    "source": S(),
                    "versions": opt(arr(I())),
                    "produces": opt(arr(S())),
                    "exact": B(),
                    "bound": opt(S()),
                    "description": S(),
                    "certificate": opt(ref("certificate")),
                }
            )
        ),
    }
)
defs["probe"] = obj(
    {
        "schema": kind("probe"),
        "converter": S(),
        "version": S(),
        "ops": mapping(
            obj(
                {
                    "tests": I(),
                    "accepted": I(),
                    "wrong": I(),
                    "versions": arr(I()),
                    "supported": B(),
                    "static_inputs": arr(I()),
                    "wrong_tests": arr(S()),
                    "notes": arr(S()),
                }
            )
        ),
        "profile": S(),
        "compare": opt(obj({"accepted_but_not_listed": arr(S()), "listed_but_rejected": arr(S()), "agree": arr(S())})),
    }
)


def schema() -> Schema:
    """The whole schema: one of the kinds, each in ``$defs``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "opswap/report.schema.json",
        "title": "What opswap prints with --format json",
        "description": "Every object opswap prints names its kind and version in 'schema' "
        "(opswap/<kind>/<version>). Fields are added within a version; renamed, removed or retyped only "
        "with a new one.",
        "oneOf": [ref(k) for k in KINDS],
        "$defs": defs,
    }


def text() -> str:
    """The schema file's content."""
    return json.dumps(schema(), indent=1) + "\n"


if __name__ == "__main__":
    schema_path().write_text(text())
