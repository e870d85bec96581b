"""The listing commands and the CLI's own contract."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import helper

from conftest import hardswish_model, make_model, run_cli, save_model, tensor


def test_help_lists_the_commands(cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("check", "fix", "verify", "export", "targets", "rules"):
        assert command in result.stdout


def test_targets_lists_shipped_profiles_with_sources(cli) -> None:
    result = cli("targets", "--format", "json")
    assert result.code == 0
    targets = {t["name"]: t for t in result.json()["targets"]}
    assert {"snpe-2.7", "qairt-2.25"} <= set(targets)
    assert "SNPE 2.5.0" in targets["snpe-2.7"]["source"]
    assert "HardSwish" not in targets["snpe-2.7"]["ops"]
    assert targets["qairt-2.25"]["ops"]["HardSwish"]["opsets"] == [14]
    text = cli("targets", env={"COLUMNS": "80"})
    assert "snpe-2.7" in text.stdout and "qairt-2.25" in text.stdout
    # One entry per profile, readable at 80 columns: name, op count and converter on one line.
    lines = text.stdout.splitlines()
    for name, entry in targets.items():
        assert any(line.split()[:3] == [name, str(len(entry["ops"])), "ops"] for line in lines if line.strip())
    assert "ONNX Runtime CoreML MLProgram execution provider" in text.stdout


def test_targets_show(cli) -> None:
    result = cli("targets", "show", "snpe-2.7")
    assert result.code == 0
    assert "Gemm" in result.stdout and "transA in [0]" in result.stdout
    assert cli("targets", "show", "nope").code == 2


def test_rules_lists_each_rule_with_what_it_produces(cli) -> None:
    result = cli("rules", "--format", "json")
    assert result.code == 0
    rules = {r["id"]: r for r in result.json()["rules"]}
    assert rules["hardsigmoid_via_clip"]["produces"] == ["Add", "Clip", "Mul"]
    assert rules["hardsigmoid_via_onnx_function"]["produces"] == ["Add", "Max", "Min", "Mul"]
    assert rules["hardswish_via_onnx_function"]["produces"] == ["HardSigmoid", "Mul"]
    # Every rule is exact or states its bound.
    assert all(r["exact"] or r["bound"] for r in rules.values())
    assert len({r["op_type"] for r in rules.values()}) >= 60
    assert rules["constant_as_initializer"]["produces"] == []  # no node: an initializer
    lines = cli("rules", env={"COLUMNS": "80"}).stdout.splitlines()
    at = next(k for k, line in enumerate(lines) if "constant_as_initializer" in line)
    assert lines[at + 1].strip() == "emits (an initializer)"
    # Readable at 80 columns: one block per rule, never a table squeezed to ┃┃┃.
    line = next(line for line in lines if " erf_via_polynomial " in line)
    assert line.startswith("Erf") and "approximate: A&S 7.1.26" in line and line.endswith("ULP vs ORT")
    assert "┃" not in "".join(lines)


def test_rules_filter_by_op_rule_and_target(cli) -> None:
    """Issue 15, point 7: comma lists or repeats, the same spelling as everywhere else."""
    both = cli("rules", "--op", "HardSwish,Erf", "-f", "json").json()["rules"]
    assert {r["op_type"] for r in both} == {"HardSwish", "Erf"}
    assert cli("rules", "--op", "HardSwish", "--op", "Erf", "-f", "json").json()["rules"] == both
    picked = cli("rules", "--rule", "erf_via_polynomial,abs_via_max", "-f", "json").json()["rules"]
    assert [r["id"] for r in picked] == ["abs_via_max", "erf_via_polynomial"]
    import opswap

    snpe = opswap.load_target("snpe-2.7")
    lacking = cli("rules", "-t", "snpe-2.7", "-f", "json").json()["rules"]
    assert lacking and all((r["domain"], r["op_type"]) not in snpe.ops for r in lacking)
    assert {"hardswish_via_onnx_function", "hardsigmoid_via_pointwise_conv"} <= {r["id"] for r in lacking}
    none = cli("rules", "--op", "NoSuchOp")
    assert none.code == 2 and "no rule matches" in none.stderr


def test_verify_json(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    fixed = tmp_path / "f.onnx"
    assert cli("fix", model, "--target", "snpe-2.7", "-o", fixed, "--no-verify").code == 0
    result = cli("verify", model, fixed, "--samples", "3", "--format", "json")
    assert result.code == 0
    report = result.json()
    assert report["samples"] == 3 and report["passed"] is True
    assert set(report) >= {"max_abs", "max_rel", "cosine", "top1_agreement", "passed"}


def test_check_json_on_legal_model(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    result = cli("check", model, "--target", "qairt-2.25", "--format", "json")
    assert result.code == 0
    assert result.json()["legal"] is True and result.json()["illegal"] == []


def test_fix_of_a_legal_model_says_so_and_writes_it_unchanged(cli, tmp_path: Path) -> None:
    model = save_model(hardswish_model(), tmp_path / "m.onnx")
    fixed = tmp_path / "f.onnx"
    result = cli("fix", model, "--target", "qairt-2.25", "-o", fixed, "--no-convert")
    assert result.code == 0, result.stderr
    assert "nothing illegal" in result.stdout and "LEGAL for qairt-2.25 as it is" in result.stdout
    assert "Rewrites" not in result.stdout
    assert onnx.load(str(fixed)).graph == onnx.load(str(model)).graph


def test_piped_output_is_never_wrapped(cli, tmp_path: Path) -> None:
    """In a log, the converter command and the verdict lines stay whole at any width (issue 15, point 1)."""
    source = save_model(hardswish_model(), tmp_path / "a-rather-long-model-file-name-for-wrapping.onnx")
    result = cli("fix", source, "--target", "snpe-2.7", "-o", tmp_path / "fixed.onnx", env={"COLUMNS": "60"})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    command = next(line for line in lines if line.strip().startswith("snpe-onnx-to-dlc --input_network"))
    assert str(tmp_path / "fixed.onnx") in command and command.strip().endswith("fixed.dlc")
    assert any(line.startswith(f"{source} against snpe-2.7:") and "illegal" in line for line in lines)


def test_fix_of_a_legal_model_writes_it_without_comparing_it_with_itself(tmp_path: Path) -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 4])], [tensor("y", [1, 4])])
    source = save_model(model, tmp_path / "m.onnx")
    done = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "out.onnx", "--format", "json")
    assert done.code == 0, done.stderr
    data = done.json()
    assert data["unchanged"] and data["verification"] is None and data["ok"]
    assert onnx.load(tmp_path / "out.onnx").graph.node[0].op_type == "Relu"
    text = run_cli("fix", source, "-t", "snpe-2.7", "-o", tmp_path / "out2.onnx")
    assert "Nothing changed, so nothing to verify" in text.stdout and "PASSED" not in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["chekc"],
        ["targets"],
        ["targets", "show", "snpe-2.7"],
        ["fix"],
        ["rules"],
        ["rules", "-t", "tflite"],
    ],
)
def test_help_usage_errors_and_targets_import_no_heavy_module(args: list[str]) -> None:
    """Startup (issue 15): --help, a mistyped command, a missing argument, `targets` and `rules` load no onnx."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"sys.argv = ['opswap', *{args!r}]\n"
        "from opswap.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'numpy') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    line = next(x for x in done.stderr.splitlines() if x.startswith("HEAVY="))
    assert line == "HEAVY=", f"{args}: {line}"


def test_check_many_models_and_targets_prints_a_matrix(tmp_path: Path) -> None:
    """Issue 15: several targets (repeated or a comma list) and models (paths, a folder, a glob)."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    relu = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 4])], [tensor("y", [1, 4])])
    save_model(relu, zoo / "relu.onnx")
    save_model(hardswish_model(), zoo / "hardswish.onnx")
    erf = make_model([helper.make_node("Erf", ["x"], ["y"])], [tensor("x", [1, 4])], [tensor("y", [1, 4])])
    save_model(erf, zoo / "erf.onnx")
    bare = tmp_path / "bare.toml"
    bare.write_text('[target]\nname = "bare"\nsource = "test"\n[ops.Relu]\n[ops.Mul]\n[ops.Add]\n[ops.Clip]\n')

    done = run_cli("check", zoo, "-t", "snpe-2.7,tflite", "-t", bare, "--format", "json")
    assert done.code == 1, done.stderr
    data = done.json()
    assert data["targets"] == ["snpe-2.7", "tflite", "bare"] and not data["all_legal"]
    cells = {(Path(c["model"]).name, c["target"]): c for c in data["cells"]}
    assert len(cells) == 9
    assert cells["relu.onnx", "bare"]["verdict"] == "legal"
    assert cells["hardswish.onnx", "snpe-2.7"]["verdict"] == "fixable"
    assert cells["hardswish.onnx", "bare"]["verdict"] == "fixable"  # Clip, Mul, Add are enough
    assert cells["erf.onnx", "bare"]["verdict"] == "no_route" and cells["erf.onnx", "bare"]["unresolved"] == ["Erf"]
    text = run_cli("check", str(zoo / "*.onnx"), "-t", bare)
    assert text.code == 1 and "no route: Erf" in text.stdout and "3 pairs" in text.stdout
    legal = run_cli("check", zoo / "relu.onnx", zoo / "relu.onnx", "-t", "tflite", "-t", "snpe-2.7")
    assert legal.code == 0, legal.stdout + legal.stderr  # a model given twice is judged once
    assert "2 pairs: 2 legal" in legal.stdout


def test_warnings_and_caveats_are_summed_up_per_kind_with_advice_and_listed_per_level(cli, tmp_path: Path) -> None:
    """Issue 15, point 6: one line per kind with what to do; -v lists the warnings, -vv the caveats too."""
    model = make_model(
        [
            helper.make_node("Mul", ["x", "x"], ["m"], name="square"),
            helper.make_node("Erf", ["m"], ["e"], name="erf"),
            helper.make_node("Relu", ["e"], ["y"], name="relu"),
        ],
        [tensor("x", [1, 4])],
        [tensor("y", [1, 4])],
        opset=14,
    )
    source = save_model(model, tmp_path / "m.onnx")
    plain = cli("check", source, "-t", "snpe-2.7")
    assert plain.code == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert "2 nodes with warnings (-v lists them):" in lines  # Mul-14 and Relu-14 are versions snpe lists not
    version = next(line for line in lines if "version warnings" in line)
    assert "Mul × 1" in version and "Relu × 1" in version
    assert version.endswith("fix --lower-opset auto lowers the model to opset 12: 2 of 2 version warnings go")
    assert "1 node with caveats (-vv lists them):" in lines
    assert any("under the profile's notes (Erf × 1)" in line for line in lines)
    assert "square" not in plain.stdout and "Only certain cases" not in plain.stdout

    one = cli("check", source, "-t", "snpe-2.7", "-v").stdout
    assert "Warnings — the converter warns and goes on" in one and "square" in one
    assert "1 node with caveats (-vv lists them):" in one and "Only certain cases" not in one
    two = cli("check", source, "-t", "snpe-2.7", "-vv").stdout
    assert "Caveats — conditions the profile states" in two and "Only certain cases" in two and "erf" in two


@pytest.mark.parametrize("command", ["check", "fix", "convert", "verify", "export", "rules", "probe"])
def test_help_shows_what_a_flag_takes_not_python_types(cli, command: str) -> None:
    """Issue 15, point 7: a plain flag shows no <bool>, a list option its form (NAME=D1,D2,...)."""
    result = cli(command, "--help", env={"COLUMNS": "160"})
    assert result.code == 0, result.stderr
    assert "<bool>" not in result.stdout and "<list[str]>" not in result.stdout
    if command in ("fix", "check", "convert", "verify"):
        assert "NAME=D1,D2,..." in result.stdout


def test_the_shipped_rule_catalogue_is_the_live_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rules` reads rules/catalogue.json (no onnx import); it must list what the registry holds."""
    from opswap import catalogue

    assert catalogue.CATALOGUE.read_text(encoding="utf-8") == catalogue.text(), "run: python scripts/rule_catalogue.py"
    assert catalogue.rows() == catalogue.live_rows()
    # Built with another onnx (other function bodies, other rules): the live registry is read instead.
    monkeypatch.setattr(catalogue.metadata, "version", lambda name: "0.0.0")
    calls = []
    monkeypatch.setattr(catalogue, "live_rows", lambda: calls.append(1) or [])
    assert catalogue.rows() == [] and calls == [1]


def test_a_report_path_is_guarded_like_the_output(cli, tmp_path: Path) -> None:
    """--report (issue 15, point 10) never writes over what was read: the model, its external data (also
    through a link), the weights or inputs, nor the output model; checked before any work."""
    import numpy as np
    from onnx import numpy_helper

    source = save_model(hardswish_model(), tmp_path / "hs.onnx")
    inputs = tmp_path / "in.html"
    np.savez(tmp_path / "in.npz", x=np.zeros((2, 3, 8, 8), np.float32))
    (tmp_path / "in.npz").rename(inputs)
    as_html = save_model(hardswish_model(), tmp_path / "model.html")
    weights = make_model(
        [helper.make_node("Mul", ["x", "w"], ["y"])],
        [tensor("x", [4, 64])],
        [tensor("y", [4, 64])],
        initializers=[numpy_helper.from_array(np.ones([4, 64], np.float32), "w")],
    )
    external = tmp_path / "ext.onnx"
    onnx.save(weights, str(external), save_as_external_data=True, location="w.html", size_threshold=0)
    (tmp_path / "link.html").symlink_to(tmp_path / "w.html")
    cases = [
        (source, ("--report", tmp_path / "r.txt"), "name it .html"),
        (source, ("--report", tmp_path / "missing" / "r.html"), "does not exist"),
        (source, ("-o", tmp_path / "fixed.html", "--report", tmp_path / "fixed.html"), "the output model"),
        (as_html, ("--report", as_html), "the input file"),
        (source, ("--inputs", inputs, "--report", inputs), "the --inputs file"),
        (external, ("--report", tmp_path / "w.html"), "external data file"),
        (external, ("--report", tmp_path / "link.html"), "external data file"),
    ]
    for model, args, message in cases:
        before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        options = ("-o", tmp_path / "out.onnx", *args) if "-o" not in args else args
        result = cli("fix", model, "-t", "snpe-2.7", *options)
        assert result.code == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
        assert not (tmp_path / "out.onnx").exists()
    check = cli("check", external, "-t", "snpe-2.7", "--report", tmp_path / "w.html")
    assert check.code == 2 and "external data file" in check.stderr
