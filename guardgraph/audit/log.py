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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from guardgraph.audit._redact import Redactor, digest_arguments, load_or_create_salt
from guardgraph.audit._store import AuditStore
from guardgraph.audit.events import AuditRecord, Event, Payload
from guardgraph.audit.stores import open_store
from guardgraph.audit.verify import VerificationReport, verify_log
from guardgraph.errors import AuditKeyError, AuditStoreError, AuditVerificationError

__all__ = ["AuditLog", "LogFiles", "RecordSink", "is_file_target", "log_files", "open_log"]


@runtime_checkable
class RecordSink(Protocol):
    """Receives every record after it is committed (OpenTelemetry, structlog, ...)."""

    def emit(self, record: AuditRecord) -> None: ...


class AuditLog:
    """Records events into an :class:`AuditStore` and signs its tree heads.

    ``signer`` signs checkpoints (none: ``checkpoint()`` is refused). ``salt`` is the
    HMAC-SHA256 key of the digests that replace sensitive arguments (``secret_source``
    loads it on first use; without either, a random key per process, so digests correlate
    only within it); ``sensitive_in_clear=True`` is the explicit opt-out that stores them
    in clear. ``redact`` maps a tool name (or ``"*"``) to further payload fields digested
    the same way. ``checkpoint_every`` signs a tree head each time the log grows past a
    multiple of it (``0``: only on demand and at ``close``). ``state_path`` is the signer's
    witness: its last signed checkpoint, kept outside the database, so the log refuses to
    sign a tree that does not extend it, even after the database was wiped or rewritten.
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
        secret_source: Callable[[], bytes] | None = None,
        sensitive_in_clear: bool = False,
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
        self._secret = salt
        self._secret_source = secret_source
        self._sensitive_in_clear = sensitive_in_clear
        self._redactor = Redactor(redact, salt=self._digest_key()) if redact else None
        self.origin = origin or (signer.name if signer else "guardgraph-audit")
        self._every = checkpoint_every
        self._state_path = state_path
        self._group = GroupCommit(self.store.append, self._after_commit, max_batch=max_batch)
        self._cp_lock = threading.Lock()
        self.sink_errors = 0  # a failing sink never loses or blocks a committed record
        self.checkpoint_failures = 0  # committed records whose due checkpoint failed
        self._emitted_upto = -1
        self._closed = False

    @property
    def verifier(self) -> Verifier | None:
        return self._signer.verifier if self._signer else None

    # -- writing -------------------------------------------------------------------------
    def record(
        self,
        payload: Payload | Event,
        /,
        *,
        session: str | None = None,
        actor: str | None = None,
        spec: tuple[str, int, str] | None = None,
        verdict: tuple[str, Sequence[str]] | None = None,
        provenance: Sequence[str] = (),
        event_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        at: datetime | str | None = None,
        record_id: str | None = None,
        sensitive: Sequence[str] = (),
    ) -> AuditRecord:
        """Append one event; returns its record after the record is durably committed.

        ``payload`` is a typed payload (its class names the kind; the keywords are those of
        :meth:`Event.of`), or an :class:`Event` built before (then no keyword is given).
        With ``event_id``, a retry returns the record already committed instead of writing
        a second one. Raises :class:`AuditCheckpointError` (carrying the committed records)
        when the records are in the log but signing the checkpoint due after them failed.
        """
        if isinstance(payload, Event):
            given = [k for k, v in (("session", session), ("actor", actor), ("spec", spec),
                                    ("verdict", verdict), ("provenance", provenance or None),
                                    ("event_id", event_id), ("trace_id", trace_id),
                                    ("span_id", span_id), ("at", at),
                                    ("record_id", record_id), ("sensitive", sensitive or None))
                     if v is not None]
            if given:
                raise TypeError(
                    f"record(event) takes no keywords (got {', '.join(given)}); they belong "
                    "to Event.of or to record(payload, ...)"
                )
            event = payload
        else:
            if session is None or actor is None:
                raise TypeError("record(payload, ...) needs session= and actor=")
            event = Event.of(
                payload, session=session, actor=actor, spec=spec, verdict=verdict,
                provenance=provenance, event_id=event_id, trace_id=trace_id,
                span_id=span_id, at=at, record_id=record_id, sensitive=sensitive,
            )
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[Event]) -> list[AuditRecord]:
        """Append events atomically, in order; returns after the commit."""
        if self._closed:
            raise AuditStoreError("the audit log is closed")
        prepared = [self._prepare(ev) for ev in events]
        if not prepared:
            return []
        return self._group.submit(prepared)

    def _digest_key(self) -> bytes:
        if self._secret is None:
            loaded = self._secret_source() if self._secret_source is not None else None
            self._secret = loaded if loaded is not None else secrets.token_bytes(32)
        return self._secret

    def _prepare(self, event: Event) -> Event:
        payload: Mapping[str, Any] = event.payload
        if event.sensitive and not self._sensitive_in_clear:
            payload = digest_arguments(payload, event.sensitive, key=self._digest_key())
        if self._redactor is not None:
            payload = self._redactor.apply(dict(payload))
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
        # A retry returns the record committed before: sinks and checkpoints saw it then.
        # Groups commit one at a time, in log order, so a high-water mark tells them apart.
        records = [r for r in records if r.seq > self._emitted_upto]
        if records:
            self._emitted_upto = max(r.seq for r in records)
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
                try:
                    self.checkpoint()
                except Exception:
                    self.checkpoint_failures += 1
                    raise  # GroupCommit reports it as AuditCheckpointError, records kept

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

    def verify(
        self, *, public_keys: Sequence[Verifier] | None = None, unsigned_tail_ok: bool = False
    ) -> VerificationReport:
        """:func:`verify_log` with this log's key and the signer's witness."""
        keys = public_keys if public_keys is not None else (
            [self._signer.verifier] if self._signer else None
        )
        remembered = self._remembered()
        return verify_log(
            self.store, public_keys=keys,
            trusted_checkpoints=[remembered] if remembered is not None else [],
            unsigned_tail_ok=unsigned_tail_ok,
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


@dataclass(frozen=True, slots=True, kw_only=True)
class LogFiles:
    """Where a log's secrets and the signer's witness live: all beside the signing key.

    ``key`` (0600) signs checkpoints; ``public_key`` is for reviewers to pin; ``secret``
    (0600) is the HMAC key of the sensitive-argument digests; ``witness`` is the last
    checkpoint the signer signed, which every later one must consistently extend.
    """

    key: Path
    public_key: Path
    secret: Path
    witness: Path


def log_files(target: str | Path, *, key_path: Path | None = None) -> LogFiles:
    """The files of the log at ``target``: beside ``key_path`` when given, else beside a
    file-based database (``<db>.key``, ``<db>.pub``, ``<db>.salt``, ``<db>.checkpoint``).

    >>> log_files("data/audit.db").witness.name
    'audit.db.checkpoint'
    >>> log_files("postgresql://db/audit", key_path=Path("/keys/audit.key")).public_key
    PosixPath('/keys/audit.pub')
    """
    if key_path is not None:
        base = key_path.with_suffix("") if key_path.suffix == ".key" else key_path
        key = key_path
    else:
        text = str(target)
        if not is_file_target(text):
            raise AuditKeyError(
                f"{text} is not a file: pass key_path= to say where its key and witness live"
            )
        base = Path(text.removeprefix("sqlite:///"))
        key = base.with_name(base.name + ".key")
    return LogFiles(
        key=key,
        public_key=base.with_name(base.name + ".pub"),
        secret=base.with_name(base.name + ".salt"),
        witness=base.with_name(base.name + ".checkpoint"),
    )


def is_file_target(target: str | Path) -> bool:
    """Whether ``target`` names a SQLite file (not memory, not a server URL)."""
    text = str(target)
    return not (text in {"memory:", ":memory:"} or "://" in text.replace("sqlite:///", "", 1))


def open_log(
    target: str | Path,
    *,
    signer: Signer | None = None,
    key_path: Path | None = None,
    witness: Path | None = None,
    redact: Mapping[str, Sequence[str]] | None = None,
    salt: bytes | None = None,
    sensitive_in_clear: bool = False,
    **options: Any,
) -> AuditLog:
    """Open a store and the log around it.

    The signing key, its public key, the digest key of sensitive arguments and the
    signer's witness (its last signed checkpoint) live together (:func:`log_files`):
    beside ``key_path`` when given (any backend), else beside a SQLite database. An
    injected ``signer`` keeps its witness at ``witness`` (default: beside a SQLite
    database; none for a server without ``witness=``).

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
    files = log_files(target, key_path=key_path) if (
        key_path is not None or is_file_target(text)) else None
    store = open_store(target, **options)
    try:
        if signer is None and files is not None:
            if not files.key.exists() and store.get_checkpoint() is not None:
                # a fresh key would sign heads that no reviewer's pinned key accepts
                raise AuditKeyError(
                    f"the log was signed before, but its key {files.key} is missing; "
                    "pass signer= or key_path= with the log's key"
                )
            if is_file_target(text) and key_path is None:
                # a note key name: no spaces and no "+" (C2SP signed-note)
                base = Path(text.removeprefix("sqlite:///")).name
                name = "guardgraph/" + "".join(
                    c if c.isalnum() or c in "-_." else "-" for c in base
                )
            else:
                name = "guardgraph-audit"
            signer = load_or_create_signer(files.key, name=name)
    except BaseException:
        store.close()
        raise
    if witness is None and files is not None:
        witness = files.witness
    secret_file = files.secret if files is not None else None
    return AuditLog(
        store, signer=signer, redact=redact, salt=salt, state_path=witness,
        secret_source=(lambda: load_or_create_salt(secret_file)) if secret_file else None,
        sensitive_in_clear=sensitive_in_clear, **log_opts,
    )
