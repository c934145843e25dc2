"""Fixtures of the orchestrator tests (helpers live in _orch_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _orch_support import Bank, make_guard

from guardgraph.guardrails import Guard


@pytest.fixture
def guard() -> Iterator[Guard]:
    g = make_guard()
    yield g
    g.close()


@pytest.fixture
def bank() -> Bank:
    return Bank()
