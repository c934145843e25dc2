"""`guardgraph lint` / `guardgraph diff` as a user runs them: exit codes and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPEC = """spec t version 1
tool pay(amount: real)
rule cap:
  on pay
  require amount <= {cap}
"""
BAD = """spec t version 1
tool pay(amount: real)
rule cap:
  on pay
  when amount > 10
  require amount <= 5
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_clean_spec_exits_zero(runner: CliRunner) -> None:
    result = runner.invoke(app, ["lint", str(EXAMPLES / "banking" / "banking.spec")])
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_errors_exit_one_and_warnings_only_with_strict(runner: CliRunner, tmp_path: Path) -> None:
    warn = _write(tmp_path, "w.spec", SPEC.format(cap=5) + "fact unused: bool\n")
    assert runner.invoke(app, ["lint", warn]).exit_code == 0
    assert runner.invoke(app, ["lint", "--strict", warn]).exit_code == 1
    bad = _write(tmp_path, "e.spec", BAD)
    result = runner.invoke(app, ["lint", bad], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert "error[GG301]" in result.output and "witness: pay(amount=" in result.output
    assert "\x1b[" not in result.output


def test_json_format(runner: CliRunner, tmp_path: Path) -> None:
    bad = _write(tmp_path, "e.spec", BAD)
    result = runner.invoke(app, ["lint", "--format", "json", bad])
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)
    assert finding["code"] == "GG301" and finding["severity"] == "error"
    assert finding["file"] == bad and finding["line"] == 3
    assert finding["data"]["rules"] == ["cap"]
    assert finding["data"]["witness"]["args"]["amount"] > 10


def test_syntax_errors_are_reported_with_the_same_renderer(
    runner: CliRunner, tmp_path: Path
) -> None:
    broken = _write(tmp_path, "b.spec", "spec t version 1\nrule :\n")
    result = runner.invoke(app, ["lint", "--format", "concise", broken])
    assert result.exit_code == 1 and "error[GG1" in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_two(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", str(tmp_path / "nope.spec")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_diff_exit_codes_and_json(runner: CliRunner, tmp_path: Path) -> None:
    old = _write(tmp_path, "old.spec", SPEC.format(cap=100))
    same = _write(tmp_path, "same.spec", SPEC.format(cap="100.0"))
    wider = _write(tmp_path, "new.spec", SPEC.format(cap=200))
    assert runner.invoke(app, ["diff", old, same]).exit_code == 0
    result = runner.invoke(app, ["diff", "--format", "json", old, wider])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    pay = next(t for t in data["tools"] if t["tool"] == "pay")
    assert pay["status"] == "widens" and pay["newly_allowed"]
    broken = _write(tmp_path, "b.spec", "spec t version 1\nrule :\n")
    assert runner.invoke(app, ["diff", old, broken]).exit_code == 2
