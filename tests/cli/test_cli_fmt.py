"""`guardgraph fmt`: stdout/stderr split, --write, --check, --format json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.cli import app

MESSY = "spec t version 1\nrule r: on f require a>1 and(b<2)\n"
CANONICAL = "spec t version 1\n\nrule r:\n  on f\n  require a > 1 and b < 2\n"
BROKEN = "spec t version 1\nrule r: on f require a < b < c\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "messy.spec"
    path.write_text(MESSY)
    return path


def test_prints_the_formatted_spec(runner: CliRunner, messy: Path) -> None:
    result = runner.invoke(app, ["fmt", str(messy)])
    assert result.exit_code == 0
    assert result.stdout == CANONICAL
    assert messy.read_text() == MESSY  # untouched without --write


def test_write_rewrites_in_place_then_check_passes(runner: CliRunner, messy: Path) -> None:
    result = runner.invoke(app, ["fmt", "--write", str(messy)])
    assert result.exit_code == 0
    assert messy.read_text() == CANONICAL
    assert "reformatted" in result.stderr
    assert result.stdout == ""
    again = runner.invoke(app, ["fmt", "--check", str(messy)])
    assert again.exit_code == 0
    assert again.stdout == ""
    assert "1 file already formatted" in again.stderr


def test_check_lists_files_that_would_change(
    runner: CliRunner, messy: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.spec"
    clean.write_text(CANONICAL)
    result = runner.invoke(app, ["fmt", "--check", str(messy), str(clean)])
    assert result.exit_code == 1
    assert result.stdout == f"would reformat: {messy}\n"
    assert messy.read_text() == MESSY


def test_syntax_errors_go_to_stderr_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.spec"
    bad.write_text(BROKEN)
    result = runner.invoke(app, ["fmt", str(bad)], env={"NO_COLOR": "1"})
    assert result.exit_code == 2  # bad input, as the README's exit-code table says
    assert result.stdout == ""
    assert "error[GG101]: unexpected `<`" in result.stderr
    assert f" --> {bad}:2:28" in result.stderr
    assert "\x1b[" not in result.stderr
    assert "Traceback" not in result.output


def test_json_output(runner: CliRunner, messy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.spec"
    bad.write_text(BROKEN)
    result = runner.invoke(app, ["fmt", "--format", "json", str(messy), str(bad)])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["files"] == [
        {"path": str(messy), "status": "changed", "formatted": CANONICAL},
        {"path": str(bad), "status": "error"},
    ]
    (diag,) = payload["diagnostics"]
    assert (diag["code"], diag["name"], diag["line"], diag["column"]) == (
        "GG101",
        "unexpected-token",
        2,
        28,
    )


def test_missing_file_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["fmt", str(tmp_path / "nope.spec")])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_not_utf8_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "latin1.spec"
    path.write_bytes(b'spec t version 1\nconst a = "\xe9"\n')
    result = runner.invoke(app, ["fmt", str(path)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_write_and_check_together_are_refused(runner: CliRunner, messy: Path) -> None:
    result = runner.invoke(app, ["fmt", "--write", "--check", str(messy)])
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr


def test_stdin(runner: CliRunner) -> None:
    result = runner.invoke(app, ["fmt", "-"], input=MESSY)
    assert result.exit_code == 0
    assert result.stdout == CANONICAL


def test_json_errors_are_json(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["fmt", "--format", "json", str(tmp_path / "nope.spec")])
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error["level"] == "error" and "no such file" in error["message"]
    assert error["path"] == str(tmp_path / "nope.spec")
