"""`guardgraph check-trace`: verdict lines, table format, errors with line numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.cli import app

DATA = Path(__file__).parent.parent / "guardrails" / "data"
SPEC = str(DATA / "bank.spec")
FACTS = str(DATA / "bank_facts.json")
TRACE = str(DATA / "bank_trace.jsonl")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["check-trace", *args])
    return result.exit_code, result.stdout, result.stderr


def test_verdict_lines_match_design() -> None:
    code, out, _ = run("--spec", SPEC, "--facts", FACTS, TRACE)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["session"], r["call_id"], r["decision"]) for r in rows] == [
        ("s1", "c1", "allow"), ("s1", "c2", "allow"), ("s1", "c3", "allow"),
        ("s1", "c4", "repair"), ("s1", "c5", "deny"),
        ("s2", "c1", "allow"), ("s2", "c2", "allow"), ("s2", "c3", "deny"),
        ("s2", "c4", "deny"),
    ]
    for r in rows:
        assert list(r) == ["session", "call_id", "tool", "decision", "rules", "message",
                           "repair"]
    assert rows[3]["repair"] == {"amount": 5000}
    assert rows[4]["rules"] == ["daily_budget"]
    assert "6100" in rows[4]["message"]  # 1100 + the repaired 5000 were executed
    assert rows[7]["rules"] == ["no_injected_recipient"]


def test_denied_call_is_not_executed(tmp_path: Path) -> None:
    line = {"session": "d", "context": {"now": "2026-05-01T10:00:00Z"}, "events": [
        {"kind": "tool_call", "id": "v", "agent": "payments", "tool": "verify_identity",
         "args": {"method": "otp"}},
        {"kind": "tool_call", "id": "x", "agent": "support", "tool": "send_money",
         "args": {"recipient": "GB29NWBK60161331926819", "amount": 5000, "subject": "a"}},
        {"kind": "tool_call", "id": "y", "agent": "payments", "tool": "send_money",
         "args": {"recipient": "GB29NWBK60161331926819", "amount": 5000, "subject": "a"}},
        {"kind": "tool_call", "id": "z", "agent": "payments", "tool": "send_money",
         "args": {"recipient": "GB29NWBK60161331926819", "amount": 5000, "subject": "a"}},
    ]}
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps(line) + "\n")
    code, out, _ = run("--spec", SPEC, "--facts", FACTS, str(trace))
    assert code == 0
    assert [json.loads(x)["decision"] for x in out.splitlines()] == [
        "allow", "deny", "allow", "allow"]


def test_table_format() -> None:
    code, out, _ = run("--spec", SPEC, "--facts", FACTS, "--format", "table", TRACE)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["SESSION", "CALL", "TOOL", "DECISION"]
    assert any("repair" in x and "single_transfer_cap" in x for x in lines)


def test_malformed_line_names_the_line(tmp_path: Path) -> None:
    good = Path(TRACE).read_text().splitlines()[0]
    trace = tmp_path / "t.jsonl"
    trace.write_text(good + "\n\n{not json\n")
    code, out, err = run("--spec", SPEC, "--facts", FACTS, str(trace))
    assert code == 2
    assert f"GG410: {trace}:3:" in err and "Traceback" not in err
    assert len(out.splitlines()) == 5  # the first session was still reported


def test_wrong_shape_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"session": "s", "events": [{"kind": "tool_call", "tool": "x"}]}\n')
    code, _, err = run("--spec", SPEC, str(trace))
    assert code == 2 and ":1:" in err and "id" in err


def test_bad_spec_exits_2_with_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.spec"
    bad.write_text("spec bad version 1\nrule r:\n  on nowhere\n  require true\n")
    code, _, err = run("--spec", str(bad), TRACE)
    assert code == 2 and "GG" in err and "did not load" in err


def test_bad_facts(tmp_path: Path) -> None:
    facts = tmp_path / "f.json"
    facts.write_text("[1, 2]")
    code, _, err = run("--spec", SPEC, "--facts", str(facts), TRACE)
    assert code == 2 and "GG411" in err
    facts.write_text('{"unknown_fact": 1}')
    code, _, err = run("--spec", SPEC, "--facts", str(facts), TRACE)
    assert code == 2 and "GG411" in err


def test_missing_trace_file() -> None:
    code, _, err = run("--spec", SPEC, "/nonexistent/trace.jsonl")
    assert code == 2 and "error:" in err


def test_streams_from_stdin_through_the_real_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from guardgraph.cli import main; main()", "check-trace",
         "--spec", SPEC, "--facts", FACTS, "-"],
        input=Path(TRACE).read_text(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 9


_RSS = """
import resource, sys
from guardgraph.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    sys.stderr.write(f"maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def _max_rss_kb(trace: Path) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _RSS, "check-trace", "--spec", SPEC, "--facts", FACTS,
         str(trace)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.rsplit("maxrss=", 1)[1])


@pytest.mark.slow
def test_memory_is_flat_in_the_trace_length(tmp_path: Path) -> None:
    template = Path(TRACE).read_text().splitlines()
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    for path, sessions in ((small, 300), (large, 4000)):
        with path.open("w") as out:
            for i in range(sessions):
                line = json.loads(template[i % 2])
                line["session"] = f"s{i}"
                out.write(json.dumps(line) + "\n")
    grown = _max_rss_kb(large) - _max_rss_kb(small)
    # 13x the sessions; per-session state is dropped after its line, so memory stays put
    assert grown < 8_000, f"max RSS grew by {grown} KiB"
