"""Linting tools in worker processes gives exactly the findings of linting them in one."""

from __future__ import annotations

import multiprocessing

import pytest

from guardgraph.guardrails import lint
from guardgraph.specs import load_text, render_json

SPEC = """spec parallel version 1
tool a(x: int, note: str)
tool b(x: int)
tool c(url: str)
tool d(x: real)
fact unused: set[str]

rule a_cap:
  on a
  require x <= 10
rule a_looser:
  on a
  require x <= 20
rule b_never:
  on b
  require x > 5 and x < 3
rule c_https:
  on c
  require startswith(url, "https://")
rule d_dead:
  on d
  when x > 1 and x < 0
  require approved
rule everyone_named:
  on any
  require agent != ""
rule also_everyone:
  on any
  require agent != ""
"""


def test_parallel_lint_matches_sequential() -> None:
    result = load_text(SPEC)
    assert result.spec is not None, result.diagnostics
    one = lint(result.spec, jobs=1)
    two = lint(result.spec, jobs=2)

    def key(d: object) -> tuple[object, ...]:
        return (d.code, d.span.line if d.span else 0, d.message, d.notes)  # type: ignore[attr-defined]

    assert [key(d) for d in one] == [key(d) for d in two]
    codes = {d.code for d in one}
    assert {"GG301", "GG302", "GG304", "GG308"} <= codes


def _many_tools(n: int) -> str:
    tools = "".join(f"tool t{k}(x: int, to: str)\n" for k in range(n))
    rules = "".join(
        f"rule t{k}_cap:\n  on t{k}\n  require x <= {10 + k}\n"
        f"rule t{k}_looser:\n  on t{k}\n  require x <= {20 + k}\n"
        f"rule t{k}_gb:\n  on t{k}\n  when x > {k}\n"
        f'  require startswith(to, "GB") and len(to) < {5 + k}\n'
        for k in range(n)
    )
    return f"spec many version 1\n{tools}{rules}"


def test_spawned_workers_match_forked_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # More tools than one batch, so the work really goes to worker processes; where the
    # platform cannot fork, spawned workers compile the spec again and must agree.
    result = load_text(_many_tools(10))
    assert result.spec is not None, result.diagnostics
    forked = render_json(lint(result.spec, jobs=2))
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    spawned = render_json(lint(result.spec, jobs=2))
    assert spawned == forked
    assert sum(1 for line in forked.splitlines() if '"GG304"' in line) == 10
