"""Owns the configuration of where a guarded graph keeps its state: one URL per part.

* ``checkpoints``: LangGraph's checkpointer — ``memory:``, ``sqlite:///path.db``, or
  ``postgresql://...`` (``PostgresSaver``);
* ``store``: LangGraph's key-value store, where the execution ledger (and the guard's
  session copy) lives — the same schemes (default: the ``checkpoints`` URL);
* ``audit``: the audit log — a path, ``sqlite:///...``, ``memory:`` or ``postgresql://...``;
* ``guard_state``: the guard's session store — ``memory:`` (in process) or
  ``redis://...[?prefix=NAME]`` (shared, so that several replicas enforce one budget
  atomically).

One replica on a laptop and four behind a load balancer run the same code; only these
URLs change. A PostgreSQL URL may carry ``?options=-csearch_path%3DSCHEMA`` to keep the
graph's tables in a schema of their own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Backends", "open_backends"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backends:
    """The opened parts; pass them to ``AgentGraph.compile`` and ``Guard(store=...)``."""

    checkpointer: Any
    store: Any
    audit: Any
    guard_store: Any
    _closers: tuple[Callable[[], object], ...] = field(default=(), repr=False)

    def compile_options(self) -> dict[str, Any]:
        """``checkpointer``, ``store`` and ``audit`` for ``AgentGraph.compile(**...)``."""
        return {"checkpointer": self.checkpointer, "store": self.store, "audit": self.audit}

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> Backends:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_backends(*, checkpoints: str = "memory:", store: str | None = None,
                  audit: str | Path | None = None, guard_state: str = "memory:",
                  audit_key: Path | None = None, setup: bool = True) -> Backends:
    """Open each part from its URL. ``setup`` creates the LangGraph tables (run it once,
    not from every replica at the same moment). ``audit_key``: the audit log's signing
    key file for a PostgreSQL log (every replica signs with the same key)."""
    closers: list[Callable[[], object]] = []
    try:
        saver = _checkpointer(checkpoints, setup, closers)
        kv = _store(store or checkpoints, setup, closers)
        log = None
        if audit is not None:
            from guardgraph.audit import open_log

            log = open_log(audit, key_path=audit_key) if audit_key is not None \
                else open_log(audit)
            closers.append(log.close)
        guard_store = _guard_store(guard_state)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return Backends(checkpointer=saver, store=kv, audit=log, guard_store=guard_store,
                    _closers=tuple(closers))


def _checkpointer(url: str, setup: bool, closers: list[Callable[[], object]]) -> Any:
    if url in ("memory:", ":memory:"):
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if url.startswith("sqlite:///"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
        closers.append(conn.close)
        saver = SqliteSaver(conn)
        if setup:
            saver.setup()
        return saver
    if url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver

        conn_pg = _pg(url, closers)
        pg_saver = PostgresSaver(conn_pg)
        if setup:
            pg_saver.setup()
        return pg_saver
    raise ValueError(f"checkpoints: expected memory:, sqlite:///PATH or postgresql://..., "
                     f"got {url!r}")


def _store(url: str, setup: bool, closers: list[Callable[[], object]]) -> Any:
    if url in ("memory:", ":memory:"):
        from langgraph.store.memory import InMemoryStore

        return InMemoryStore()
    if url.startswith("sqlite:///"):
        from langgraph.store.sqlite import SqliteStore

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False,
                               isolation_level=None)
        closers.append(conn.close)
        kv = SqliteStore(conn)
        if setup:
            kv.setup()
        return kv
    if url.startswith(("postgresql://", "postgres://")):
        from langgraph.store.postgres import PostgresStore

        pg_kv = PostgresStore(_pg(url, closers))
        if setup:
            pg_kv.setup()
        return pg_kv
    raise ValueError(f"store: expected memory:, sqlite:///PATH or postgresql://..., "
                     f"got {url!r}")


def _pg(url: str, closers: list[Callable[[], object]]) -> Any:
    import psycopg
    from psycopg.rows import dict_row

    conn = psycopg.Connection.connect(url, autocommit=True, prepare_threshold=0,
                                      row_factory=dict_row)
    closers.append(conn.close)
    return conn


def _guard_store(url: str) -> Any:
    if url in ("memory:", ":memory:"):
        return None  # the guard's own in-process default
    if url.startswith(("redis://", "rediss://", "unix://")):
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        from guardgraph.guardrails import RedisStore

        # ``?prefix=NAME`` namespaces the keys (ours; redis-py would reject it).
        parts = urlsplit(url)
        query = parse_qsl(parts.query)
        prefix = next((v for k, v in query if k == "prefix"), "guardgraph:session:")
        rest = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                          if k != "prefix"])))
        return RedisStore(url=rest, prefix=prefix)
    raise ValueError(f"guard_state: expected memory: or redis://..., got {url!r}")
