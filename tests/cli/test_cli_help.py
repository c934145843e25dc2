"""`guardgraph --help` and `--version`: words for values, one spelling of each option."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main
from typer.core import TyperOption
from typer.testing import CliRunner

import guardgraph
from guardgraph.cli import app

runner = CliRunner()


def _commands() -> list[tuple[list[str], Any]]:
    """Every verb of the app (those other modules register included), with its path."""
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        subs = getattr(command, "commands", {})
        if not subs:
            found.append((path, command))
        for name, sub in subs.items():
            walk([*path, name], sub)

    walk([], typer.main.get_command(app))
    return found


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"guardgraph {guardgraph.__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "guardgraph.cli", "--version"],
                          capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (0, f"guardgraph {guardgraph.__version__}\n")


def test_help_shows_no_python_types() -> None:
    commands = _commands()
    assert len(commands) >= 10
    for path, _ in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, (path, result.output)
        for bad in (r"<[A-Za-z_][\w\[\], .|]*>", r"\blist\[", r"\bPath\b", r"\bint range\b",
                    r"\bstr\b"):
            assert not re.search(bad, result.stdout), (path, bad, result.stdout)


def test_one_spelling_per_option_across_verbs() -> None:
    # The same idea has one name everywhere: --format for the output form, --out (-o)
    # for the file or folder written.
    options = 0
    for path, command in _commands():
        for param in command.params:
            if not isinstance(param, TyperOption):
                continue
            names = set(param.opts) | set(param.secondary_opts)
            assert not names & {"--output", "--output-format", "--fmt", "-f"}, (path, names)
            options += 1
            if "-o" in names:
                assert "--out" in names, (path, names)
    assert options >= 30


_BOOM = """
import sys
import guardgraph.cli as cli

@cli.app.command("boom")
def boom(format: str = "text") -> None:
    raise RuntimeError("kaput")

sys.argv = ["guardgraph", "boom", *sys.argv[1:]]
cli.main()
"""


def test_an_internal_error_is_one_message_and_exit_70() -> None:
    proc = subprocess.run([sys.executable, "-c", _BOOM], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 70
    assert proc.stderr == ("error: internal error: RuntimeError: kaput\n"
                           "hint: this is a bug in guardgraph; please report it\n")
    proc = subprocess.run([sys.executable, "-c", _BOOM, "--format", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 70
    assert json.loads(proc.stderr) == {
        "level": "error", "message": "internal error: RuntimeError: kaput",
        "hint": "this is a bug in guardgraph; please report it"}


def test_every_verb_with_format_json_reports_errors_as_json(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    cases = [["lint", missing], ["fmt", missing], ["diff", missing, missing],
             ["check-trace", "--spec", missing, missing], ["audit", "verify", missing]]
    for args in cases:
        result = runner.invoke(app, [*args, "--format", "json"])
        assert result.exit_code == 2, (args, result.output)
        error = json.loads(result.stderr)
        assert error["level"] == "error" and "missing" in error["message"], args
        text = runner.invoke(app, args)
        assert text.stderr.startswith("error: "), (args, text.stderr)
