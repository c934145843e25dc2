"""The audit stores every conformance test runs against: memory, SQLite (WAL), PostgreSQL.

PostgreSQL tests carry the ``postgres`` marker and reach the server through
tests/audit/_audit_pg.py: they skip with the reason when none is reachable, and fail
under CI=true so a broken service never turns the suite silently green.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The server helpers live with the audit tests; one copy, shared by both folders.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "audit"))

from _audit_pg import fresh_schema, postgres_url

from guardgraph.audit import AuditStore, open_store

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory:"
    elif request.param == "sqlite":
        yield str(tmp_path / "audit.db")
    else:
        with fresh_schema(postgres_url()) as url:
            yield url


@pytest.fixture(params=BACKENDS[1:])
def durable_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The backends whose records outlive the store object (and have DB constraints)."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.db")
    else:
        with fresh_schema(postgres_url()) as url:
            yield url


@pytest.fixture
def store(target: str) -> Iterator[AuditStore]:
    ids = (f"rec-{i:05d}" for i in itertools.count())
    clock = (f"2026-05-01T10:00:{s:02d}.000000Z" for s in itertools.count())
    s = open_store(target, id_factory=lambda: next(ids), clock=lambda: next(clock))
    yield s
    s.close()
