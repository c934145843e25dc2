"""Start-up of the `guardgraph` command: a verb loads only what it needs.

Each check runs in a fresh interpreter, so modules other tests imported do not count.
(How fast the command starts is measured by benchmarks, not asserted here.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.cli import app

TINY = "spec a version 1\ntool t(x: int)\nrule r:\n  on t\n  require x > 1\n"

# Never loaded by `import guardgraph.cli`, by building the commands, nor by lint or fmt.
HEAVY = ("guardgraph.audit", "opentelemetry", "structlog", "torch", "langgraph")

COMMANDS = ("fmt", "lint", "diff", "check-trace", "demo", "explain", "audit")
AUDIT_COMMANDS = ("verify", "prove", "check-proof", "checkpoint", "query", "trace", "report",
                  "generate")


def _loaded(body: str, cwd: Path | None = None) -> set[str]:
    """The modules loaded after running ``body`` in a fresh interpreter."""
    code = textwrap.dedent(body) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _under(loaded: set[str], *packages: str) -> list[str]:
    return sorted(m for m in loaded if m in packages or m.startswith(tuple(p + "." for p in
                                                                              packages)))


def _run_verb(args: list[str]) -> str:
    return f"""
        import sys
        from guardgraph.cli import main
        sys.argv = ["guardgraph", *{args!r}]
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
    """


def test_import_and_registration_load_no_verb_implementation() -> None:
    loaded = _loaded("""
        import typer.main
        import guardgraph.cli
        typer.main.get_command(guardgraph.cli.app)  # what every run does before dispatch
    """)
    assert _under(loaded, *HEAVY) == []
    # Not even the spec front end, Z3, the guard or rich: each verb imports them itself.
    assert _under(loaded, "guardgraph.specs", "guardgraph.guardrails", "z3", "rich") == []


def test_lint_loads_no_audit_log_telemetry_or_learning(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.spec"
    spec.write_text(TINY)
    loaded = _loaded(_run_verb(["lint", str(spec)]), cwd=tmp_path)
    assert "guardgraph.guardrails.lint" in loaded  # the verb did run
    assert _under(loaded, *HEAVY) == []


def test_fmt_loads_neither_the_solver_nor_the_audit_log(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.spec"
    spec.write_text(TINY)
    loaded = _loaded(_run_verb(["fmt", str(spec)]), cwd=tmp_path)
    assert "guardgraph.specs" in loaded  # the verb did run
    assert _under(loaded, *HEAVY, "guardgraph.guardrails", "z3") == []


def test_help_still_lists_every_verb() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    listed = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines()
              if line.strip()]
    # Other verbs are being added beside these; the ones here stay, in this order.
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)
    audit = runner.invoke(app, ["audit", "--help"])
    assert audit.exit_code == 0
    assert all(f"  {name} " in audit.stdout for name in AUDIT_COMMANDS), audit.stdout


@pytest.mark.parametrize(
    "verb",
    [[c] for c in COMMANDS] + [["audit", c] for c in AUDIT_COMMANDS],
    ids=lambda v: " ".join(v),
)
def test_every_verb_help_works(verb: list[str]) -> None:
    result = CliRunner().invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")
