"""Session state in Redis, so several orchestrator replicas enforce one budget.

A session is an append-only event log (``<prefix><session>:log``) on top of a snapshot
(``:base``), plus two durable markers that never expire: ``:epoch`` (bumped by each
compaction and restore) and ``:seq`` (events committed so far, never decreasing), and a
``:dropped`` tombstone. Each process keeps a replica of the state and catches it up by
replaying the log entries it has not seen, so a check reads only what changed since its
last one. A check-and-commit is an optimistic transaction: ``WATCH`` the log and the
markers, catch up, run the check, then ``MULTI; RPUSH; INCRBY seq; EXEC``; if another
replica committed in between it runs again on the newer state. No lock is held that a
crashed replica could leave behind.

Why a budget window cannot be reset (issue 11):
- a key expiring (``ttl_s`` applies to the log and snapshot only) or a drop leaves the
  markers: a session whose markers say it has committed events but whose state is gone
  is denied (GG414) until a blob is restored, never treated as a fresh session;
- a restart or failover that lost writes leaves ``(epoch, seq)`` behind what this process
  has seen (its fencing token): denied as rewound. A server that lost everything, seen by
  a process that never saw the session, cannot be told from a new session: keep Redis
  persistent (AOF) or restore from checkpoints;
- a lost ``EXEC`` reply is retried: the retry catches up first, finds the committed call
  id in the state, and commits nothing twice (the guard's commit is idempotent by id).
Events are checked and encoded before they are written; an entry that does not decode
denies only its own session, with the command to inspect it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from guardgraph.guardrails._store import (
    Event,
    StateCodec,
    StoreError,
    decode_event,
    dropped_error,
    encode_event,
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

    def __init__(self, epoch: int, state: Any) -> None:
        self.epoch = epoch
        self.state = state
        self.applied = 0  # log entries of this epoch folded into `state`


class RedisStore:
    """A `SessionStore` on a Redis server (``pip install guardgraph[redis]``).

    ``client``: a ``redis.Redis`` (or compatible); or give ``url``. ``prefix`` namespaces
    the keys; ``ttl_s`` expires idle sessions' state (the markers stay, so an expired
    session is denied until restored); ``max_retries`` bounds the optimistic loop under
    contention and ``lost_reply_retries`` the retries after a connection error (then
    `StoreError`, which the guard turns into a deny); ``compact_after`` log entries are
    folded into a snapshot; ``replicas`` bounds the sessions this process keeps warm.
    """

    def __init__(self, client: Any = None, *, url: str = "redis://127.0.0.1:6379/0",
                 prefix: str = "guardgraph:session:", ttl_s: int | None = None,
                 max_retries: int = 10_000, lost_reply_retries: int = 5,
                 compact_after: int = 10_000, replicas: int = 4096) -> None:
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
        self._lost_retries = lost_reply_retries
        self._compact_after = compact_after
        self._max_replicas = replicas
        self._replicas: OrderedDict[str, _Replica] = OrderedDict()
        # The fencing token per session: the highest (epoch, seq) this process has seen.
        self._fence: dict[str, tuple[int, int]] = {}
        # One transaction per session at a time in this process: replicas are mutable.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _keys(self, session_id: str) -> tuple[str, str, str, str, str]:
        base = f"{self._prefix}{session_id}"
        return f"{base}:log", f"{base}:base", f"{base}:epoch", f"{base}:seq", f"{base}:dropped"

    def _lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = threading.Lock()
            return lock

    def _hint(self, session_id: str) -> str:
        log, base, *_ = self._keys(session_id)
        return (f"inspect with `redis-cli LRANGE '{log}' 0 -1` and `redis-cli GET '{base}'`; "
                "repair by restoring a session blob (Guard.restore_session), or drop it")

    def _catch_up(self, session_id: str, codec: StateCodec) -> _Replica:
        """This process's replica, brought up to the log as of now (after ``WATCH``).

        The reads go in one round trip on a plain pipeline: ``WATCH`` on the transaction's
        connection already guards them, since any write after it fails the ``EXEC``.
        """
        log, base, epoch_key, seq_key, dropped_key = self._keys(session_id)
        replica = self._replicas.get(session_id)
        start = replica.applied if replica is not None else 0
        with self._client.pipeline(transaction=False) as r:
            r.mget(dropped_key, epoch_key, seq_key)
            r.exists(base)
            r.llen(log)
            r.lrange(log, start, -1)
            (dropped, raw_epoch, raw_seq), has_base, length, entries = r.execute()
        if dropped:
            raise dropped_error(session_id)
        epoch, seq = int(raw_epoch or 0), int(raw_seq or 0)
        fence = self._fence.get(session_id)
        if fence is not None and (epoch, seq) < fence:
            raise StoreError(
                f"session {session_id!r} was rewound: the server holds epoch {epoch} with "
                f"{seq} event(s), this process has seen epoch {fence[0]} with {fence[1]} "
                "(a restart or failover lost writes); checks are denied until it is restored",
                hint=self._hint(session_id))
        same_epoch = replica is not None and replica.epoch == epoch
        if (epoch > 0 and not has_base and seq > 0) or (same_epoch and length < start):
            self._replicas.pop(session_id, None)
            raise StoreError(
                f"session {session_id!r} has {seq} committed event(s) but its stored state "
                "is gone (expired or lost); checks are denied until it is restored, never "
                "run on a fresh session", hint=self._hint(session_id))
        try:
            if replica is None or not same_epoch:
                raw = self._client.get(base)
                replica = _Replica(epoch, codec.decode(_bytes(raw)) if raw else codec.new())
                entries = self._client.lrange(log, 0, -1)
            for entry in entries:
                codec.apply(replica.state, decode_event(_bytes(entry)))
                replica.applied += 1
        except StoreError as exc:
            self._replicas.pop(session_id, None)
            raise StoreError(f"session {session_id!r}: {exc}", hint=self._hint(session_id)
                             ) from None
        except Exception as exc:  # a well-formed entry that does not fold: corrupt too
            self._replicas.pop(session_id, None)
            raise StoreError(f"session {session_id!r}: corrupt event: "
                             f"{type(exc).__name__}: {exc}", hint=self._hint(session_id)
                             ) from None
        if replica.state.seq > seq:
            # Another replica appended between our reads of the marker and the log: the
            # transaction would fail; retry it on a fresh replica.
            self._replicas.pop(session_id, None)
            raise self._errors.WatchError("appended while catching up")
        if replica.state.seq < seq:
            self._replicas.pop(session_id, None)
            raise StoreError(
                f"session {session_id!r} has {seq} committed event(s) but its stored state "
                f"holds {replica.state.seq} (expired or lost); checks are denied until it "
                "is restored, never run on a fresh session", hint=self._hint(session_id))
        self._fence[session_id] = (epoch, seq)
        self._replicas[session_id] = replica
        self._replicas.move_to_end(session_id)
        while len(self._replicas) > self._max_replicas:
            self._replicas.popitem(last=False)
        return replica

    def transact(self, session_id: str, fn: Callable[[Any], tuple[T, Sequence[Event]]],
                 codec: StateCodec) -> T:
        log, base, epoch_key, seq_key, dropped_key = self._keys(session_id)
        lost = 0
        with self._lock(session_id):
            for attempt in range(self._max_retries):
                try:
                    with self._client.pipeline() as pipe:
                        pipe.watch(log, epoch_key, seq_key, dropped_key)
                        replica = self._catch_up(session_id, codec)
                        result, events = fn(replica.state)
                        if not events:
                            pipe.unwatch()
                            return result
                        for event in events:
                            codec.check_event(event)
                        encoded = [encode_event(e) for e in events]
                        pipe.multi()
                        pipe.rpush(log, *encoded)
                        pipe.incrby(seq_key, len(encoded))
                        if self._ttl is not None:
                            for key in (log, base):
                                pipe.expire(key, self._ttl)
                        pipe.execute()
                except self._errors.WatchError:
                    # Another replica committed first: catch up and check again. The
                    # pause grows a little so that a hot session does not spin.
                    time.sleep(min(0.0005 * (attempt % 8), 0.004))
                    continue
                except (self._errors.ConnectionError, self._errors.TimeoutError) as exc:
                    # The reply may be lost after the server committed: the retry catches
                    # up first and the guard finds its call id there (no double commit).
                    lost += 1
                    if lost > self._lost_retries:
                        raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
                    time.sleep(0.01 * lost)
                    continue
                except self._errors.RedisError as exc:
                    raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
                for event in events:
                    codec.apply(replica.state, event)
                replica.applied += len(events)
                self._fence[session_id] = (replica.epoch, replica.state.seq)
                if replica.applied >= self._compact_after:
                    self._compact(session_id, replica, codec)
                return result
        raise StoreError(f"session {session_id!r}: gave up after {self._max_retries} "
                         "conflicting transactions", code="GG408")

    def _compact(self, session_id: str, replica: _Replica, codec: StateCodec) -> None:
        """Fold the log into a snapshot under a new epoch, if nobody appended meanwhile."""
        log, base, epoch_key, seq_key, _ = self._keys(session_id)
        try:
            with self._client.pipeline() as pipe:
                pipe.watch(log, epoch_key, seq_key)
                if int(pipe.get(epoch_key) or 0) != replica.epoch or \
                        pipe.llen(log) != replica.applied:
                    pipe.unwatch()
                    return
                pipe.multi()
                pipe.set(base, codec.encode(replica.state))
                if self._ttl is not None:
                    pipe.expire(base, self._ttl)
                pipe.delete(log)
                pipe.incr(epoch_key)
                pipe.execute()
        except self._errors.RedisError:
            return  # a later commit compacts; the log is still whole
        replica.epoch += 1
        replica.applied = 0
        self._fence[session_id] = (replica.epoch, replica.state.seq)

    def restore(self, session_id: str, data: bytes, codec: StateCodec) -> None:
        state = codec.decode(data)  # refuse to store something that would not load
        log, base, epoch_key, seq_key, dropped_key = self._keys(session_id)
        try:
            with self._lock(session_id), self._client.pipeline() as pipe:
                pipe.multi()
                pipe.set(base, data)
                if self._ttl is not None:
                    pipe.expire(base, self._ttl)
                pipe.delete(log, dropped_key)
                pipe.incr(epoch_key)
                pipe.set(seq_key, state.seq)
                epoch = pipe.execute()[-2]
        except self._errors.RedisError as exc:
            raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
        self._replicas.pop(session_id, None)
        self._fence[session_id] = (int(epoch), state.seq)

    def drop(self, session_id: str) -> None:
        log, base, _, _, dropped_key = self._keys(session_id)
        try:
            with self._lock(session_id), self._client.pipeline() as pipe:
                pipe.multi()
                pipe.set(dropped_key, b"1")
                pipe.delete(log, base)
                pipe.execute()
        except self._errors.RedisError as exc:
            raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None
        self._replicas.pop(session_id, None)
