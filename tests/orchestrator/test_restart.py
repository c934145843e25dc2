"""Exactly once across a process restart: one process runs a thread until an approval is
pending and exits; a fresh process (fresh guard, nothing shared but the SQLite files)
resumes it; a third replays every checkpoint. Each allowed call runs once, and the budget
spent before the restart still counts after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guardgraph.audit import open_log

HERE = Path(__file__).resolve().parent


def _run(folder: Path, phase: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{HERE}{os.pathsep}{env.get('PYTHONPATH', '')}"
    proc = subprocess.run([sys.executable, str(HERE / "_restart_child.py"), str(folder), phase],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_each_call_runs_once_across_restart_resume_and_replay(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    _run(tmp_path, "start")
    assert effects.read_text().splitlines() == ["GB29NWBK60161331926819 4000.0"]
    _run(tmp_path, "resume")  # a new process: a2 approved, then a3 over the budget
    lines = effects.read_text().splitlines()
    assert sorted(lines) == ["GB29NWBK60161331926819 4000.0", "NL91ABNA0417164300 5000.0"]
    _run(tmp_path, "replay")
    assert sorted(effects.read_text().splitlines()) == sorted(lines)
    with open_log(tmp_path / "audit.db") as log:
        records = list(log.store.iter_records())
        assert log.verify().records == len(records)
    a3 = [r for r in records if r.kind == "verdict" and r.payload["call_id"] == "a3"]
    # 4000 + 5000 spent before and after the restart: 3000 more breaks the daily budget.
    assert [r.decision for r in a3] == ["deny"] and a3[0].rule_ids == ("daily_budget",)
    executed = [r.payload["call_id"] for r in records if r.kind == "action_executed"]
    assert sorted(executed) == ["a1", "a2"]
