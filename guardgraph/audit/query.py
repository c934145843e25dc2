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
from guardgraph.audit.events import DECISIONS, AuditRecord, EventKind
from guardgraph.errors import AuditError

__all__ = [
    "RecordFilter",
    "matches",
    "parse_timestamp",
    "query_records",
    "record_as_json",
    "record_tool",
    "resolve_id",
    "short_ids",
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
        if self.decision is not None and self.decision not in DECISIONS:
            raise AuditError(
                f"unknown decision {self.decision!r}; expected one of {', '.join(DECISIONS)}"
            )
        if self.kind is not None and not isinstance(self.kind, EventKind):
            try:
                object.__setattr__(self, "kind", EventKind(self.kind))
            except ValueError:
                raise AuditError(
                    f"unknown record kind {self.kind!r}; expected one of "
                    + ", ".join(k.value for k in EventKind)
                ) from None
        for name in ("since", "until"):
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    object.__setattr__(self, name, parse_rfc3339(value))
                except ValueError as exc:
                    raise AuditError(f"{name}: {exc}") from None
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
    return record.tool


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


def short_ids(store: _Prefixed, ids: Iterable[str], *, minimum: int = 8) -> dict[str, str]:
    """The shortest prefix (at least ``minimum`` characters) of each id that no other record
    of the log shares, so an id shown short names one record and can be typed back.

    Time-ordered ids share their leading digits within a second; the prefix grows until it
    reaches the random part.
    """
    out: dict[str, str] = {}
    for rid in ids:
        if rid in out:
            continue
        size = min(minimum, len(rid))
        while size < len(rid) and store.ids_with_prefix(rid[:size], limit=2) != [rid]:
            size += 2
        out[rid] = rid[: min(size, len(rid))]
    return out


def resolve_id(store: _Prefixed, ref: str) -> str:
    """The id of the record ``ref`` names: a full id, a sequence number or a unique id
    prefix (as :func:`short_ids` shows); raises ``AuditError`` when none or several match."""
    if store.get(ref) is not None:
        return ref
    if ref.isdigit():
        for record in store.iter_records(start=int(ref), stop=int(ref) + 1):
            return record.id
    found = store.ids_with_prefix(ref, limit=3) if len(ref) >= 4 else []
    if len(found) > 1:
        raise AuditError(f"id prefix {ref!r} is ambiguous: it starts {', '.join(found)}"
                         f"{', ...' if len(found) > 2 else ''}")
    if not found:
        raise AuditError(f"no record with id, prefix or sequence number {ref!r} in the log")
    return found[0]


class _Prefixed(Protocol):
    def ids_with_prefix(self, prefix: str, *, limit: int = 2) -> list[str]: ...

    def get(self, record_id: str) -> AuditRecord | None: ...

    def iter_records(self, *, start: int = 0, stop: int | None = None
                     ) -> Iterator[AuditRecord]: ...


def _bound(value: datetime | None) -> str | None:
    if value is None:
        return None
    # Stores compare fixed-width RFC 3339 text, so the bound takes exactly that form.
    return format_rfc3339(value)


def record_as_json(record: AuditRecord) -> dict[str, Any]:
    """A record as a JSON-ready dict: :meth:`AuditRecord.to_json`."""
    return record.to_json()
