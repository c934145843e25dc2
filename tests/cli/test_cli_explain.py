"""`guardgraph explain` and docs/errors.md: every registered code is explained, every
example produces its code, and the docs page is exactly what the command prints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph._cli._explanations import EXPLANATIONS, Kind
from guardgraph._cli.explain import ExplainFormat, render_all, run_example
from guardgraph.cli import app
from guardgraph.specs import CODES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
runner = CliRunner()


def test_every_registered_code_is_explained_and_nothing_else() -> None:
    missing = sorted(set(CODES) - set(EXPLANATIONS))
    assert not missing, (
        f"codes without an explanation: {missing}; add an entry (with an example) to "
        "guardgraph/_cli/_explanations.py, then regenerate docs/errors.md with "
        "`GUARDGRAPH_REGEN_DOCS=1 .venv/bin/pytest tests/cli/test_cli_explain.py`")
    assert not set(EXPLANATIONS) - set(CODES), "explanations of unregistered codes"


@pytest.mark.parametrize("code", sorted(EXPLANATIONS))
def test_the_example_produces_its_code(code: str) -> None:
    entry = EXPLANATIONS[code]
    said, codes = run_example(entry.example)
    assert code in codes, f"{code}: its example produced {codes}:\n{said}"
    if entry.example.kind is not Kind.OUTPUT:
        assert "Traceback" not in said


def test_docs_page_is_the_generated_reference() -> None:
    text = render_all(ExplainFormat.MARKDOWN)
    if os.environ.get("GUARDGRAPH_REGEN_DOCS"):
        DOCS.write_text(text, encoding="utf-8")
    assert DOCS.read_text(encoding="utf-8") == text, (
        "docs/errors.md is stale: regenerate it with "
        "`GUARDGRAPH_REGEN_DOCS=1 .venv/bin/pytest tests/cli/test_cli_explain.py`")
    for code in CODES:
        assert f"### {code} `{CODES[code].name}`" in text


def test_explain_one_code() -> None:
    result = runner.invoke(app, ["explain", "GG203"])
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("GG203 type-mismatch (error): type mismatch\n")
    assert 'require amount <= "5000"' in out  # the example input
    assert "error[GG203]: `<=` needs numbers: expected real, got str" in out  # its output
    assert "Fix: " in out
    assert runner.invoke(app, ["explain", "203"]).stdout == out
    assert runner.invoke(app, ["explain", "gg203"]).stdout == out


def test_explain_a_guard_code_runs_the_guard() -> None:
    result = runner.invoke(app, ["explain", "GG400"])
    assert result.exit_code == 0
    assert "check send_money(recipient=\"DE89\", amount=7200)" in result.stdout
    assert "-> deny [GG400]: cap: " in result.stdout


def test_unknown_code_is_an_error() -> None:
    result = runner.invoke(app, ["explain", "GG299"])
    assert result.exit_code == 2
    assert "unknown code 'GG299'" in result.stderr and "GG201" in result.stderr
    result = runner.invoke(app, ["explain"])
    assert result.exit_code == 2 and "--all" in result.stderr
