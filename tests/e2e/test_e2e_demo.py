"""`guardgraph demo`, the README's first command, end to end as a subprocess: the bank's
agents as a guarded LangGraph graph (attacks stopped, escalations answered, audit log
verified), then the trace replay of the example specs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("guardgraph")


def _demo(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "demo", "--out", str(tmp_path / "out"), *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False, stdin=subprocess.DEVNULL,
                          env={"PATH": str(CLI.parent), "NO_COLOR": "1", "COLUMNS": "80"})


def test_demo_runs_the_guarded_graph_then_replays_and_verifies(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    # Part 1: the orchestrated bank.
    assert out.startswith("== bank: ")
    stopped = re.search(r"attacks: (\d+) of (\d+) stopped; without the guard, (\d+) succeed",
                        out)
    assert stopped, out
    assert stopped.group(1) == stopped.group(2) and int(stopped.group(2)) >= 4
    assert int(stopped.group(3)) >= 1  # the naive specialists do fall for them unguarded
    assert "no_injected_recipient" in out and "rejected by ops-oncall" in out
    assert "approved by ops-oncall" in out and "daily_budget" in out
    table = out.split("why (")[0].splitlines()
    assert all(len(line) <= 80 for line in table)
    # Part 2: the trace replay.
    assert out.count("lint: clean") >= 2
    lines = out.splitlines()
    over_cap = next(
        i for i, line in enumerate(lines) if "over-cap" in line and "send_money" in line
    )
    assert "repair" in lines[over_cap] and '{"amount": 5000}' in lines[over_cap + 1]
    poisoned = next(line for line in lines if "poisoned-runbook" in line and " c2 " in line)
    assert "escalate" in poisoned and "no_injected_commands" in poisoned
    assert "signed checkpoint(s) verified" in out
    db = tmp_path / "out" / "audit.db"
    assert f"next: guardgraph audit verify {db}" in out
    assert f"guardgraph audit report {db} --out " in out

    verify = subprocess.run([str(CLI), "audit", "verify", str(db)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("ok: ")


def test_interactive_without_a_terminal_never_waits(tmp_path: Path) -> None:
    rules = tmp_path / "approvals.json"
    rules.write_text(json.dumps({"approver": "dana", "answers": [
        {"rules": ["new_payee_needs_approval"], "approved": False, "reason": "not today"}]}))
    proc = _demo(tmp_path, "--interactive", "--approvals", str(rules), "--limit", "16")
    assert proc.returncode == 0, proc.stderr
    assert "--interactive needs a terminal" in proc.stderr
    assert "rejected by dana: not today" in proc.stdout
    assert "approved by" not in proc.stdout


def test_demo_names_a_missing_examples_folder(tmp_path: Path) -> None:
    proc = subprocess.run([str(CLI), "demo", "--examples", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no examples folder found")
    assert "Traceback" not in proc.stderr


def test_demo_names_a_malformed_approvals_file(tmp_path: Path) -> None:
    bad = tmp_path / "approvals.json"
    bad.write_text('{"approver": "dana", "answers": [{"rules": "x"}]}')
    proc = _demo(tmp_path, "--approvals", str(bad))
    assert proc.returncode == 2
    assert "answers[0]" in proc.stderr and "Traceback" not in proc.stderr
