"""guardgraph.audit: the provable audit log.

Every decision the framework makes becomes an :class:`AuditRecord` in an append-only,
hash-chained store that is also an RFC 6962 Merkle tree with Ed25519-signed checkpoints
(C2SP signed notes): verify a whole log, or hand a reviewer one record and its proof.
The typed payload of each event kind lives in :mod:`guardgraph.audit.events`; the record
and payload schemas are written out in docs/audit-records.md.

>>> from guardgraph.audit import open_log, verify_log
>>> from guardgraph.audit.events import ActionProposed
>>> log = open_log("memory:", signer=Signer.generate("example.org/log"))
>>> rec = log.record(ActionProposed(tool="send_money", call_id="c1", agent="payments",
...                                 args={"amount": 100}),
...                  session="s1", actor="payments", event_id="s1/c1/proposed")
>>> rec.seq, log.checkpoint().size, verify_log(log.store, public_keys=[log.verifier]).records
(0, 1, 1)
"""

from guardgraph.audit._checkpoint import SignedCheckpoint, Signer, Verifier, load_verifier
from guardgraph.audit._report_data import ReportData, Verification
from guardgraph.audit._store import AuditStore
from guardgraph.audit.events import AuditRecord, Event, EventKind, Payload
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.log import AuditLog, LogFiles, RecordSink, log_files, open_log
from guardgraph.audit.logsink import StructlogSink
from guardgraph.audit.otel import OTelSink
from guardgraph.audit.provenance import ProvenanceNode, trace_provenance
from guardgraph.audit.query import RecordFilter, query_records, resolve_id, short_ids
from guardgraph.audit.report import build_report, render_report, verification_of, write_html
from guardgraph.audit.stores import open_store
from guardgraph.audit.verify import (
    ConsistencyProof,
    InclusionProof,
    VerificationReport,
    proof_from_json,
    verify_consistency_proof,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.errors import AuditError, AuditVerificationError

__all__ = [
    "AuditError",
    "AuditLog",
    "AuditRecord",
    "AuditStore",
    "AuditVerificationError",
    "ConsistencyProof",
    "Event",
    "EventKind",
    "InclusionProof",
    "LogFiles",
    "OTelSink",
    "Payload",
    "ProvenanceNode",
    "RecordFilter",
    "RecordSink",
    "ReportData",
    "SignedCheckpoint",
    "Signer",
    "StructlogSink",
    "Verification",
    "VerificationReport",
    "Verifier",
    "build_report",
    "generate_sessions",
    "load_verifier",
    "log_files",
    "open_log",
    "open_store",
    "proof_from_json",
    "query_records",
    "render_report",
    "resolve_id",
    "short_ids",
    "trace_provenance",
    "verification_of",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    "verify_log",
    "write_events",
    "write_html",
]
