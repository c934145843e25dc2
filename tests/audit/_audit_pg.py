"""Reaching the PostgreSQL server the audit tests run against (127.0.0.1:5432, db `test`).

Without a server the tests skip with the reason; under CI (CI=true) they fail instead, so
a broken service can never turn the PostgreSQL suite silently green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def postgres_url() -> str:
    """A reachable server URL, or skip (fail under CI) with the reason."""
    reasons = []
    try:
        import psycopg
    except ImportError as exc:
        reasons.append(f"psycopg is not installed ({exc})")
    else:
        for url in _CANDIDATES:
            try:
                with psycopg.connect(url, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                return url
            except psycopg.Error as exc:
                reasons.append(f"{url}: {str(exc).strip().splitlines()[0]}")
    why = "no PostgreSQL server for the audit tests: " + "; ".join(reasons)
    if os.environ.get("CI") == "true":
        pytest.fail(why + " (CI=true: the PostgreSQL tests must run)")
    pytest.skip(why)


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A store URL in a schema of its own, dropped afterwards."""
    import psycopg

    schema = "gg_test_" + uuid.uuid4().hex[:12]
    try:
        yield f"{url}?schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
