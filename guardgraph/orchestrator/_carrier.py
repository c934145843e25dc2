"""Owns carrying the guard's session state across process restarts.

With the guard's state in process memory (the embedded default), a restarted process has
lost it: budgets spent and results seen would be forgotten. So after every commit and
every recorded result the session is exported (``Guard.export_session``) into LangGraph's
store, and into the checkpoint after each turn (``guard_session`` in the state); the first
time a process meets a thread it restores the store's copy, which is never older than the
checkpoint's. A shared guard store (Redis) already holds the state for every replica;
restoring an older copy there would rewind budgets, so then nothing is carried.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from guardgraph.guardrails import Guard

__all__ = ["SessionCarrier"]

_NAMESPACE = ("guardgraph", "guard-session")


class SessionCarrier:
    """Exports and restores one guard's sessions through ``store``."""

    def __init__(self, guard: Guard, store: BaseStore) -> None:
        self.guard = guard
        self._store = store
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        # The guard keeps its store private; its type tells process-local state.
        inner = getattr(guard, "store", getattr(guard, "_store", None))
        self.local = inner is None or type(inner).__name__ == "InMemoryStore"

    def enter(self, thread: str, state: Any) -> None:
        """Before a node works on ``thread``: restore its session if this process has not
        seen the thread yet."""
        if not self.local or thread in self._seen:
            return
        with self._lock:
            if thread in self._seen:
                return
            item = self._store.get(_NAMESPACE, _key(thread))
            blob = item.value.get("blob") if item is not None else None
            if not isinstance(blob, str):
                blob = None
            data = bytes.fromhex(blob) if blob else (
                state.get("guard_session") if isinstance(state, Mapping) else None)
            if isinstance(data, bytes) and data:
                self.guard.restore_session(data)
            self._seen.add(thread)

    def save(self, thread: str) -> None:
        """After a commit or a result: the latest session state into the store."""
        if not self.local:
            return
        with self._lock:  # export and put as one step: a later export never loses a race
            self._seen.add(thread)
            blob = self.guard.export_session(thread)
            self._store.put(_NAMESPACE, _key(thread), {"blob": blob.hex()}, index=False)

    def export(self, thread: str) -> bytes | None:
        """The session state for the checkpoint (None with a shared guard store)."""
        return self.guard.export_session(thread) if self.local else None


def _key(thread: str) -> str:
    return thread
