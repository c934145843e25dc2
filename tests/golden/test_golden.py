"""Golden diagnostics: every tests/golden/specs/*.spec against its sibling .expected file.

Each spec is loaded with ``load_file`` from inside tests/golden/specs (so every path in the
output is relative and the output is the same on any machine); a spec that loads is also
linted with Z3 (the GG3xx cases). The diagnostics are rendered with
``render_human(color=False)``. ``pytest --update-golden`` rewrites the
.expected files; review the diff before committing it. Files under specs/includes/ are
only reached through includes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardgraph.guardrails.lint import lint
from guardgraph.specs import load_file
from guardgraph.specs._render import render_human
from guardgraph.specs.diagnostics import CODES

SPECS = Path(__file__).parent / "specs"
CASES = sorted(SPECS.glob("*.spec"))
CLEAN = "(no diagnostics)\n"


def render(spec: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(SPECS)
    result = load_file(spec.name)
    diagnostics = result.diagnostics
    if result.spec is not None:
        diagnostics = (*diagnostics, *lint(result.spec))
    if not diagnostics:
        return CLEAN
    return render_human(diagnostics, result.sources, color=False)


@pytest.mark.parametrize("spec", CASES, ids=[c.stem for c in CASES])
def test_golden(
    spec: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    actual = render(spec, monkeypatch)
    expected_path = spec.with_suffix(".expected")
    if request.config.getoption("--update-golden"):
        expected_path.write_text(actual, encoding="utf-8")
        return
    if not expected_path.exists():
        pytest.fail(f"{expected_path.name} is missing; run pytest --update-golden and review it")
    assert actual == expected_path.read_text(encoding="utf-8")


def test_golden_output_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = [c for c in CASES if c.name.startswith(("GG111", "GG206", "GG203"))]
    assert sample
    for spec in sample:
        assert render(spec, monkeypatch) == render(spec, monkeypatch)


def _covered() -> set[str]:
    found: set[str] = set()
    for expected in SPECS.glob("*.expected"):
        found |= set(re.findall(r"^\w+\[(GG\d{3})\]", expected.read_text("utf-8"), re.M))
    return found


# GG310 (the solver could not decide) depends on the machine's speed, so it has no golden
# case; tests/guardrails/test_guardrails_lint.py forces it with a tiny time limit.
STATIC_CODES = sorted(c for c in CODES if c.startswith(("GG1", "GG2", "GG3")) and c != "GG310")


@pytest.mark.parametrize("code", STATIC_CODES)
def test_every_spec_code_has_a_golden_case(code: str) -> None:
    assert code in _covered(), f"no tests/golden/specs/*.expected shows {code}"


def test_each_code_named_file_shows_its_code() -> None:
    covered_by_name = {c.stem[:5]: c for c in CASES if re.match(r"GG\d{3}_", c.name)}
    for code, spec in covered_by_name.items():
        expected = spec.with_suffix(".expected")
        if not expected.exists():
            continue
        assert f"[{code}]" in expected.read_text("utf-8"), f"{spec.name} does not produce {code}"
