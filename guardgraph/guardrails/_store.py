"""Where session state lives: the `SessionStore` protocol, the in-memory default, and
the tagged-JSON form of events and states used by shared stores and session blobs.

A session's state is a deterministic fold of its committed events (an executed call, a
route, a tool result, a user message). A store runs a function on the state and commits
the events it returns atomically: nobody else commits to that session between the read
and the commit, so a check-and-commit of a budget cannot be interleaved with another one
(no lost update, no double spend). The store never looks inside a state: it holds what
the `StateCodec` the guard passes makes, folds, encodes and decodes.

A dropped session is not forgotten: a tombstone stays, and every later transaction on
that id fails (the guard denies with GG414) until a blob is restored, so dropping a
session can never reopen its budgets.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Protocol, TypeVar, runtime_checkable

from guardgraph.guardrails._errors import StoreError

__all__ = ["Event", "InMemoryStore", "SessionStore", "StateCodec", "StoreError",
           "decode_event", "decode_value", "encode_event", "encode_value"]

T = TypeVar("T")

# ("call", tool, args, time_us, call_id, fingerprint) | ("route", call_id, fingerprint,
# time_us) | ("result", call_id, output, trusted) | ("user", text)
Event = tuple[Any, ...]


class StateCodec(Protocol):
    """How a guard's session state is made, folded and serialised (the store is blind)."""

    def new(self) -> Any: ...

    def apply(self, state: Any, event: Event) -> None: ...

    def encode(self, state: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...

    def check_event(self, event: Event) -> None:
        """Raise `StoreError` for an event that must not be written (malformed)."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Runs ``fn`` on a session's state and commits the events it returns, atomically.

    ``fn`` returns ``(result, events)``; the store folds each committed event into the
    state with ``codec.apply``. ``fn`` may run more than once (an optimistic store retries
    it after a conflict or a lost reply) and must not change the state itself.
    ``restore`` replaces a session's state with ``codec.encode`` bytes; ``drop`` forgets
    the state but keeps the session closed until a restore.
    """

    def transact(self, session_id: str, fn: Callable[[Any], tuple[T, Sequence[Event]]],
                 codec: StateCodec) -> T: ...

    def restore(self, session_id: str, data: bytes, codec: StateCodec) -> None: ...

    def drop(self, session_id: str) -> None: ...


def dropped_error(session_id: str) -> StoreError:
    return StoreError(f"session {session_id!r} was dropped; its budgets stay closed",
                      hint="restore it from a blob (Guard.restore_session), or use a new "
                           "session id")


class InMemoryStore:
    """Session states in this process, one lock per session (the default)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[threading.Lock, Any]] = {}
        self._dropped: set[str] = set()
        self._lock = threading.Lock()

    def _entry(self, session_id: str, codec: StateCodec) -> tuple[threading.Lock, Any]:
        entry = self._states.get(session_id)
        if entry is None:
            with self._lock:
                entry = self._states.get(session_id)
                if entry is None:
                    if session_id in self._dropped:
                        raise dropped_error(session_id)
                    entry = self._states[session_id] = (threading.Lock(), codec.new())
        return entry

    def transact(self, session_id: str, fn: Callable[[Any], tuple[T, Sequence[Event]]],
                 codec: StateCodec) -> T:
        lock, state = self._entry(session_id, codec)
        with lock:
            if self._states.get(session_id, (None,))[0] is not lock:
                # dropped or restored while we waited: run on what is there now
                return self.transact(session_id, fn, codec)
            result, events = fn(state)
            for event in events:
                codec.check_event(event)
            for event in events:
                codec.apply(state, event)
        return result

    def restore(self, session_id: str, data: bytes, codec: StateCodec) -> None:
        state = codec.decode(data)
        with self._lock:
            self._states[session_id] = (threading.Lock(), state)
            self._dropped.discard(session_id)

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._states.pop(session_id, None)
            self._dropped.add(session_id)


# ------------------------------------------------------------------ serialisation
# Tagged JSON: exact values survive (a Fraction is not rounded to a float), and the
# format carries a version so an incompatible reader fails instead of guessing.


def encode_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, int | str):
        return v
    if isinstance(v, Fraction):
        return {"q": [v.numerator, v.denominator]}
    if isinstance(v, deque):
        return {"dq": [[t, encode_value(x)] for t, x in v]}
    if isinstance(v, frozenset | set):
        return {"fs": [encode_value(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": [encode_value(x) for x in v]}
    if isinstance(v, list):
        return {"l": [encode_value(x) for x in v]}
    if isinstance(v, Mapping):
        return {"d": {str(k): encode_value(x) for k, x in v.items()}}
    if isinstance(v, float):
        if not math.isfinite(v):
            raise StoreError(f"cannot store the non-finite float {v!r} in session state")
        return v  # JSON keeps a float's shortest repr, which reads back to the same float
    raise StoreError(f"cannot store a {type(v).__name__} in session state")


def decode_value(v: Any) -> Any:
    if isinstance(v, list):
        raise StoreError("corrupt session state: a bare list where a tagged value belongs")
    if not isinstance(v, dict):
        return v
    if len(v) != 1:
        raise StoreError(f"corrupt session state: tagged value with {len(v)} tags")
    ((tag, body),) = v.items()
    if tag == "q":
        return Fraction(body[0], body[1])
    if tag == "dq":
        return deque((t, decode_value(x)) for t, x in body)
    if tag == "fs":
        return frozenset(decode_value(x) for x in body)
    if tag == "t":
        return tuple(decode_value(x) for x in body)
    if tag == "l":
        return [decode_value(x) for x in body]
    if tag == "d":
        return {k: decode_value(x) for k, x in body.items()}
    raise StoreError(f"corrupt session state: unknown tag {tag!r}")


def encode_event(event: Event) -> bytes:
    return json.dumps([encode_value(x) for x in event], separators=(",", ":"),
                      allow_nan=False, ensure_ascii=False).encode("utf-8")


def decode_event(data: bytes) -> Event:
    try:
        raw = json.loads(data)
        if not isinstance(raw, list):
            raise StoreError("corrupt session event: not a JSON array")
        return tuple(decode_value(x) for x in raw)
    except StoreError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise StoreError(f"corrupt session event: {type(exc).__name__}: {exc}") from None
