"""The store interface every backend implements (``stores.open_store`` picks one).

A store is append-only: ``append`` chains a batch under the backend's lock (SQLite
``BEGIN IMMEDIATE``, PostgreSQL ``SELECT ... FOR UPDATE`` on a head row) and returns only
after the batch is durably committed, so a tool never runs before its verdict record
exists. One conformance suite (tests/conformance/) runs against every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from guardgraph.audit._checkpoint import SignedCheckpoint
from guardgraph.audit._merkle import NodeKey
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.errors import AuditStoreError

__all__ = ["AuditStore", "RawRecord", "check_options"]

# (seq, hash hex, canonical body): the verifier's fast path, no per-record objects.
RawRecord = tuple[int, str, bytes]


@runtime_checkable
class AuditStore(Protocol):
    """An append-only, hash-chained, Merkle-indexed record store."""

    def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        """Chain and commit ``events`` atomically; returns one record per event, in order.

        An event whose ``idempotency_key`` is already stored (or repeated in the batch)
        yields the existing record and writes nothing.
        """
        ...

    def get(self, record_id: str) -> AuditRecord | None: ...

    def get_by_key(self, idempotency_key: str) -> AuditRecord | None: ...

    def ids_with_prefix(self, prefix: str, *, limit: int = 2) -> list[str]:
        """Up to ``limit`` record ids that start with ``prefix``, in id order."""
        ...

    def size(self) -> int: ...

    def iter_records(self, *, start: int = 0, stop: int | None = None) -> Iterator[AuditRecord]:
        """Records with ``start <= seq < stop`` in sequence order."""
        ...

    def iter_raw(self, *, start: int = 0, stop: int | None = None) -> Iterator[RawRecord]:
        """``(seq, hash, body)`` rows in sequence order, exactly as stored."""
        ...

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
        """Records matching every given filter, by sequence; ``since``/``until`` compare
        RFC 3339 timestamps (inclusive, exclusive)."""
        ...

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Stored Merkle nodes ``(level, index) -> hash``; raises when one is missing."""
        ...

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every stored signed checkpoint, by tree size."""
        ...

    def get_checkpoint(self, size: int | None = None) -> SignedCheckpoint | None:
        """The stored checkpoint of ``size`` records, or the latest one when ``size`` is None."""
        ...

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Store a signed checkpoint; returns the one stored for that size (a checkpoint of
        that size with another root is refused with ``AuditVerificationError`` GG505)."""
        ...

    def close(self) -> None: ...


def check_options(backend: str, options: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Reject misspelt options by name rather than ignoring them."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise AuditStoreError(
            f"unknown option(s) for the {backend} audit store: {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(allowed))}"
        )
