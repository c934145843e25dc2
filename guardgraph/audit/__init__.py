"""guardgraph.audit: the provable audit log.

Every decision the framework makes becomes an :class:`AuditRecord` in an append-only,
hash-chained store that is also an RFC 6962 Merkle tree with Ed25519-signed checkpoints
(C2SP signed notes): verify a whole log, or hand a reviewer one record and its proof.

>>> from guardgraph.audit import AuditLog, Event, EventKind, Signer, open_store
>>> log = AuditLog(open_store("memory:"), signer=Signer.generate("example.org/log"))
>>> rec = log.record(Event(kind=EventKind.TASK_RECEIVED, session="s1", actor="user"))
>>> rec.seq, log.checkpoint().size, log.verify().records
(0, 1, 1)
"""

from guardgraph.audit._canonical import idempotency_key, record_hash
from guardgraph.audit._checkpoint import (
    Checkpoint,
    NoteSignature,
    SignedCheckpoint,
    Signer,
    Verifier,
    load_or_create_signer,
    load_verifier,
)
from guardgraph.audit._redact import redacted_matches, redaction_digest
from guardgraph.audit._report_html import render_html, write_html
from guardgraph.audit._report_md import render_markdown
from guardgraph.audit._store import AuditStore, open_store
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.log import AuditLog, RecordSink, open_log
from guardgraph.audit.logsink import StructlogSink, json_logger
from guardgraph.audit.otel import OTelSink
from guardgraph.audit.provenance import (
    ProvenanceNode,
    node_label,
    provenance_json,
    trace_provenance,
)
from guardgraph.audit.query import (
    RecordFilter,
    matches,
    parse_timestamp,
    query_records,
    record_as_json,
    record_tool,
)
from guardgraph.audit.report import (
    ReportData,
    Verification,
    VerificationStatus,
    build_report,
    report_as_json,
    verification_of,
)
from guardgraph.audit.verify import (
    ConsistencyProof,
    InclusionProof,
    VerificationReport,
    proof_from_json,
    verify_consistency_proof,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.errors import (
    AuditError,
    AuditKeyError,
    AuditStoreError,
    AuditVerificationError,
)

__all__ = [
    "AuditError",
    "AuditKeyError",
    "AuditLog",
    "AuditRecord",
    "AuditStore",
    "AuditStoreError",
    "AuditVerificationError",
    "Checkpoint",
    "ConsistencyProof",
    "Event",
    "EventKind",
    "InclusionProof",
    "NoteSignature",
    "OTelSink",
    "ProvenanceNode",
    "RecordFilter",
    "RecordSink",
    "ReportData",
    "SignedCheckpoint",
    "Signer",
    "StructlogSink",
    "Verification",
    "VerificationReport",
    "VerificationStatus",
    "Verifier",
    "build_report",
    "generate_sessions",
    "idempotency_key",
    "json_logger",
    "load_or_create_signer",
    "load_verifier",
    "matches",
    "node_label",
    "open_log",
    "open_store",
    "parse_timestamp",
    "proof_from_json",
    "provenance_json",
    "query_records",
    "record_as_json",
    "record_hash",
    "record_tool",
    "redacted_matches",
    "redaction_digest",
    "render_html",
    "render_markdown",
    "report_as_json",
    "trace_provenance",
    "verification_of",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    "verify_log",
    "write_events",
    "write_html",
]
