"""Canonical bytes and hashes of audit records: the one definition every backend shares.

A record's hash is SHA-256 over its canonical JSON (sorted keys, no whitespace, UTF-8),
every field included except ``hash`` itself, so the record commits to ``prev_hash`` and the
log forms a chain. The record's Merkle leaf is the RFC 6962 leaf hash of that digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from guardgraph.audit.events import AuditRecord, EventKind

__all__ = [
    "GENESIS_HASH",
    "JSON_ENCODER",
    "canonical_json",
    "idempotency_key",
    "leaf_hash",
    "node_hash",
    "record_body",
    "record_fields",
    "record_from_body",
    "record_hash",
]

# The first record's predecessor: 32 zero bytes, so every record has a prev_hash.
GENESIS_HASH = "0" * 64

_LEAF_PREFIX = b"\x00"  # RFC 6962 section 2.1: domain separation of leaves and nodes
_NODE_PREFIX = b"\x01"


# Built once: json.dumps with options constructs a new encoder on every call.
JSON_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8; the bytes every hash is taken over.

    >>> canonical_json({"b": 1, "a": [True, None, "é"]})
    b'{"a":[true,null,"\\xc3\\xa9"],"b":1}'
    """
    return JSON_ENCODER.encode(value).encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 MTH of one entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def record_fields(record: AuditRecord) -> dict[str, Any]:
    """Every field the record hash covers (all but ``hash`` itself), JSON-ready."""
    return {
        "id": record.id,
        "seq": record.seq,
        "timestamp": record.timestamp,
        "session": record.session,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "actor": record.actor,
        "kind": str(record.kind),
        "payload": record.payload,
        "spec_name": record.spec_name,
        "spec_version": record.spec_version,
        "spec_hash": record.spec_hash,
        "decision": record.decision,
        "rule_ids": list(record.rule_ids),
        "provenance": list(record.provenance),
        "idempotency_key": record.idempotency_key,
        "prev_hash": record.prev_hash,
    }


def record_body(record: AuditRecord) -> bytes:
    """The canonical bytes a record's hash is taken over (every field but ``hash``)."""
    return canonical_json(record_fields(record))


def record_hash(record: AuditRecord) -> str:
    """Hex SHA-256 of :func:`record_body`; what ``record.hash`` must equal."""
    return hashlib.sha256(record_body(record)).hexdigest()


def record_from_body(body: bytes | str, hash_hex: str) -> AuditRecord:
    """Rebuild a record from its stored canonical body (the store's source of truth)."""
    d: Mapping[str, Any] = json.loads(body)
    return AuditRecord(
        id=d["id"],
        seq=d["seq"],
        timestamp=d["timestamp"],
        session=d["session"],
        trace_id=d["trace_id"],
        span_id=d["span_id"],
        actor=d["actor"],
        kind=EventKind(d["kind"]),
        payload=d["payload"],
        spec_name=d["spec_name"],
        spec_version=d["spec_version"],
        spec_hash=d["spec_hash"],
        decision=d["decision"],
        rule_ids=tuple(d["rule_ids"]),
        provenance=tuple(d["provenance"]),
        idempotency_key=d["idempotency_key"],
        prev_hash=d["prev_hash"],
        hash=hash_hex,
    )


def idempotency_key(
    *, thread: str, checkpoint: str, task: str, tool_call: str = "", phase: str = ""
) -> str:
    """One key per (thread, checkpoint, task, tool call, phase): a LangGraph replay of the
    same node reuses it, so the store returns the existing record instead of a duplicate.

    >>> idempotency_key(thread="t1", checkpoint="c7", task="n", tool_call="call_1", phase="verdict")
    '["t1","c7","n","call_1","verdict"]'
    """
    return canonical_json([thread, checkpoint, task, tool_call, phase]).decode("utf-8")
