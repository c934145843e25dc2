"""The audit log's front door: redaction, group commit, checkpoints, proofs and sinks.

``AuditLog.record`` returns only after the record is durably committed, so a caller that
runs a tool after recording its verdict can never leave an executed action without its
record (write-ahead). Concurrent callers are group-committed: one thread writes everything
pending in one transaction while the others wait, so durability costs one commit per batch
rather than per record.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from guardgraph.audit._chain import Clock, IdFactory, default_clock, default_id
from guardgraph.audit._checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    Signer,
    Verifier,
    load_or_create_signer,
)
from guardgraph.audit._group_commit import GroupCommit
from guardgraph.audit._merkle import (
    consistency_path,
    inclusion_path,
    root_at,
    verify_consistency,
)
from guardgraph.audit._proof import ConsistencyProof, InclusionProof
from guardgraph.audit._redact import Redactor, load_or_create_salt
from guardgraph.audit._store import AuditStore, open_store
from guardgraph.audit.events import AuditRecord, Event
from guardgraph.audit.verify import VerificationReport, verify_log
from guardgraph.errors import AuditKeyError, AuditStoreError, AuditVerificationError

__all__ = ["AuditLog", "RecordSink", "open_log"]


@runtime_checkable
class RecordSink(Protocol):
    """Receives every record after it is committed (OpenTelemetry, structlog, ...)."""

    def emit(self, record: AuditRecord) -> None: ...


class AuditLog:
    """Records events into an :class:`AuditStore` and signs its tree heads.

    ``signer`` signs checkpoints (none: ``checkpoint()`` is refused). ``redact`` maps a tool
    name (or ``"*"``) to the payload fields stored only as salted hashes; ``salt`` is the
    per-log secret for them (a random one per process when not given). ``checkpoint_every``
    signs a tree head each time the log grows past a multiple of it (``0``: only on demand
    and at ``close``). ``state_path`` keeps the last signed checkpoint outside the database,
    so the log refuses to sign anything that contradicts it, even after the database was
    rolled back.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        signer: Signer | None = None,
        clock: Clock = default_clock,
        id_factory: IdFactory = default_id,
        sinks: Sequence[RecordSink] = (),
        redact: Mapping[str, Sequence[str]] | None = None,
        salt: bytes | None = None,
        origin: str | None = None,
        checkpoint_every: int = 1000,
        max_batch: int = 5000,
        state_path: Path | None = None,
    ) -> None:
        if checkpoint_every < 0 or max_batch < 1:
            raise ValueError("checkpoint_every must be >= 0 and max_batch >= 1")
        self.store = store
        self._signer = signer
        self._clock = clock
        self._new_id = id_factory
        self._sinks = tuple(sinks)
        self._redactor = (
            Redactor(redact, salt=salt if salt is not None else secrets.token_bytes(32))
            if redact
            else None
        )
        self.origin = origin or (signer.name if signer else "guardgraph-audit")
        self._every = checkpoint_every
        self._state_path = state_path
        self._group = GroupCommit(self.store.append, self._after_commit, max_batch=max_batch)
        self._cp_lock = threading.Lock()
        self.sink_errors = 0  # a failing sink never loses or blocks a committed record
        self._closed = False

    @property
    def verifier(self) -> Verifier | None:
        return self._signer.verifier if self._signer else None

    # -- writing -------------------------------------------------------------------------
    def record(self, event: Event) -> AuditRecord:
        """Append one event; returns after the record is durably committed."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[Event]) -> list[AuditRecord]:
        """Append events atomically, in order; returns after the commit."""
        if self._closed:
            raise AuditStoreError("the audit log is closed")
        prepared = [self._prepare(ev) for ev in events]
        if not prepared:
            return []
        return self._group.submit(prepared)

    def _prepare(self, event: Event) -> Event:
        payload = event.payload
        if self._redactor is not None:
            payload = self._redactor.apply(payload)
        if event.id is not None and event.timestamp is not None and payload is event.payload:
            return event
        # Built field by field: dataclasses.replace costs more than the whole append.
        return Event(
            kind=event.kind, session=event.session, actor=event.actor, payload=payload,
            provenance=event.provenance, spec_name=event.spec_name,
            spec_version=event.spec_version, spec_hash=event.spec_hash,
            decision=event.decision, rule_ids=event.rule_ids, trace_id=event.trace_id,
            span_id=event.span_id, idempotency_key=event.idempotency_key,
            timestamp=event.timestamp or self._clock(), id=event.id or self._new_id(),
        )

    def _after_commit(self, records: list[AuditRecord]) -> None:
        for rec in records:
            for sink in self._sinks:
                try:
                    sink.emit(rec)
                except Exception:
                    self.sink_errors += 1
        if self._signer is not None and self._every and records:
            top = max(r.seq for r in records) + 1
            low = min(r.seq for r in records)
            if top // self._every > low // self._every:
                self.checkpoint()

    # -- tree heads ------------------------------------------------------------------------
    def root_at(self, size: int) -> bytes:
        """The RFC 6962 root of the first ``size`` records, from stored nodes."""
        return root_at(size, self.store.nodes)

    def checkpoint(self) -> SignedCheckpoint:
        """Sign the current tree head, after checking it extends every head signed before.

        Refuses (``AuditVerificationError`` GG505) to sign a head that contradicts an
        earlier one: a shorter log (rollback) or a different root for the same prefix (fork).
        """
        if self._signer is None:
            raise AuditKeyError("this audit log has no signer; pass signer= to sign checkpoints")
        with self._cp_lock:
            size = self.store.size()
            root = self.root_at(size)
            for prior in self._prior_heads():
                self._check_extends(prior, size, root)
                if prior.size == size:
                    return self.store.add_checkpoint(prior)
            signed = self._signer.sign(Checkpoint(origin=self.origin, size=size, root_hash=root))
            signed = self.store.add_checkpoint(signed)
            self._remember(signed)
            return signed

    def _prior_heads(self) -> list[SignedCheckpoint]:
        heads = []
        latest = self.latest_checkpoint()
        if latest is not None:
            heads.append(latest)
        remembered = self._remembered()
        if remembered is not None:
            heads.append(remembered)
        return heads

    def _check_extends(self, prior: SignedCheckpoint, size: int, root: bytes) -> None:
        if prior.size > size:
            raise AuditVerificationError(
                f"refusing to sign: a checkpoint of size {prior.size} was signed but the log "
                f"now holds {size} records (rolled back)", code="GG505", seq=size,
            )
        path = consistency_path(prior.size, size, self.store.nodes)
        if not verify_consistency(prior.size, size, prior.root_hash, root, path):
            raise AuditVerificationError(
                f"refusing to sign: the log of size {size} does not extend the checkpoint of "
                f"size {prior.size} signed before (history was rewritten)", code="GG505",
            )

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        return self.store.get_checkpoint()

    def _remembered(self) -> SignedCheckpoint | None:
        if self._state_path is None or not self._state_path.exists():
            return None
        try:
            return SignedCheckpoint.parse(self._state_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AuditKeyError(f"cannot read {self._state_path}: {exc}") from None

    def _remember(self, signed: SignedCheckpoint) -> None:
        if self._state_path is None:
            return
        current = self._remembered()
        if current is not None and current.size >= signed.size:
            return
        tmp = self._state_path.with_name(f"{self._state_path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(signed.note, encoding="utf-8")
            os.replace(tmp, self._state_path)
        except OSError as exc:
            raise AuditKeyError(f"cannot write {self._state_path}: {exc}") from None

    # -- proofs ----------------------------------------------------------------------------
    def _checkpoint_for(self, size: int | None, at_least: int) -> SignedCheckpoint:
        cp = self.store.get_checkpoint(size)
        if cp is None and size is not None:
            sizes = ", ".join(str(c.size) for c in self.store.checkpoints()[-8:]) or "none yet"
            raise AuditStoreError(
                f"no signed checkpoint of size {size} (latest checkpoint sizes: {sizes})"
            )
        if cp is None or cp.size < at_least:
            raise AuditStoreError(
                f"no signed checkpoint covers {at_least} records yet; sign one first "
                "(AuditLog.checkpoint() or `guardgraph audit checkpoint DB`)"
            )
        return cp

    def prove_inclusion(self, record_id: str, *, size: int | None = None) -> InclusionProof:
        """The record ``record_id`` (or its decimal seq) in the checkpoint of ``size``
        records (default: the latest checkpoint)."""
        rec = self.store.get(record_id)
        if rec is None and record_id.isdigit():
            rec = next(iter(self.store.iter_records(start=int(record_id),
                                                    stop=int(record_id) + 1)), None)
        if rec is None:
            raise AuditStoreError(f"no record {record_id!r} in the log")
        cp = self._checkpoint_for(size, rec.seq + 1)
        if rec.seq >= cp.size:
            raise AuditStoreError(
                f"record {rec.seq} is not in the checkpoint of size {cp.size}"
            )
        path = inclusion_path(rec.seq, cp.size, self.store.nodes)
        return InclusionProof(record=rec, tree_size=cp.size, path=tuple(path), checkpoint=cp)

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The checkpoint of ``new_size`` (default: latest) extends the tree of ``old_size``."""
        cp = self._checkpoint_for(new_size, old_size)
        if old_size > cp.size or old_size < 0:
            raise AuditStoreError(f"old size {old_size} is beyond the checkpoint of {cp.size}")
        path = consistency_path(old_size, cp.size, self.store.nodes)
        return ConsistencyProof(
            old_size=old_size, old_root=self.root_at(old_size), path=tuple(path), checkpoint=cp
        )

    def verify(self, *, public_keys: Sequence[Verifier] | None = None) -> VerificationReport:
        """:func:`verify_log` with this log's key and remembered checkpoint."""
        keys = public_keys if public_keys is not None else (
            [self._signer.verifier] if self._signer else None
        )
        remembered = self._remembered()
        return verify_log(
            self.store, public_keys=keys,
            trusted_checkpoints=[remembered] if remembered is not None else [],
        )

    # -- lifetime --------------------------------------------------------------------------
    def close(self, *, checkpoint: bool = True) -> None:
        """Sign a final checkpoint (when there is a signer and new records) and close."""
        if self._closed:
            return
        try:
            if checkpoint and self._signer is not None:
                latest = self.latest_checkpoint()
                if latest is None or latest.size != self.store.size():
                    self.checkpoint()
        finally:
            self._closed = True
            self.store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def key_paths(target: str | Path) -> tuple[Path, Path, Path, Path]:
    """Where a file-based log keeps its secrets and witness: key, public key, salt and the
    last signed checkpoint, beside the database."""
    db = Path(str(target).removeprefix("sqlite:///"))
    return (
        db.with_name(db.name + ".key"),
        db.with_name(db.name + ".pub"),
        db.with_name(db.name + ".salt"),
        db.with_name(db.name + ".checkpoint"),
    )


def open_log(
    target: str | Path,
    *,
    signer: Signer | None = None,
    key_path: Path | None = None,
    redact: Mapping[str, Sequence[str]] | None = None,
    salt: bytes | None = None,
    **options: Any,
) -> AuditLog:
    """Open a store and the log around it. For a file-based store, the signing key
    (``<db>.key``, 0600, with ``<db>.pub`` for reviewers), the redaction salt
    (``<db>.salt``) and the signer's witness (``<db>.checkpoint``) live beside the database
    unless injected.

    ``options``: ``clock``, ``id_factory``, ``sinks``, ``origin``, ``checkpoint_every``,
    ``max_batch`` go to :class:`AuditLog`; the rest go to :func:`open_store`.
    """
    log_opts = {k: options.pop(k) for k in
                ("clock", "id_factory", "sinks", "origin", "checkpoint_every", "max_batch")
                if k in options}
    for k in ("clock", "id_factory"):
        if k in log_opts:
            options[k] = log_opts[k]
    text = str(target)
    file_based = not (text in {"memory:", ":memory:"} or "://" in text.replace("sqlite:///", ""))
    store = open_store(target, **options)
    state_path = None
    try:
        if file_based:
            key_file, _, salt_file, state_path = key_paths(target)
            if signer is None:
                key_file = key_path or key_file
                if not key_file.exists() and store.get_checkpoint() is not None:
                    # a fresh key would sign heads that no reviewer's pinned key accepts
                    raise AuditKeyError(
                        f"the log was signed before, but its key {key_file} is missing; "
                        "pass signer= or key_path= with the log's key"
                    )
                # a note key name: no spaces and no "+" (C2SP signed-note)
                base = Path(text.removeprefix("sqlite:///")).name
                name = "guardgraph/" + "".join(
                    c if c.isalnum() or c in "-_." else "-" for c in base
                )
                signer = load_or_create_signer(key_file, name=name)
            if redact and salt is None:
                salt = load_or_create_salt(salt_file)
        elif signer is None and key_path is not None:
            signer = load_or_create_signer(key_path, name="guardgraph-audit")
    except BaseException:
        store.close()
        raise
    return AuditLog(store, signer=signer, redact=redact, salt=salt, state_path=state_path,
                    **log_opts)
