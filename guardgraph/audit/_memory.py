"""The in-memory store: the reference backend for tests and short-lived runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from guardgraph.audit._canonical import GENESIS_HASH
from guardgraph.audit._chain import (
    StoredRow,
    assemble,
    default_clock,
    default_id,
    fresh_events,
    seal,
)
from guardgraph.audit._checkpoint import SignedCheckpoint
from guardgraph.audit._merkle import NodeKey, root_keys
from guardgraph.audit._query import QueryFilter
from guardgraph.audit._store import RawRecord, check_options
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.errors import AuditStoreError, AuditVerificationError

__all__ = ["MemoryStore"]

# read_only is accepted so that every backend takes the same options; a memory store
# that did not exist before has nothing to protect.
_OPTIONS = frozenset({"clock", "id_factory", "read_only"})


class MemoryStore:
    """A thread-safe store in process memory; nothing survives the process."""

    def __init__(self, **options: Any) -> None:
        check_options("memory", options, _OPTIONS)
        self._clock = options.get("clock", default_clock)
        self._new_id = options.get("id_factory", default_id)
        self._lock = threading.RLock()
        self._rows: list[StoredRow] = []
        self._records: list[AuditRecord] = []
        self._by_id: dict[str, int] = {}
        self._by_key: dict[str, int] = {}
        self._nodes: dict[NodeKey, bytes] = {}
        self._checkpoints: dict[int, SignedCheckpoint] = {}

    def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        with self._lock:
            existing = {
                k: self._records[self._by_key[k]]
                for ev in events
                if (k := ev.idempotency_key) is not None and k in self._by_key
            }
            fresh = fresh_events(events, existing)
            size = len(self._rows)
            prev = self._rows[-1].hash if self._rows else GENESIS_HASH
            frontier = [self._nodes[k] for k in root_keys(size)]
            sealed = seal(
                fresh, size=size, prev_hash=prev, frontier=frontier,
                clock=self._clock, new_id=self._new_id,
            )
            for row in sealed.rows:
                if row.id in self._by_id:
                    raise AuditStoreError(f"duplicate record id {row.id!r}")
            for row, rec in zip(sealed.rows, sealed.records, strict=True):
                self._by_id[row.id] = row.seq
                if row.idempotency_key is not None:
                    self._by_key[row.idempotency_key] = row.seq
                self._rows.append(row)
                self._records.append(rec)
            for level, idx, h in sealed.nodes:
                self._nodes[(level, idx)] = h
            return assemble(events, sealed.records, existing)

    def get(self, record_id: str) -> AuditRecord | None:
        with self._lock:
            seq = self._by_id.get(record_id)
            return None if seq is None else self._records[seq]

    def get_by_key(self, idempotency_key: str) -> AuditRecord | None:
        with self._lock:
            seq = self._by_key.get(idempotency_key)
            return None if seq is None else self._records[seq]

    def ids_with_prefix(self, prefix: str, *, limit: int = 2) -> list[str]:
        with self._lock:
            ids = [i for i in self._by_id if i.startswith(prefix)]
        return sorted(ids)[:limit]

    def size(self) -> int:
        with self._lock:
            return len(self._rows)

    def iter_records(self, *, start: int = 0, stop: int | None = None) -> Iterator[AuditRecord]:
        with self._lock:
            records = self._records[start:stop]
        return iter(records)

    def iter_raw(self, *, start: int = 0, stop: int | None = None) -> Iterator[RawRecord]:
        with self._lock:
            rows = self._rows[start:stop]
        return ((r.seq, r.hash, r.body) for r in rows)

    def query(
        self,
        *,
        session: str | None = None,
        actor: str | None = None,
        kind: EventKind | str | None = None,
        decision: str | None = None,
        rule: str | None = None,
        tool: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> Iterator[AuditRecord]:
        flt = QueryFilter.make(
            session=session, actor=actor, kind=kind, decision=decision, rule=rule,
            tool=tool, since=since, until=until, limit=limit,
        )
        with self._lock:
            pairs = list(zip(self._rows, self._records, strict=True))
        out = (rec for row, rec in pairs if flt.matches(row))
        return flt.limited(out)

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        with self._lock:
            try:
                return {k: self._nodes[k] for k in keys}
            except KeyError as exc:
                raise AuditStoreError(f"Merkle node {exc.args[0]} is not stored") from None

    def checkpoints(self) -> list[SignedCheckpoint]:
        with self._lock:
            return [self._checkpoints[s] for s in sorted(self._checkpoints)]

    def get_checkpoint(self, size: int | None = None) -> SignedCheckpoint | None:
        with self._lock:
            if size is None:
                return self._checkpoints[max(self._checkpoints)] if self._checkpoints else None
            return self._checkpoints.get(size)

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        with self._lock:
            have = self._checkpoints.setdefault(checkpoint.size, checkpoint)
            if have.root_hash != checkpoint.root_hash:
                raise AuditVerificationError(
                    f"a checkpoint of size {checkpoint.size} with another root is stored",
                    code="GG505",
                )
            return have

    def close(self) -> None:
        """Nothing to release; the records live as long as the object."""

    # Test hooks for tamper tests: a memory store is as mutable as any database file.
    def _raw_rows(self) -> list[StoredRow]:
        return self._rows

    def _raw_nodes(self) -> dict[NodeKey, bytes]:
        return self._nodes
