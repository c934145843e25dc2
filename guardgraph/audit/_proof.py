"""Inclusion and consistency proofs as portable values, and their offline verification.

A reviewer handed one record, its inclusion proof and a signed checkpoint can check, with
the log's public key alone, that the record is in the log the key signed; a consistency
proof shows that a later checkpoint extends an earlier one (RFC 9162 section 2.1).
Verification raises :class:`AuditVerificationError` naming what failed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guardgraph.audit._canonical import leaf_hash, record_fields, record_hash
from guardgraph.audit._checkpoint import SignedCheckpoint, Verifier
from guardgraph.audit._merkle import verify_consistency, verify_inclusion
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.errors import AuditVerificationError

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "proof_from_json",
    "record_from_json",
    "record_to_json",
    "verify_consistency_proof",
    "verify_inclusion_proof",
]

INCLUSION_FORMAT = "guardgraph-inclusion-proof/1"
CONSISTENCY_FORMAT = "guardgraph-consistency-proof/1"


def _bad(reason: str, **where: Any) -> AuditVerificationError:
    return AuditVerificationError(reason, code="GG506", **where)


def record_to_json(record: AuditRecord) -> dict[str, Any]:
    return {**record_fields(record), "hash": record.hash}


def record_from_json(d: Mapping[str, Any]) -> AuditRecord:
    try:
        return AuditRecord(
            id=d["id"], seq=d["seq"], timestamp=d["timestamp"], session=d["session"],
            trace_id=d["trace_id"], span_id=d["span_id"], actor=d["actor"],
            kind=EventKind(d["kind"]), payload=d["payload"], spec_name=d["spec_name"],
            spec_version=d["spec_version"], spec_hash=d["spec_hash"], decision=d["decision"],
            rule_ids=tuple(d["rule_ids"]), provenance=tuple(d["provenance"]),
            idempotency_key=d["idempotency_key"], prev_hash=d["prev_hash"], hash=d["hash"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"the proof's record is malformed: {type(exc).__name__}: {exc}") from None


def _b64(items: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in items]


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"{what} must be a base64 string, got {type(value).__name__}")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise _bad(f"{what} is not base64: {value[:20]!r}") from None
    if len(raw) != 32:
        raise _bad(f"{what} must be a 32-byte hash, got {len(raw)} bytes")
    return raw


def _path(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise _bad("the proof's path must be a list of base64 hashes")
    return tuple(_unb64(v, f"path[{i}]") for i, v in enumerate(value))


def _size(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(f"{what} must be a non-negative integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionProof:
    """``record`` is leaf ``record.seq`` of the tree of ``checkpoint.size`` leaves."""

    record: AuditRecord
    tree_size: int
    path: tuple[bytes, ...]
    checkpoint: SignedCheckpoint

    def to_json(self) -> dict[str, Any]:
        return {
            "format": INCLUSION_FORMAT,
            "leaf_index": self.record.seq,
            "tree_size": self.tree_size,
            "path": _b64(self.path),
            "record": record_to_json(self.record),
            "checkpoint": self.checkpoint.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyProof:
    """The tree of ``old_size`` leaves with ``old_root`` is a prefix of the signed tree."""

    old_size: int
    old_root: bytes
    path: tuple[bytes, ...]
    checkpoint: SignedCheckpoint  # the newer, signed tree head

    @property
    def new_size(self) -> int:
        return self.checkpoint.size

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CONSISTENCY_FORMAT,
            "old_size": self.old_size,
            "old_root": base64.b64encode(self.old_root).decode(),
            "new_size": self.new_size,
            "path": _b64(self.path),
            "checkpoint": self.checkpoint.note,
        }


def _note(value: Any) -> SignedCheckpoint:
    if not isinstance(value, str):
        raise _bad("the proof's checkpoint must be a signed-note string")
    try:
        return SignedCheckpoint.parse(value)
    except AuditVerificationError as exc:
        raise _bad(exc.reason) from None


def proof_from_json(data: Any) -> InclusionProof | ConsistencyProof:
    """Parse a proof document; any structural problem is a GG506 verification error."""
    if not isinstance(data, dict):
        raise _bad("a proof must be a JSON object")
    fmt = data.get("format")
    if fmt == INCLUSION_FORMAT:
        record = data.get("record")
        if not isinstance(record, dict):
            raise _bad("the inclusion proof has no record object")
        rec = record_from_json(record)
        if _size(data.get("leaf_index"), "leaf_index") != rec.seq:
            raise _bad(f"leaf_index {data.get('leaf_index')} is not the record's seq {rec.seq}")
        return InclusionProof(
            record=rec,
            tree_size=_size(data.get("tree_size"), "tree_size"),
            path=_path(data.get("path")),
            checkpoint=_note(data.get("checkpoint")),
        )
    if fmt == CONSISTENCY_FORMAT:
        cp = _note(data.get("checkpoint"))
        if _size(data.get("new_size"), "new_size") != cp.size:
            raise _bad(f"new_size {data.get('new_size')} is not the checkpoint's size {cp.size}")
        return ConsistencyProof(
            old_size=_size(data.get("old_size"), "old_size"),
            old_root=_unb64(data.get("old_root"), "old_root"),
            path=_path(data.get("path")),
            checkpoint=cp,
        )
    raise _bad(f"unknown proof format {fmt!r}; expected {INCLUSION_FORMAT} or {CONSISTENCY_FORMAT}")


def _check_signature(cp: SignedCheckpoint, verifiers: Sequence[Verifier]) -> None:
    if not any(v.verifies(cp) for v in verifiers):
        names = ", ".join(f"{s.name}/{s.key_id.hex()}" for s in cp.signatures)
        trusted = ", ".join(f"{v.name}/{v.key_id.hex()}" for v in verifiers) or "none"
        raise AuditVerificationError(
            f"the checkpoint of size {cp.size} carries no valid signature by a trusted key "
            f"(signed by {names}; trusted: {trusted})",
            code="GG504",
        )


def verify_inclusion_proof(proof: InclusionProof, *, verifiers: Sequence[Verifier]) -> None:
    """Check the checkpoint's signature, the record's hash and its audit path."""
    _check_signature(proof.checkpoint, verifiers)
    rec = proof.record
    if record_hash(rec) != rec.hash:
        raise AuditVerificationError(
            "the record's content does not match its hash", code="GG502",
            seq=rec.seq, record_id=rec.id,
        )
    if proof.tree_size != proof.checkpoint.size:
        raise _bad(
            f"the proof is for a tree of {proof.tree_size} records but the checkpoint is "
            f"for {proof.checkpoint.size}", seq=rec.seq, record_id=rec.id,
        )
    leaf = leaf_hash(bytes.fromhex(rec.hash))
    if not verify_inclusion(leaf, rec.seq, proof.tree_size, proof.path, proof.checkpoint.root_hash):
        raise _bad(
            f"the audit path does not lead from record {rec.seq} to the signed root of size "
            f"{proof.tree_size}", seq=rec.seq, record_id=rec.id,
        )


def verify_consistency_proof(proof: ConsistencyProof, *, verifiers: Sequence[Verifier]) -> None:
    """Check the newer checkpoint's signature and that it extends the older tree."""
    _check_signature(proof.checkpoint, verifiers)
    ok = verify_consistency(
        proof.old_size, proof.new_size, proof.old_root, proof.checkpoint.root_hash, proof.path
    )
    if not ok:
        raise _bad(
            f"the tree of size {proof.new_size} does not extend the tree of size "
            f"{proof.old_size} with the given root"
        )
