"""Sealing a batch: events become hash-chained records and new Merkle nodes.

Every backend calls :func:`seal` while it holds its append lock, so the chain logic exists
once. The canonical body is stored verbatim; it is the source of truth a record is rebuilt
from, and the bytes its hash is taken over.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from guardgraph.audit._canonical import JSON_ENCODER, leaf_hash
from guardgraph.audit._merkle import Frontier
from guardgraph.audit.events import AuditRecord, Event, check_event, payload_json
from guardgraph.errors import AuditConflictError, AuditPayloadError

__all__ = [
    "Clock",
    "IdFactory",
    "Sealed",
    "StoredRow",
    "assemble",
    "body_seq_and_prev",
    "default_clock",
    "default_id",
    "fresh_events",
    "rules_column",
    "seal",
]

Clock = Callable[[], str]
_ENCODE = JSON_ENCODER.encode
_STR = encode_basestring  # JSON string literal, non-ASCII kept (ensure_ascii=False)
IdFactory = Callable[[], str]


def default_clock() -> str:
    """UTC now as RFC 3339 with microseconds; fixed width, so strings sort as times."""
    # isoformat is several times cheaper than strftime on the append hot path
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def default_id() -> str:
    """A record id: 12 hex digits of milliseconds since the epoch, then 80 random bits.

    Time-ordered, like UUIDv7, so the unique index on ids grows at its right edge instead
    of taking random B-tree inserts that slow appends as the log grows.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def _value(v: Any) -> str:
    # Scalars only, for the same reason as _strings; payload is the one nested field.
    if v is None:
        return "null"
    if type(v) is str:
        return _STR(v)
    if type(v) in (int, float, bool):
        return _ENCODE(v)
    raise TypeError(f"record fields other than payload must be scalars, got {v!r}")


def _strings(items: tuple[str, ...], what: str) -> str:
    # Strings only: the verifier's fast path relies on every key after prev_hash holding a
    # scalar or a list of strings (see body_seq_and_prev).
    if not all(type(x) is str for x in items):
        raise TypeError(f"{what} must hold strings, got {list(items)!r}")
    return "[" + ",".join(map(_STR, items)) + "]"


def _encode(
    ev: Event, payload: dict[str, Any], record_id: str, seq: int, timestamp: str,
    rule_ids: tuple[str, ...], prev: str,
) -> bytes:
    """Canonical JSON of a record (sorted keys, no whitespace), written out by hand: the
    generic sorted encoder costs more than the rest of an append. A property test keeps it
    byte-equal to ``canonical_json`` of the record's fields."""
    provenance = _strings(tuple(ev.provenance), "provenance")
    rules = _strings(rule_ids, "rule_ids")
    return (
        f'{{"actor":{_value(ev.actor)},"decision":{_value(ev.decision)},'
        f'"id":{_value(record_id)},"idempotency_key":{_value(ev.idempotency_key)},'
        f'"kind":{_STR(str(ev.kind))},"payload":{_ENCODE(payload)},'
        f'"prev_hash":{_value(prev)},"provenance":{provenance},"rule_ids":{rules},'
        f'"seq":{_ENCODE(seq)},"session":{_value(ev.session)},'
        f'"span_id":{_value(ev.span_id)},"spec_hash":{_value(ev.spec_hash)},'
        f'"spec_name":{_value(ev.spec_name)},"spec_version":{_value(ev.spec_version)},'
        f'"timestamp":{_value(timestamp)},"trace_id":{_value(ev.trace_id)}}}'
    ).encode()


class StoredRow(NamedTuple):
    """What a backend writes for one record: the body plus the query index columns.

    A named tuple, not a dataclass, because it is built once per record on the append hot
    path and its field order is exactly the SQL column order backends insert.
    """

    seq: int
    prev_seq: int | None  # seq - 1; a foreign key to it makes the sequence gapless
    id: str
    hash: str
    body: bytes
    session: str
    actor: str
    kind: str
    decision: str | None
    tool: str | None
    rules: str  # rule ids framed by unit separators: see rules_column
    timestamp: str
    idempotency_key: str | None


def rules_column(rule_ids: Sequence[str]) -> str:
    """Rule ids framed by unit separators, so a substring search finds whole ids only."""
    return "\x1f" + "\x1f".join(rule_ids) + "\x1f" if rule_ids else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sealed:
    records: list[AuditRecord]
    rows: list[StoredRow]
    nodes: list[tuple[int, int, bytes]]  # (level, index, hash), leaves included
    last_hash: str


def seal(
    events: Sequence[Event],
    *,
    size: int,
    prev_hash: str,
    frontier: Sequence[bytes],
    clock: Clock,
    new_id: IdFactory,
) -> Sealed:
    """Chain ``events`` after a log of ``size`` records whose last hash is ``prev_hash``."""
    tree = Frontier(size, frontier)
    nodes: list[tuple[int, int, bytes]] = []
    records: list[AuditRecord] = []
    rows: list[StoredRow] = []
    seq = size
    for ev in events:
        try:
            # The schema is checked here, under the append lock of every backend, so no
            # store can hold a record its kind's schema does not describe.
            check_event(ev)
            payload = payload_json(ev.kind, ev.payload)
        except AuditPayloadError as exc:
            raise AuditPayloadError(
                f"event {seq - size} of the batch (kind {ev.kind}, session {ev.session!r}): "
                f"{exc}"
            ) from None
        record_id = ev.id or new_id()
        rule_ids = tuple(ev.rule_ids)
        timestamp = ev.timestamp or clock()
        try:
            body = _encode(ev, payload, record_id, seq, timestamp, rule_ids, prev_hash)
        except (TypeError, ValueError) as exc:
            raise AuditPayloadError(
                f"event {seq - size} of the batch (kind {ev.kind}, session {ev.session!r}) "
                f"is not JSON-serialisable: {exc}"
            ) from None
        digest = hashlib.sha256(body)
        record_hash = digest.hexdigest()
        tree.append(leaf_hash(digest.digest()), nodes)
        tool = payload.get("tool")
        records.append(
            AuditRecord(
                id=record_id,
                seq=seq,
                timestamp=timestamp,
                session=ev.session,
                trace_id=ev.trace_id,
                span_id=ev.span_id,
                actor=ev.actor,
                kind=ev.kind,
                payload=payload,
                spec_name=ev.spec_name,
                spec_version=ev.spec_version,
                spec_hash=ev.spec_hash,
                decision=ev.decision,
                rule_ids=rule_ids,
                provenance=tuple(ev.provenance),
                idempotency_key=ev.idempotency_key,
                prev_hash=prev_hash,
                hash=record_hash,
            )
        )
        rows.append(
            StoredRow(
                seq, seq - 1 if seq else None, record_id, record_hash, body, ev.session,
                ev.actor, str(ev.kind), ev.decision, tool if isinstance(tool, str) else None,
                rules_column(ev.rule_ids), timestamp, ev.idempotency_key,
            )
        )
        prev_hash = record_hash
        seq += 1
    return Sealed(records=records, rows=rows, nodes=nodes, last_hash=prev_hash)


_PREV = b'"prev_hash":"'
_SEQ = b',"seq":'


def body_seq_and_prev(body: bytes) -> tuple[int, str]:
    """The ``seq`` and ``prev_hash`` a canonical body commits to, without a JSON parse.

    Sound because in canonical JSON every key that sorts after these two holds a scalar or a
    list of strings, and strings escape quotes: the last match is the top-level key. The
    verifier's deep mode parses fully instead.
    """
    i = body.rfind(_PREV)
    j = body.rfind(_SEQ)
    if i < 0 or j < 0:
        raise ValueError("the body is not a canonical audit record")
    prev = body[i + 13 : i + 77].decode("ascii")
    end = body.index(b",", j + 7)
    return int(body[j + 7 : end]), prev


def _content(kind: str, session: str, actor: str, payload: Any, provenance: Sequence[str],
             decision: str | None, rule_ids: Sequence[str], spec: tuple[Any, ...]) -> bytes:
    return JSON_ENCODER.encode(
        [kind, session, actor, payload, list(provenance), decision, list(rule_ids), list(spec)]
    ).encode()


def _event_content(ev: Event) -> bytes:
    try:
        payload = payload_json(ev.kind, ev.payload)
    except AuditPayloadError:
        return b""  # seal names the schema error; a bad event never matches a record
    return _content(str(ev.kind), ev.session, ev.actor, payload, ev.provenance, ev.decision,
                    ev.rule_ids, (ev.spec_name, ev.spec_version, ev.spec_hash))


def _record_content(rec: AuditRecord) -> bytes:
    return _content(str(rec.kind), rec.session, rec.actor, rec.payload, rec.provenance,
                    rec.decision, rec.rule_ids, (rec.spec_name, rec.spec_version,
                                                 rec.spec_hash))


def _conflict(key: str, seq: int | None) -> AuditConflictError:
    where = f"record {seq}" if seq is not None else "an earlier event of this batch"
    return AuditConflictError(
        f"event id {key!r} is already used by {where} with other content; a retry must "
        "carry the same event (use a new event id for a new event)"
    )


def fresh_events(events: Sequence[Event], existing: Mapping[str, AuditRecord]) -> list[Event]:
    """The events a batch must write: no stored key, and only a key's first occurrence.

    A retry is recognised by its event id (the idempotency key) and must carry the same
    content (kind, session, actor, payload, provenance, verdict, spec; not the id or time,
    which a retry may draw afresh): a different event under a used id is refused with
    :class:`AuditConflictError`, never silently answered with the other record.
    """
    fresh: list[Event] = []
    seen: dict[str, Event] = {}
    for ev in events:
        key = ev.idempotency_key
        if key is None:
            fresh.append(ev)
            continue
        stored = existing.get(key)
        if stored is not None:
            if _event_content(ev) != _record_content(stored):
                raise _conflict(key, stored.seq)
            continue
        first = seen.get(key)
        if first is not None:
            # Compared only on a repeat: the common, unrepeated event costs nothing here.
            if _event_content(ev) != _event_content(first):
                raise _conflict(key, None)
            continue
        seen[key] = ev
        fresh.append(ev)
    return fresh


def assemble(
    events: Sequence[Event],
    written: Sequence[AuditRecord],
    existing: Mapping[str, AuditRecord],
) -> list[AuditRecord]:
    """One record per input event, in input order: written ones, or the stored duplicate."""
    by_key = dict(existing)
    keyless: list[AuditRecord] = []
    for r in written:
        if r.idempotency_key is None:
            keyless.append(r)
        else:
            by_key[r.idempotency_key] = r
    it = iter(keyless)
    return [
        next(it) if ev.idempotency_key is None else by_key[ev.idempotency_key] for ev in events
    ]
