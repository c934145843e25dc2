"""Owns audit-log queries: the filter value, its matching, and records as JSON objects.

A ``RecordFilter`` is applied by the store when it can (``AuditStore.query`` uses indexes)
and by ``matches`` on any iterable of records otherwise (tests, in-memory lists); both give
the same answer, which the tests check.

>>> f = RecordFilter(decision="deny", tool="send_money")
>>> f.describe()
'tool=send_money decision=deny'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from guardgraph.audit._timestamps import format_rfc3339, parse_rfc3339
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.errors import AuditError

__all__ = [
    "RecordFilter",
    "matches",
    "parse_timestamp",
    "query_records",
    "record_as_json",
    "record_tool",
]

parse_timestamp = parse_rfc3339  # public name for filter bounds given as text


@runtime_checkable
class _Queryable(Protocol):
    def query(
        self,
        *,
        session: str | None = ...,
        actor: str | None = ...,
        kind: EventKind | None = ...,
        decision: str | None = ...,
        rule: str | None = ...,
        tool: str | None = ...,
        since: str | None = ...,
        until: str | None = ...,
        limit: int | None = ...,
    ) -> Iterator[AuditRecord]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFilter:
    """Which records to return; every set field must match (AND).

    ``since`` is inclusive and ``until`` exclusive, as in the stores, so consecutive windows
    never count a record twice.
    ``agent`` matches the record's actor (the contract: a record's agent is its actor).
    """

    session: str | None = None
    agent: str | None = None
    tool: str | None = None
    rule: str | None = None
    decision: str | None = None
    kind: EventKind | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise AuditError(f"expected limit >= 0, got {self.limit}")
        if self.since and self.until and self.since > self.until:
            raise AuditError(
                f"expected since <= until, got since={self.since.isoformat()} "
                f"until={self.until.isoformat()}"
            )

    def describe(self) -> str:
        """The set fields as ``name=value`` pairs, for messages."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                text = value.isoformat() if isinstance(value, datetime) else str(value)
                parts.append(f"{f.name}={text}")
        return " ".join(parts) or "(all records)"


def record_tool(record: AuditRecord) -> str | None:
    """The tool a record is about: ``payload["tool"]`` when present (the store contract)."""
    tool = record.payload.get("tool")
    return tool if isinstance(tool, str) else None


def matches(record: AuditRecord, flt: RecordFilter) -> bool:
    """Whether one record passes the filter (``limit`` is not a per-record property)."""
    if flt.session is not None and record.session != flt.session:
        return False
    if flt.agent is not None and record.actor != flt.agent:
        return False
    if flt.tool is not None and record_tool(record) != flt.tool:
        return False
    if flt.rule is not None and flt.rule not in record.rule_ids:
        return False
    if flt.decision is not None and record.decision != flt.decision:
        return False
    if flt.kind is not None and record.kind is not flt.kind:
        return False
    if flt.since is not None or flt.until is not None:
        when = parse_rfc3339(record.timestamp)
        if flt.since is not None and when < flt.since:
            return False
        if flt.until is not None and when >= flt.until:
            return False
    return True


def query_records(source: _Queryable | Iterable[AuditRecord], flt: RecordFilter) -> Iterator[
    AuditRecord
]:
    """Records matching ``flt`` in log order, from a store (indexed) or any iterable."""
    if isinstance(source, _Queryable):
        yield from source.query(
            session=flt.session,
            actor=flt.agent,
            kind=flt.kind,
            decision=flt.decision,
            rule=flt.rule,
            tool=flt.tool,
            since=_bound(flt.since),
            until=_bound(flt.until),
            limit=flt.limit,
        )
        return
    remaining = flt.limit
    for record in source:
        if remaining is not None and remaining <= 0:
            return
        if matches(record, flt):
            yield record
            if remaining is not None:
                remaining -= 1


def _bound(value: datetime | None) -> str | None:
    if value is None:
        return None
    # Stores compare fixed-width RFC 3339 text, so the bound takes exactly that form.
    return format_rfc3339(value)


def record_as_json(record: AuditRecord) -> dict[str, Any]:
    """A record as a JSON-ready dict (one line of ``audit query --format jsonl``)."""
    return {
        "id": record.id,
        "seq": record.seq,
        "timestamp": record.timestamp,
        "session": record.session,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "actor": record.actor,
        "kind": record.kind.value,
        "tool": record_tool(record),
        "decision": record.decision,
        "rule_ids": list(record.rule_ids),
        "payload": record.payload,
        "spec": None
        if record.spec_name is None
        else {"name": record.spec_name, "version": record.spec_version, "hash": record.spec_hash},
        "provenance": list(record.provenance),
        "idempotency_key": record.idempotency_key,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }
