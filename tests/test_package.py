"""Package-level promises: light imports, one-way dependencies, a typed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_import_guardgraph_is_light() -> None:
    loaded = _modules_after("import guardgraph")
    assert not {"torch", "transformers", "z3", "langgraph", "ray"} & loaded


def test_import_specs_does_not_load_solver_or_learning() -> None:
    loaded = _modules_after("import guardgraph.specs")
    assert not {"torch", "transformers", "z3"} & loaded


def test_guardrails_and_audit_do_not_load_torch() -> None:
    loaded = _modules_after("import guardgraph.guardrails, guardgraph.audit, guardgraph.cli")
    assert "torch" not in loaded
    assert "transformers" not in loaded


def test_package_is_typed() -> None:
    assert (ROOT / "guardgraph" / "py.typed").is_file()


def test_dependency_direction_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
