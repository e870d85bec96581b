"""The Python API takes what a user would pass: paths and names, and says plainly what it cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

import opswap
from conftest import hardswish_model, save_model


def test_check_and_fix_take_a_path_and_a_target_name(tmp_path: Path) -> None:
    source = save_model(hardswish_model(), tmp_path / "m.onnx")
    report = opswap.check(str(source), "snpe-2.7")
    assert str(report).startswith("ILLEGAL for snpe-2.7: 2 nodes of 2 op types (") and "HardSwish" in str(report)
    assert {f.op_type for f in report.at(opswap.Level.ERROR)} == {"HardSwish", "HardSigmoid"}
    fixed = opswap.fix(source, "snpe-2.7", str(tmp_path / "fixed.onnx"))
    assert fixed.ok and (tmp_path / "fixed.onnx").exists()
    shown = str(fixed)
    assert "LEGAL for snpe-2.7" in shown and "verification: PASSED" in shown and "wrote" in shown
    assert str(opswap.check(tmp_path / "fixed.onnx", opswap.load_target("snpe-2.7"))) == "LEGAL for snpe-2.7"


@pytest.mark.parametrize("bad", [3, None, b"m.onnx"])
def test_a_wrong_argument_type_is_an_opswap_error(tmp_path: Path, bad: object) -> None:
    source = save_model(hardswish_model(), tmp_path / "m.onnx")
    with pytest.raises(opswap.OpswapError, match="expected an opswap Model or a path"):
        opswap.check(bad, "snpe-2.7")  # type: ignore[arg-type]
    with pytest.raises(opswap.OpswapError, match=r"expected a Target, a profile name or a \.toml path"):
        opswap.fix(source, bad)  # type: ignore[arg-type]


def test_importing_opswap_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    code = "import sys, opswap; print(sorted(m for m in ('onnx', 'onnxruntime', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_api_functions_survive_their_modules_being_imported_first() -> None:
    """`import opswap.fix` (or anything that imports it) must not turn `opswap.check` into a module."""
    import subprocess
    import sys

    code = (
        "import opswap.fix, opswap.verify, opswap.legalize, opswap.check, opswap\n"
        "print(all(callable(f) for f in (opswap.check, opswap.fix, opswap.verify, opswap.legalize)))\n"
        "from opswap.check import CheckReport\n"
        "print(CheckReport.__module__ == 'opswap.check')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]


def test_reports_render_in_a_notebook_with_names_escaped(tmp_path: Path) -> None:
    """A notebook shows ``_repr_html_``: the verdict, findings, routes and figures; a node named like a
    tag is text, not markup."""
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self, html: str) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text: list[str] = []
            self.feed(html)

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)

        def handle_data(self, data: str) -> None:
            self.text.append(data)

        @property
        def shown(self) -> str:
            return " ".join(" ".join(self.text).split())

    model = hardswish_model()
    model.graph.node[0].name = "<script>alert(1)</script>"
    source = save_model(model, tmp_path / "m.onnx")
    check = Page(opswap.check(source, "snpe-2.7")._repr_html_())
    assert "script" not in check.tags and "<script>alert(1)</script>" in check.shown
    assert "ILLEGAL for snpe-2.7: 2 nodes of 2 op types" in check.shown
    assert "Illegal (2 nodes)" in check.shown and "HardSwish is not supported by snpe-2.7" in check.shown

    fixed = opswap.fix(source, "snpe-2.7", tmp_path / "fixed.onnx")
    page = Page(fixed._repr_html_())
    assert (
        "LEGAL for snpe-2.7" in page.shown
        and "hardswish_via_onnx_function > hardsigmoid_via_pointwise_conv" in page.shown
    )
    assert fixed.verification is not None
    assert "PASSED" in page.shown and f"wrote {tmp_path / 'fixed.onnx'}" in page.shown
    assert Page(fixed.verification._repr_html_()).shown.startswith("PASSED: max |Δ| / max |out| = 0")
