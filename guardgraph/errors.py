"""The one root of guardgraph's exceptions (misuse of the API, infrastructure failures).

Findings about a user's spec are :class:`guardgraph.specs.Diagnostic` values, not
exceptions; a guard's deny is a verdict value, not an exception.
"""

from __future__ import annotations

__all__ = [
    "AuditCheckpointError",
    "AuditConflictError",
    "AuditError",
    "AuditKeyError",
    "AuditPayloadError",
    "AuditStoreError",
    "AuditVerificationError",
    "DeclarationError",
    "GuardgraphError",
    "SpecError",
]


class GuardgraphError(Exception):
    """Base class of every exception guardgraph raises on purpose."""


class SpecError(GuardgraphError):
    """A spec could not be used (e.g. an API that needs a loaded Spec got diagnostics)."""


class DeclarationError(SpecError):
    """A Python tool cannot be declared in the spec language (unsupported annotation,
    missing annotation, bad ``untrusted`` mapping); the message names the parameter."""


class AuditError(GuardgraphError):
    """Base of the audit log's exceptions (guardgraph.audit)."""


class AuditStoreError(AuditError):
    """The audit store cannot be opened, read or written (bad target, I/O, database)."""


class AuditPayloadError(AuditError, ValueError):
    """An event's payload does not match the written schema of its kind (what and where)."""


class AuditConflictError(AuditStoreError):
    """An event id already names a committed record with other content: a retry must carry
    the same event, never a different one under a used id."""


class AuditCheckpointError(AuditError):
    """The records are committed, but signing the checkpoint after them failed.

    ``records`` are the committed records: the caller must not write them again.
    """

    def __init__(self, reason: str, *, records: tuple[object, ...] = ()) -> None:
        super().__init__(reason)
        self.records = records


class AuditKeyError(AuditError):
    """A signing or verifier key of the audit log is missing, unreadable or malformed."""


class AuditVerificationError(AuditError):
    """The audit log, a checkpoint or a proof does not verify.

    ``seq`` and ``record_id`` name the first bad record when there is one; ``code`` is the
    GG5xx diagnostic code; ``reason`` says what was expected and what was found.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        seq: int | None = None,
        record_id: str | None = None,
    ) -> None:
        where = ""
        if seq is not None:
            where = f"record {seq}" + (f" ({record_id})" if record_id else "") + ": "
        super().__init__(f"{code}: {where}{reason}")
        self.reason = reason
        self.code = code
        self.seq = seq
        self.record_id = record_id
