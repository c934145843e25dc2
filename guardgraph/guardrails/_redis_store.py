"""Session state in Redis, so several orchestrator replicas enforce one budget.

A session is an append-only event log in Redis (``<prefix><session>:log``, one entry per
committed event) on top of a snapshot (``:base``) and an epoch counter (``:epoch``). Each
process keeps a replica of the state and catches it up by replaying the log entries it has
not seen, so a check reads only what changed since its last one: its cost does not grow
with the session. A check-and-commit is an optimistic transaction: ``WATCH`` the log and
the epoch, catch up, run the check, then ``MULTI; RPUSH events; EXEC``; if another replica
committed in between (``WatchError``) it runs again on the newer state. No lock is held
that a crashed replica could leave behind. Long logs are folded into a new snapshot
(a new epoch) so that a replica joining late replays little.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from guardgraph.guardrails._monitor import MonitorState
from guardgraph.guardrails._store import (
    Apply,
    Event,
    StoreError,
    decode_event,
    decode_state,
    encode_event,
    encode_state,
)

__all__ = ["RedisStore"]

T = TypeVar("T")


def _bytes(raw: object) -> bytes:
    if isinstance(raw, str):  # a client made with decode_responses=True
        return raw.encode()
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    raise StoreError(f"unexpected value type {type(raw).__name__} in session state")


class _Replica:
    __slots__ = ("applied", "epoch", "state")

    def __init__(self, epoch: int, state: MonitorState) -> None:
        self.epoch = epoch
        self.state = state
        self.applied = 0  # log entries of this epoch folded into `state`


class RedisStore:
    """A `SessionStore` on a Redis server (``pip install guardgraph[redis]``).

    ``client``: a ``redis.Redis`` (or compatible); or give ``url``. ``prefix`` namespaces
    the keys; ``ttl_s`` expires idle sessions; ``max_retries`` bounds the optimistic loop
    under contention (then `StoreError`, which the guard turns into a deny);
    ``compact_after`` log entries are folded into a snapshot; ``replicas`` bounds the
    sessions this process keeps warm.
    """

    def __init__(self, client: Any = None, *, url: str = "redis://127.0.0.1:6379/0",
                 prefix: str = "guardgraph:session:", ttl_s: int | None = None,
                 max_retries: int = 10_000, compact_after: int = 10_000,
                 replicas: int = 4096) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise StoreError("RedisStore needs the redis package: "
                             "pip install 'guardgraph[redis]'") from exc
        self._errors = redis.exceptions
        self._client = client if client is not None else redis.Redis.from_url(url)
        self._prefix = prefix
        self._ttl = ttl_s
        self._max_retries = max_retries
        self._compact_after = compact_after
        self._max_replicas = replicas
        self._replicas: OrderedDict[str, _Replica] = OrderedDict()
        # One transaction per session at a time in this process: replicas are mutable.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _keys(self, session_id: str) -> tuple[str, str, str]:
        base = f"{self._prefix}{session_id}"
        return f"{base}:log", f"{base}:base", f"{base}:epoch"

    def _lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = threading.Lock()
            return lock

    def _catch_up(self, pipe: Any, session_id: str, apply: Apply) -> tuple[_Replica, int]:
        """This process's replica, brought up to the log as of now; and the log length."""
        log, base, epoch_key = self._keys(session_id)
        epoch = int(pipe.get(epoch_key) or 0)
        replica = self._replicas.get(session_id)
        if replica is None or replica.epoch != epoch:
            raw = pipe.get(base)
            replica = _Replica(epoch, decode_state(_bytes(raw)) if raw else MonitorState())
        for entry in pipe.lrange(log, replica.applied, -1):
            apply(replica.state, decode_event(_bytes(entry)))
            replica.applied += 1
        self._replicas[session_id] = replica
        self._replicas.move_to_end(session_id)
        while len(self._replicas) > self._max_replicas:
            self._replicas.popitem(last=False)
        return replica, replica.applied

    def transact(self, session_id: str, fn: Callable[[MonitorState], tuple[T, list[Event]]],
                 apply: Apply) -> T:
        log, base, epoch_key = self._keys(session_id)
        try:
            with self._lock(session_id), self._client.pipeline() as pipe:
                for attempt in range(self._max_retries):
                    try:
                        pipe.watch(log, epoch_key)
                        replica, length = self._catch_up(pipe, session_id, apply)
                        result, events = fn(replica.state)
                        if not events:
                            pipe.unwatch()
                            return result
                        pipe.multi()
                        pipe.rpush(log, *[encode_event(e) for e in events])
                        if self._ttl is not None:
                            for key in (log, base, epoch_key):
                                pipe.expire(key, self._ttl)
                        pipe.execute()
                    except self._errors.WatchError:
                        # Another replica committed first: catch up and check again. The
                        # pause grows a little so that a hot session does not spin.
                        time.sleep(min(0.0005 * (attempt % 8), 0.004))
                        continue
                    for event in events:
                        apply(replica.state, event)
                    replica.applied += len(events)
                    if length + len(events) >= self._compact_after:
                        self._compact(session_id, replica)
                    return result
        except self._errors.RedisError as exc:
            raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
        raise StoreError(f"session {session_id!r}: gave up after {self._max_retries} "
                         "conflicting transactions")

    def _compact(self, session_id: str, replica: _Replica) -> None:
        """Fold the log into a snapshot under a new epoch, if nobody appended meanwhile."""
        log, base, epoch_key = self._keys(session_id)
        with self._client.pipeline() as pipe:
            try:
                pipe.watch(log, epoch_key)
                if int(pipe.get(epoch_key) or 0) != replica.epoch or \
                        pipe.llen(log) != replica.applied:
                    pipe.unwatch()
                    return
                pipe.multi()
                pipe.set(base, encode_state(replica.state))
                pipe.delete(log)
                pipe.incr(epoch_key)
                pipe.execute()
            except self._errors.WatchError:
                return  # someone else committed; a later commit compacts
        replica.epoch += 1
        replica.applied = 0

    def restore(self, session_id: str, data: bytes) -> None:
        decode_state(data)  # refuse to store something that would not load
        log, base, epoch_key = self._keys(session_id)
        with self._lock(session_id), self._client.pipeline() as pipe:
            pipe.multi()
            pipe.set(base, data)
            pipe.delete(log)
            pipe.incr(epoch_key)
            pipe.execute()
        self._replicas.pop(session_id, None)

    def drop(self, session_id: str) -> None:
        self._client.delete(*self._keys(session_id))
        self._replicas.pop(session_id, None)
