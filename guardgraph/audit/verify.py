"""Verifying a whole log: the chain, the Merkle tree heads and their signatures.

``verify_log`` streams the records in sequence order (hashlib only, no per-record objects)
and raises :class:`AuditVerificationError` at the first bad record, naming it and why;
it never returns a bare bool. Proof types and their offline checks live in ``_proof`` and
are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from guardgraph.audit._canonical import GENESIS_HASH, canonical_json, leaf_hash
from guardgraph.audit._chain import body_seq_and_prev
from guardgraph.audit._checkpoint import SignedCheckpoint, Verifier
from guardgraph.audit._merkle import EMPTY_ROOT, compose, root_keys
from guardgraph.audit._proof import (
    ConsistencyProof,
    InclusionProof,
    proof_from_json,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from guardgraph.audit._store import AuditStore
from guardgraph.errors import AuditStoreError, AuditVerificationError

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "VerificationReport",
    "proof_from_json",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    "verify_log",
]

_NODE_CHUNK = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationReport:
    """What a successful verification covered."""

    records: int
    root_hash: str
    checkpoints: int  # tree heads matched against the log (stored and trusted)
    signatures_checked: bool  # False when no public key was given
    signed_by: tuple[str, ...]  # names of the keys whose signatures verified
    last_checkpoint_size: int
    unsigned_tail: int  # records after the last checkpoint: not yet covered by a signature
    deep: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "records": self.records,
            "root_hash": self.root_hash,
            "checkpoints": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "signed_by": list(self.signed_by),
            "last_checkpoint_size": self.last_checkpoint_size,
            "unsigned_tail": self.unsigned_tail,
            "deep": self.deep,
        }


def _tree_heads(
    stored: Sequence[SignedCheckpoint],
    trusted: Sequence[SignedCheckpoint],
    public_keys: Sequence[Verifier] | None,
) -> tuple[dict[int, SignedCheckpoint], set[str]]:
    heads: dict[int, SignedCheckpoint] = {}
    signers: set[str] = set()
    origin = None
    for cp in [*stored, *trusted]:
        if public_keys is not None:
            ok = [v.name for v in public_keys if v.verifies(cp)]
            if not ok:
                names = ", ".join(f"{s.name}/{s.key_id.hex()}" for s in cp.signatures)
                raise AuditVerificationError(
                    f"the checkpoint of size {cp.size} carries no valid signature by a trusted "
                    f"key (signed by {names})",
                    code="GG504",
                )
            signers.update(ok)
        if origin is None:
            origin = cp.origin
        elif cp.origin != origin:
            raise AuditVerificationError(
                f"checkpoints of two logs: origin {origin!r} and {cp.origin!r}", code="GG505"
            )
        have = heads.setdefault(cp.size, cp)
        if have.root_hash != cp.root_hash:
            raise AuditVerificationError(
                f"fork: two signed checkpoints of size {cp.size} with different roots "
                f"({have.root_hash.hex()[:16]}… and {cp.root_hash.hex()[:16]}…)",
                code="GG505",
            )
    return heads, signers


def _record_id(store: AuditStore, seq: int) -> str | None:
    try:
        for rec in store.iter_records(start=seq, stop=seq + 1):
            return rec.id
    except (AuditStoreError, ValueError, KeyError, TypeError):
        return None  # the body is too damaged to name its id; the seq still names it
    return None


def _locate(store: AuditStore, start: int, stop: int) -> int:
    """The first record in [start, stop) whose leaf differs from the stored leaf node: where
    a rewrite that re-chained the tail began (if the stored nodes were left alone)."""
    for seq, h, _ in store.iter_raw(start=start, stop=stop):
        try:
            stored = store.nodes([(0, seq)])[(0, seq)]
        except AuditStoreError:
            return seq
        if stored != leaf_hash(bytes.fromhex(h)):
            return seq
    return start


def verify_log(
    store: AuditStore,
    *,
    public_keys: Sequence[Verifier] | None = None,
    trusted_checkpoints: Iterable[SignedCheckpoint] = (),
    deep: bool = False,
    unsigned_tail_ok: bool = False,
) -> VerificationReport:
    """Verify ``store`` end to end; raises :class:`AuditVerificationError` at the first fault.

    ``public_keys``: the log's verifier keys; every checkpoint must carry a valid signature
    by one of them (``None`` skips signature checks, which the report says).
    ``trusted_checkpoints``: tree heads kept outside the database (by the signer or a
    reviewer); a log shorter than one of them was rolled back, one of the same size with
    another root is a fork, and one the log no longer stores means its checkpoints were
    removed. ``deep`` also parses every body, checks its canonical form and compares every
    stored Merkle node with the recomputed tree.

    With ``public_keys``, "signed by nobody" is never a success: a log with no valid signed
    checkpoint fails (GG506), and so do records after the last one unless
    ``unsigned_tail_ok`` (a live log between checkpoints).
    """
    stored_heads = store.checkpoints()
    trusted = list(trusted_checkpoints)
    stored_sizes = {cp.size for cp in stored_heads}
    size = store.size()
    for cp in trusted:
        # A log shorter than the witness was rolled back: the record loop below says so.
        if cp.size not in stored_sizes and cp.size <= size:
            raise AuditVerificationError(
                f"a signed checkpoint of size {cp.size} is kept outside the log but the log "
                "no longer stores it: checkpoints were removed", code="GG505",
            )
    heads, signers = _tree_heads(stored_heads, trusted, public_keys)
    if public_keys is not None and not heads:
        raise AuditVerificationError(
            "no signed checkpoint covers the log: it is signed by nobody (the checkpoints "
            "were removed, or none was ever signed)", code="GG506",
        )
    targets = sorted(heads)
    t = 0
    while t < len(targets) and targets[t] == 0:
        if heads[0].root_hash != EMPTY_ROOT:
            raise AuditVerificationError("the checkpoint of size 0 is not the empty root",
                                         code="GG503")
        t += 1
    stack: list[bytes] = []  # hashes of the perfect subtrees of the tree so far
    prev = GENESIS_HASH
    expected = 0
    last_good = 0
    nodes: list[tuple[int, int, bytes]] | None = [] if deep else None
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    for seq, h, body in store.iter_raw():
        if seq != expected:
            raise AuditVerificationError(
                f"expected record {expected} next, found record {seq}: records are missing "
                "or out of order", code="GG507", seq=expected,
            )
        if type(body) is not bytes:  # a column retyped by hand (SQLite is lenient)
            body = str(body).encode("utf-8", "surrogatepass")
        if sha256(body).hexdigest() != h:
            raise AuditVerificationError(
                "the record's content does not match its hash (edited)", code="GG502",
                seq=seq, record_id=_record_id(store, seq),
            )
        try:
            body_seq, body_prev = body_seq_and_prev(body)
        except ValueError:
            raise AuditVerificationError(
                "the record's body is not a canonical audit record", code="GG502", seq=seq
            ) from None
        if deep:
            _deep_check(body, seq)
        if body_seq != seq:
            raise AuditVerificationError(
                f"the record says it is record {body_seq} but is stored at {seq} "
                "(inserted, deleted or reordered)", code="GG507", seq=seq,
                record_id=_record_id(store, seq),
            )
        if body_prev != prev:
            raise AuditVerificationError(
                f"the record does not commit to its predecessor: prev_hash {body_prev[:16]}… "
                f"but record {seq - 1} hashes to {prev[:16]}…", code="GG501", seq=seq,
                record_id=_record_id(store, seq),
            )
        # The compact range, inlined (RFC 6962 leaf and node hashes): leaf n completes one
        # perfect subtree per trailing 1-bit of n.
        node = sha256(b"\x00" + fromhex(h)).digest()
        if nodes is not None:
            nodes.append((0, expected, node))
        k, level = expected, 0
        while k & 1:
            node = sha256(b"\x01" + stack.pop() + node).digest()
            k >>= 1
            level += 1
            if nodes is not None:
                nodes.append((level, expected >> level, node))
        stack.append(node)
        prev = h
        expected += 1
        if t < len(targets) and targets[t] == expected:
            cp = heads[expected]
            if compose(stack) != cp.root_hash:
                bad = _locate(store, last_good, expected)
                raise AuditVerificationError(
                    f"the signed tree head of size {expected} does not match the records: "
                    f"history before it was rewritten (records after {last_good} differ from "
                    "what was signed)", code="GG503", seq=bad, record_id=_record_id(store, bad),
                )
            last_good = expected
            t += 1
        if nodes is not None and len(nodes) >= _NODE_CHUNK:
            _compare_nodes(store, nodes)
            nodes.clear()
    if nodes:
        _compare_nodes(store, nodes)
    if t < len(targets):
        raise AuditVerificationError(
            f"the log holds {expected} records but a checkpoint of size {targets[-1]} was "
            "signed: records were removed from the end (rollback or truncation)",
            code="GG505", seq=expected,
        )
    try:
        stored = store.nodes(root_keys(expected))
    except AuditStoreError as exc:
        raise AuditVerificationError(
            f"the stored Merkle tree is incomplete: {exc}", code="GG503"
        ) from None
    if [stored[k] for k in root_keys(expected)] != stack:
        raise AuditVerificationError(
            "the stored Merkle nodes disagree with the records (proofs would be wrong)",
            code="GG503",
        )
    last = targets[-1] if targets else 0
    if public_keys is not None and expected > last and not unsigned_tail_ok:
        raise AuditVerificationError(
            f"the last {expected - last} record(s) are not covered by a signed checkpoint "
            f"(the latest covers {last} of {expected}); sign one, or accept an unsigned "
            "tail explicitly", code="GG506", seq=last,
        )
    return VerificationReport(
        records=expected,
        root_hash=compose(stack).hex(),
        checkpoints=len(targets),
        signatures_checked=public_keys is not None,
        signed_by=tuple(sorted(signers)),
        last_checkpoint_size=targets[-1] if targets else 0,
        unsigned_tail=expected - (targets[-1] if targets else 0),
        deep=deep,
    )


def _deep_check(body: bytes, seq: int) -> None:
    try:
        parsed = json.loads(body)
        canonical = canonical_json(parsed) == body
    except ValueError:
        canonical = False
        parsed = None
    if not canonical or not isinstance(parsed, dict):
        raise AuditVerificationError(
            "the record's body is not canonical JSON", code="GG502", seq=seq
        )


def _compare_nodes(store: AuditStore, computed: Sequence[tuple[int, int, bytes]]) -> None:
    keys = [(level, idx) for level, idx, _ in computed]
    try:
        stored = store.nodes(keys)
    except AuditStoreError as exc:
        raise AuditVerificationError(f"the stored Merkle tree is incomplete: {exc}",
                                     code="GG503") from None
    for level, idx, h in computed:
        if stored[(level, idx)] != h:
            seq = idx << level
            raise AuditVerificationError(
                f"the stored Merkle node ({level}, {idx}) disagrees with the records",
                code="GG503", seq=seq,
            )
