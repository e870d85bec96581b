"""``--report report.html``, looked at in a real browser (issue 15, point 10).

The page is rendered by headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which
``.ci/run`` installs) driven by Selenium, and the assertions are on what a person would see: the
visible text, the drawings and plots on screen. Where Chromium is absent the tests say so and skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from onnx import helper

from conftest import hardswish_model, make_model, save_model, tensor

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
    reason="Debian's chromium and chromium-driver are not installed here (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: look nothing up
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1300,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def shown(browser: Any, page: Path) -> str:
    """Open ``page`` and return the text a person sees on it, on one line per block."""
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    return str(browser.find_element(By.TAG_NAME, "body").text)


def drawn(browser: Any, css: str) -> list[Any]:
    """The elements matching ``css`` that are on screen with a size."""
    from selenium.webdriver.common.by import By

    return [e for e in browser.find_elements(By.CSS_SELECTOR, css) if e.is_displayed() and e.size["width"] > 0]


def test_a_fix_report_shows_the_verdict_each_rewrite_drawn_and_the_outputs_plotted(
    cli, tmp_path: Path, browser: Any
) -> None:
    model = hardswish_model()
    model.graph.node[1].name = "<img src=x onerror=alert(1)>"  # a hostile node name is text
    source = save_model(model, tmp_path / "hs.onnx")
    page = tmp_path / "report.html"
    result = cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "fixed.onnx", "--report", page)
    assert result.code == 0, result.stderr
    assert f"Report: {page}" in result.stderr
    text = shown(browser, page)
    assert f"opswap: {source} for snpe-2.7" in text
    assert "ILLEGAL for snpe-2.7: 2 nodes of 2 op types" in text  # before
    assert "hardswish_via_onnx_function > hardsigmoid_via_pointwise_conv" in text
    assert "hardsigmoid_via_pointwise_conv: vs ONNX Runtime: max 0 ULP" in text  # its certificate
    assert "<img src=x onerror=alert(1)>, before → after" in text
    assert "PASSED: max |Δ| / max |out| = 0" in text and f"Wrote {tmp_path / 'fixed.onnx'}" in text
    rewrites = drawn(browser, "svg.rewrite")
    assert len(rewrites) == 2 and all(e.size["height"] > 30 for e in rewrites)
    boxes = [t.text for t in rewrites[1].find_elements("css selector", "text")]
    assert boxes == ["HardSwish", "Conv", "Clip", "Mul"]  # before, then the nodes replacing it
    plots = drawn(browser, "svg.plot")
    assert len(plots) == 1 and "y: 384 values of the first input" in text
    assert len(plots[0].find_elements("css selector", "circle")) == 384
    html = page.read_text()
    assert "http" not in html.replace("http-equiv", "")  # nothing to fetch: no URL at all
    assert browser.execute_script("return document.images.length") == 0


def test_check_and_failed_fix_reports_say_what_is_wrong(cli, tmp_path: Path, browser: Any) -> None:
    model = make_model(
        [
            helper.make_node("HardSwish", ["x"], ["hs"], name="act"),
            helper.make_node("Erf", ["hs"], ["e"], name="erf"),
            helper.make_node("Relu", ["e"], ["y"], name="relu"),
        ],
        [tensor("x", [4, 64])],
        [tensor("y", [4, 64])],
    )
    source = save_model(model, tmp_path / "m.onnx")
    page = tmp_path / "check.html"
    result = cli("check", source, "-t", "snpe-2.7", "--report", page)
    assert result.code == 1
    text = shown(browser, page)
    assert "ILLEGAL for snpe-2.7: 1 nodes of 1 op types (HardSwish)" in text
    assert "HardSwish is not supported by snpe-2.7" in text and "act" in text

    profile = tmp_path / "t.toml"
    ops = ("Mul", "Add", "Sub", "Div", "Abs", "Sign", "Exp", "Relu", "HardSigmoid")
    profile.write_text('[target]\nname = "t"\nsource = "test"\n' + "".join(f"[ops.{op}]\n" for op in ops))
    page = tmp_path / "failed.html"
    args = ("-o", tmp_path / "f.onnx", "--allow-approx", "--rtol", "1e-12", "--report", page)
    result = cli("fix", source, "-t", profile, *args)
    assert result.code == 1
    text = shown(browser, page)
    assert "verification failed" in text and "Not written" in text
    assert "the first is 'e', computed by Erf 'erf' (erf_via_polynomial)" in text
    assert "approximate: erf_via_polynomial: A&S 7.1.26" in text
    assert "LEGAL for t; verification FAILED; not written: verification failed" in text  # the headline


def test_a_convert_report_shows_onnx_runtimes_partitions(cli, tmp_path: Path, browser: Any) -> None:
    source = save_model(hardswish_model(), tmp_path / "hs.onnx")
    page = tmp_path / "convert.html"
    result = cli("convert", source, "-t", "ort-nnapi", "-o", tmp_path / "c.onnx", "--report", page)
    assert result.code == 0, result.stderr
    text = shown(browser, page)
    assert "ONNX Runtime's partitions" in text
    assert "before NNAPI 1 2 of 4 NO" in text and "after NNAPI 1 4 of 4 YES" in text  # the EP's own counts
