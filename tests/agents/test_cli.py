"""`guardgraph train` and `guardgraph eval` end to end on the bank domain (small budgets),
and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from guardgraph.cli import app

SUMMARY_KEYS = {"success_rate", "train_violations", "attempted_violations_unshielded",
                "env_steps", "wall_s", "model_sha256"}


@pytest.mark.slow
def test_train_then_eval_smoke(tmp_path: Path) -> None:
    ckpt = tmp_path / "policy.pt"
    runner = CliRunner()
    out = runner.invoke(app, ["train", "--total-timesteps", "1024", "--format", "json",
                              "--checkpoint", str(ckpt)])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    summary = lines[-1]
    assert set(summary) >= SUMMARY_KEYS
    assert summary["train_violations"] == 0
    assert summary["eval_executed_violations"] == 0
    assert summary["env_steps"] == 1024
    assert all(line["kind"] == "iteration" for line in lines[:-1])
    assert ckpt.is_file()

    again = runner.invoke(app, ["eval", str(ckpt), "--format", "json"])
    assert again.exit_code == 0, again.output
    ev = json.loads(again.stdout.splitlines()[-1])
    assert ev["model_sha256"] == summary["model_sha256"]
    assert ev["success_rate"] == summary["success_rate"]

    resumed = runner.invoke(app, ["train", "--total-timesteps", "1536", "--format", "json",
                                  "--resume", str(ckpt), "--checkpoint", str(ckpt)])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout.splitlines()[-1])["env_steps"] == 1536


def test_unknown_domain_is_exit_2() -> None:
    out = CliRunner().invoke(app, ["train", "--domain", "no-such-domain"])
    assert out.exit_code == 2
    assert "cannot load domain" in out.output


def test_unknown_variant_is_exit_2() -> None:
    out = CliRunner().invoke(app, ["train", "--variant", "fast", "--format", "json"])
    assert out.exit_code == 2
    assert json.loads(out.output.splitlines()[-1])["level"] == "error"


def test_eval_of_a_missing_checkpoint_is_exit_2(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["eval", str(tmp_path / "none.pt")])
    assert out.exit_code == 2
    assert "no such checkpoint" in out.output


def test_the_cli_starts_without_torch() -> None:
    code = ("import sys; import guardgraph.cli; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_without_the_learn_extra_train_and_eval_say_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    runner = CliRunner()
    out = runner.invoke(app, ["train", "--format", "json"])
    assert out.exit_code == 2
    error = json.loads(out.stderr)
    assert "torch" in error["message"] and "[learn]" in error["hint"]
    out = runner.invoke(app, ["eval", str(tmp_path / "p.pt")])
    assert out.exit_code == 2 and "Traceback" not in out.output
