"""Agents call tools with anything: a simulated tool either answers or refuses with a
`ToolFailure` (what the agent reads), and a mistyped call is a `DomainError` naming the
argument — never a stray KeyError or TypeError, never a world corrupted by a NaN."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.domains import Domain, DomainError, ToolFailure, load_domain

DOMAINS = {name: load_domain(name) for name in ("bank", "devops")}


def _known_strings(domain: Domain) -> list[str]:
    """Strings that hit the world's own keys (ids, paths, URLs, IBANs, names)."""
    out: set[str] = set()
    for task in domain.tasks("all")[:6]:
        stack: list[object] = [domain.new_world(task.seed).state]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                out.update(k for k in value if isinstance(k, str))
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, str) and len(value) < 60:
                out.add(value)
    return sorted(out)


def _value(kind: type, known: list[str]) -> st.SearchStrategy[object]:
    if kind is str:
        return st.one_of(st.sampled_from(known), st.text(max_size=12))
    if kind is int:
        return st.integers(-5, 2000)
    if kind is float:
        return st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e12]),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.integers(-10, 20000))
    if kind is bool:
        return st.booleans()
    return st.lists(st.sampled_from(known), max_size=3)


@st.composite
def _calls(draw: st.DrawFn, domain: Domain) -> tuple[str, dict[str, object]]:
    known = _known_strings(domain)
    tool = draw(st.sampled_from(sorted(domain.tools)))
    args = {name: draw(_value(kind, known)) for name, kind in domain.tools[tool].params}
    return tool, args


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_tools_answer_or_refuse(name: str) -> None:
    domain = DOMAINS[name]

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, 2**31 - 1), st.lists(_calls(domain), min_size=1, max_size=6))
    def run(seed: int, calls: list[tuple[str, dict[str, object]]]) -> None:
        world = domain.new_world(seed)
        for tool, args in calls:
            try:
                domain.execute(world, tool, args)
            except ToolFailure:
                pass
            except DomainError as exc:
                # only a non-finite real is refused before the tool runs
                assert "finite" in str(exc), exc
        # money never becomes NaN or infinite, whatever was asked
        for value in world.state.get("accounts", {}).values():
            assert math.isfinite(value)
        world.snapshot()  # still plain JSON

    run()
