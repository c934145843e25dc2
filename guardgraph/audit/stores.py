"""Owns ``open_store``: the one place that maps a target to its backend.

Kept apart from the store protocol, which every backend imports, so that the backends
and the protocol form no import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guardgraph.audit._store import AuditStore
from guardgraph.errors import AuditStoreError

__all__ = ["open_store"]


def open_store(target: str | Path, **options: Any) -> AuditStore:
    """Open a store: ``"memory:"``, a path or ``"sqlite:///path.db"`` (the default
    backend), or ``"postgresql://..."``.

    Options go to the backend: ``clock`` and ``id_factory`` (all), ``read_only`` (all:
    open an existing log without creating or altering anything; a file or schema that is
    not an audit log is refused, so a read never leaves a schema behind), ``synchronous``
    (SQLite: ``"full"`` or ``"normal"``), ``schema`` (PostgreSQL).

    >>> store = open_store("memory:")
    >>> store.size()
    0
    """
    text = str(target)
    if text == "memory:" or text == ":memory:":
        from guardgraph.audit._memory import MemoryStore

        return MemoryStore(**options)
    if text.startswith(("postgresql://", "postgres://")):
        from guardgraph.audit._postgres import PostgresStore

        return PostgresStore(text, **options)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]  # "sqlite:////abs.db" keeps its leading "/"
    elif "://" in text:
        raise AuditStoreError(
            f"unknown audit store {text!r}: expected 'memory:', a path, 'sqlite:///PATH' "
            "or 'postgresql://...'"
        )
    from guardgraph.audit._sqlite import SqliteStore

    return SqliteStore(Path(text), **options)
