"""Session state in Redis, so several orchestrator replicas enforce one budget.

Each session is one key holding `encode_state` bytes. A transaction is optimistic:
``WATCH key; GET; run the check; MULTI; SET; EXEC`` and, when another replica wrote the
key in between (``WatchError``), run the check again on the fresh state. A read-only
check writes nothing. So a check-and-commit is atomic across processes and hosts without
a lock that a crashed replica could leave behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from guardgraph.guardrails._monitor import MonitorState
from guardgraph.guardrails._store import StoreError, decode_state, encode_state

__all__ = ["RedisStore"]

T = TypeVar("T")


def _load(raw: object) -> MonitorState:
    """The state behind a key (a client may hand back str when decode_responses is set)."""
    if raw is None:
        return MonitorState()
    if isinstance(raw, str):
        raw = raw.encode()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise StoreError(f"unexpected value type {type(raw).__name__} for session state")
    return decode_state(bytes(raw))


class RedisStore:
    """A `SessionStore` on a Redis server (``pip install guardgraph[redis]``).

    ``client``: a ``redis.Redis`` (or compatible); or give ``url``. ``prefix`` namespaces
    the keys; ``ttl_s`` expires idle sessions; ``max_retries`` bounds the optimistic loop
    under contention (then `StoreError`, which the guard turns into a deny).
    """

    def __init__(self, client: Any = None, *, url: str = "redis://127.0.0.1:6379/0",
                 prefix: str = "guardgraph:session:", ttl_s: int | None = None,
                 max_retries: int = 10_000) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise StoreError("RedisStore needs the redis package: "
                             "pip install 'guardgraph[redis]'") from exc
        self._redis = redis
        self._client = client if client is not None else redis.Redis.from_url(url)
        self._prefix = prefix
        self._ttl = ttl_s
        self._max_retries = max_retries

    def key(self, session_id: str) -> str:
        return f"{self._prefix}{session_id}"

    def transact(self, session_id: str, fn: Callable[[MonitorState], tuple[T, bool]]) -> T:
        key = self.key(session_id)
        errors = self._redis.exceptions
        try:
            with self._client.pipeline() as pipe:
                for attempt in range(self._max_retries):
                    try:
                        pipe.watch(key)
                        raw = pipe.get(key)
                        state = _load(raw)
                        result, changed = fn(state)
                        if not changed:
                            pipe.unwatch()
                            return result
                        pipe.multi()
                        if self._ttl is None:
                            pipe.set(key, encode_state(state))
                        else:
                            pipe.set(key, encode_state(state), ex=self._ttl)
                        pipe.execute()
                        return result
                    except errors.WatchError:
                        # Another replica committed first: back off a little, retry on
                        # its state. The delay grows so a hot key does not spin.
                        time.sleep(min(0.001 * (attempt % 8), 0.005))
                        continue
        except errors.RedisError as exc:
            raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
        raise StoreError(f"session {session_id!r}: gave up after {self._max_retries} "
                         "conflicting transactions")

    def export(self, session_id: str) -> bytes:
        raw = self._client.get(self.key(session_id))
        return encode_state(_load(raw))

    def restore(self, session_id: str, data: bytes) -> None:
        decode_state(data)  # refuse to store something that would not load
        self._client.set(self.key(session_id), data)

    def drop(self, session_id: str) -> None:
        self._client.delete(self.key(session_id))
