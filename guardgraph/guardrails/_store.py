"""Where session state lives: the `SessionStore` protocol, the in-memory default, and
the compact serialisation used by shared stores and LangGraph checkpoints.

A session's state is a deterministic fold of its committed events (an executed call, a
tool result, a user message). A store runs a check on the state and commits the events
it produces atomically: nobody else commits to that session between the read and the
commit, so a check-and-commit of a budget cannot be interleaved with another one (no lost
update, no double spend).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol, TypeVar, runtime_checkable

from guardgraph.errors import GuardgraphError
from guardgraph.guardrails._monitor import Accumulator, MonitorState

__all__ = ["Apply", "Event", "InMemoryStore", "SessionStore", "StoreError", "decode_event",
           "decode_state", "encode_event", "encode_state"]

T = TypeVar("T")
_FORMAT = 1

# ("call", tool, args, time_us, call_id) | ("result", call_id, output, trusted)
# | ("user", text); JSON-serialisable through `encode_event`.
Event = tuple[Any, ...]
Apply = Callable[[MonitorState, Event], None]


class StoreError(GuardgraphError):
    """The session store failed (unreachable, corrupt state, too much contention)."""


@runtime_checkable
class SessionStore(Protocol):
    """Runs ``fn`` on a session's state and commits the events it returns, atomically.

    ``fn`` returns ``(result, events)``; the store folds each committed event into the
    state with ``apply``. ``fn`` may run more than once (an optimistic store retries it
    after a conflict) and must not change the state itself beyond what a read may do.
    """

    def transact(self, session_id: str, fn: Callable[[MonitorState], tuple[T, list[Event]]],
                 apply: Apply) -> T: ...

    def restore(self, session_id: str, data: bytes) -> None:
        """Replace the session's state with `encode_state` bytes (a checkpoint)."""
        ...


class InMemoryStore:
    """Session states in this process, one lock per session (the default)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[threading.Lock, MonitorState]] = {}
        self._lock = threading.Lock()

    def _entry(self, session_id: str) -> tuple[threading.Lock, MonitorState]:
        entry = self._states.get(session_id)
        if entry is None:
            with self._lock:
                entry = self._states.get(session_id)
                if entry is None:
                    entry = self._states[session_id] = (threading.Lock(), MonitorState())
        return entry

    def transact(self, session_id: str, fn: Callable[[MonitorState], tuple[T, list[Event]]],
                 apply: Apply) -> T:
        lock, state = self._entry(session_id)
        with lock:
            result, events = fn(state)
            for event in events:
                apply(state, event)
        return result

    def restore(self, session_id: str, data: bytes) -> None:
        state = decode_state(data)
        with self._lock:
            self._states[session_id] = (threading.Lock(), state)

    def drop(self, session_id: str) -> None:
        """Forget a finished session."""
        with self._lock:
            self._states.pop(session_id, None)


# ------------------------------------------------------------------ serialisation
# Tagged JSON: exact values survive (a Fraction is not rounded to a float), and the
# format carries a version so an incompatible reader fails instead of guessing.


def _enc(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, int | str):
        return v
    if isinstance(v, Fraction):
        return {"q": [v.numerator, v.denominator]}
    if isinstance(v, deque):
        return {"dq": [[t, _enc(x)] for t, x in v]}
    if isinstance(v, frozenset):
        return {"fs": [_enc(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": [_enc(x) for x in v]}
    if isinstance(v, list):
        return {"l": [_enc(x) for x in v]}
    if isinstance(v, dict):
        return {"d": {str(k): _enc(x) for k, x in v.items()}}
    if isinstance(v, float):
        return v  # JSON keeps a float's shortest repr, which reads back to the same float
    raise StoreError(f"cannot serialise a {type(v).__name__} in session state")


def _dec(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    ((tag, body),) = v.items()
    if tag == "q":
        return Fraction(body[0], body[1])
    if tag == "dq":
        return deque((t, _dec(x)) for t, x in body)
    if tag == "fs":
        return frozenset(_dec(x) for x in body)
    if tag == "t":
        return tuple(_dec(x) for x in body)
    if tag == "l":
        return [_dec(x) for x in body]
    if tag == "d":
        return {k: _dec(x) for k, x in body.items()}
    raise StoreError(f"unknown tag {tag!r} in session state")


def encode_event(event: Event) -> bytes:
    return json.dumps([_enc(x) for x in event], separators=(",", ":")).encode()


def decode_event(data: bytes) -> Event:
    try:
        return tuple(_dec(x) for x in json.loads(data))
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"corrupt session event: {type(exc).__name__}: {exc}") from None


def encode_state(state: MonitorState) -> bytes:
    """Compact bytes of a session state (for shared stores and checkpoints)."""
    doc = {
        "format": _FORMAT,
        "last": state.last_us,
        "events": state.events,
        "accs": {k: [_enc(x) for x in a.s] for k, a in state.accs.items()},
        "poisoned": state.poisoned,
        "results": {k: _enc(v) for k, v in state.results.items()},
        "calls": state.calls,
        "prov": state.prov,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_state(data: bytes) -> MonitorState:
    """The state `encode_state` wrote; `StoreError` on anything else."""
    try:
        doc = json.loads(data)
        if doc.get("format") != _FORMAT:
            raise StoreError(f"session state format {doc.get('format')!r}, expected {_FORMAT}")
        state = MonitorState()
        state.last_us = int(doc["last"])
        state.events = int(doc["events"])
        state.accs = {k: Accumulator([_dec(x) for x in s]) for k, s in doc["accs"].items()}
        state.poisoned = dict(doc["poisoned"])
        state.results = {k: _dec(v) for k, v in doc["results"].items()}
        state.calls = dict(doc["calls"])
        state.prov = doc["prov"]
    except StoreError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"corrupt session state: {type(exc).__name__}: {exc}") from None
    return state
