"""`guardgraph demo`, the README's first command, end to end as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("guardgraph")


def test_demo_lints_guards_audits_and_verifies(tmp_path: Path) -> None:
    proc = subprocess.run([str(CLI), "demo", "--out", str(tmp_path / "out")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert out.count("lint: clean") == 2
    lines = out.splitlines()
    over_cap = next(
        i for i, line in enumerate(lines) if "over-cap" in line and "send_money" in line
    )
    assert "repair" in lines[over_cap] and '{"amount": 5000}' in lines[over_cap + 1]
    injected = next(line for line in lines if "injected-invoice" in line and "send_money" in line)
    assert "escalate" in injected and "no_injected_recipient" in injected
    poisoned = next(line for line in lines if "poisoned-runbook" in line and " c2 " in line)
    assert "escalate" in poisoned and "no_injected_commands" in poisoned
    assert "signed checkpoint(s) verified" in out

    db = tmp_path / "out" / "audit.db"
    verify = subprocess.run([str(CLI), "audit", "verify", str(db)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("ok: ")


def test_demo_names_a_missing_examples_folder(tmp_path: Path) -> None:
    proc = subprocess.run([str(CLI), "demo", "--examples", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no examples folder found")
    assert "Traceback" not in proc.stderr
