"""Owns the execution ledger: which tool calls of a thread have run, and what they returned.

LangGraph re-runs a task from its start after an interrupt, a crash or a replay from an
earlier checkpoint; a tool with side effects must not run twice. The ledger is kept in
LangGraph's own key-value store (``BaseStore``: in memory, SQLite or PostgreSQL, passed as
``compile(store=...)``), outside the checkpoints, so that rewinding a thread to an older
checkpoint does not forget that a payment left. A call is marked *started* before its
tool runs and *done* with the tool's message after: a re-run of a done call returns the
recorded message, and a call that started but never finished (the process died while the
tool ran) is not run again, because its outcome is unknown (at most once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

__all__ = ["Ledger", "LedgerEntry"]

_STARTED = "started"
_DONE = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """A call the ledger knows: ``done`` with the tool's message content and status, or
    only started."""

    call_id: str
    tool: str
    done: bool
    content: Any = None
    status: str = "success"
    metadata: dict[str, Any] | None = None


class Ledger:
    """The executed calls of every thread, in ``store`` (a fresh in-memory store when none)."""

    __slots__ = ("_store",)

    def __init__(self, store: BaseStore | None = None) -> None:
        self._store: BaseStore = store if store is not None else InMemoryStore()

    @staticmethod
    def _namespace(session: str) -> tuple[str, ...]:
        # BaseStore namespaces refuse "." inside a label; a thread id may hold one.
        return ("guardgraph", "executed", session.replace(".", "\u2024"))

    def lookup(self, session: str, call_id: str) -> LedgerEntry | None:
        item = self._store.get(self._namespace(session), call_id)
        if item is None:
            return None
        value = item.value
        return LedgerEntry(call_id=call_id, tool=str(value.get("tool", "")),
                           done=value.get("state") == _DONE,
                           content=_load(value.get("content")),
                           status=str(value.get("status", "success")),
                           metadata=_load(value.get("metadata")))

    def start(self, session: str, call_id: str, tool: str) -> None:
        self._store.put(self._namespace(session), call_id,
                        {"state": _STARTED, "tool": tool}, index=False)

    def finish(self, session: str, call_id: str, tool: str, content: Any,
               status: str, metadata: dict[str, Any] | None = None) -> None:
        self._store.put(self._namespace(session), call_id,
                        {"state": _DONE, "tool": tool, "content": json.dumps(content),
                         "status": status, "metadata": json.dumps(metadata)}, index=False)

    def executed(self, session: str) -> tuple[str, ...]:
        """Call ids of ``session`` that ran (started or done), oldest first."""
        items = self._store.search(self._namespace(session), limit=100_000)
        return tuple(i.key for i in sorted(items, key=lambda i: i.created_at))


def _load(text: object) -> Any:
    return json.loads(text) if isinstance(text, str) else None
