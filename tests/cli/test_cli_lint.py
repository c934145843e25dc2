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
    assert result.exit_code == 2 and "error[GG1" in result.output
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


TOOLS = "spec t_tools version 1\ntool pay(amount: real)\ntool refund(amount: real)\n"
RULES = """spec t version 1
rule cap:
  on pay
  require amount <= 100
rule refund_cap:
  on refund
  require amount <= 50
"""


def test_type_error_exits_two_like_a_parse_error(runner: CliRunner, tmp_path: Path) -> None:
    typo = _write(tmp_path, "typo.spec", SPEC.format(cap='"5000"'))
    result = runner.invoke(app, ["lint", typo], env={"NO_COLOR": "1"})
    assert result.exit_code == 2 and "error[GG203]" in result.stdout
    result = runner.invoke(app, ["lint", "--format", "json", typo])
    assert result.exit_code == 2
    assert [d["code"] for d in json.loads(result.stdout)] == ["GG203"]


def test_files_are_linted_together_as_check_trace_loads_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    tools = _write(tmp_path, "tools.spec", TOOLS)
    rules = _write(tmp_path, "rules.spec", RULES)
    together = runner.invoke(app, ["lint", "--format", "json", tools, rules])
    assert together.exit_code == 0, together.output
    assert json.loads(together.stdout) == []  # the rules use every tool the other declares
    alone = runner.invoke(app, ["lint", "--format", "json", "--separate", tools, rules])
    assert alone.exit_code == 2  # rules.spec alone names undeclared tools
    found = json.loads(alone.stdout)
    unruled = {d["message"].split("`")[1] for d in found if d["code"] == "GG309"}
    assert unruled == {"pay", "refund"}
    assert {d["file"] for d in found if d["code"] == "GG202"} == {rules}


def test_combined_locations_name_the_files_as_given(runner: CliRunner, tmp_path: Path) -> None:
    tools = _write(tmp_path, "tools.spec", TOOLS)
    bad = _write(tmp_path, "bad.spec", BAD.replace("tool pay(amount: real)\n", ""))
    result = runner.invoke(app, ["lint", "--format", "json", tools, bad])
    assert result.exit_code == 1
    (finding,) = [d for d in json.loads(result.stdout) if d["code"] == "GG301"]
    assert finding["file"] == bad


def test_json_errors_are_json(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", "--format", "json", str(tmp_path / "nope.spec")])
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error["level"] == "error" and error["path"] == str(tmp_path / "nope.spec")
    result = runner.invoke(app, ["diff", "--format", "json", str(tmp_path / "a.spec"),
                                 str(tmp_path / "b.spec")])
    assert result.exit_code == 2 and json.loads(result.stderr)["level"] == "error"


def test_diff_escapes_control_characters(runner: CliRunner, tmp_path: Path) -> None:
    text = 'spec t version 1\ntool pay(to: str)\nrule r:\n  on pay\n  require to != "{}"\n'
    # A right-to-left override would make the witness read backwards on a terminal.
    old = _write(tmp_path, "old.spec", text.format("\\u202eabc"))
    new = _write(tmp_path, "new.spec", text.format("x"))
    result = runner.invoke(app, ["diff", old, new], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert "\u202e" not in result.stdout
    assert '"\\u202eabc"' in result.stdout
