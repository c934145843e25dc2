"""Owns the compliance report's DATA: what a reviewer needs, computed from the records.

``build_report`` is a pure function of the records (streamed once, in log order, in bounded
memory) and of the verification outcome; the renderers (``render_html``, ``render_markdown``,
``report_as_json``) only format a ``ReportData`` and never look at records, as coverage.py
keeps its report data apart from its HTML templates.

The sections follow what a reviewer under the EU AI Act looks for: Art. 12 record-keeping
(period of use, the inputs that led to each decision, who verified results) and Art. 14 human
oversight (who approved what, and when).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from guardgraph.audit._checkpoint import Verifier
from guardgraph.audit._store import AuditStore
from guardgraph.audit.events import AuditRecord
from guardgraph.audit.verify import verify_log
from guardgraph.errors import AuditVerificationError

__all__ = [
    "AgentStat",
    "ApprovalRow",
    "InputStep",
    "LatencyStats",
    "Person",
    "ReportData",
    "RuleStat",
    "SeriesPoint",
    "SpecUse",
    "TimeBucket",
    "Verification",
    "VerificationStatus",
    "Violation",
    "build_report",
    "report_as_json",
    "verification_of",
]


class VerificationStatus(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """The chain/Merkle/signature check of the log the report was built from."""

    status: VerificationStatus
    records_checked: int = 0
    checkpoints_verified: int = 0
    root_hash: str | None = None
    error_code: str | None = None
    error_record_id: str | None = None
    error_seq: int | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeBucket:
    start: str  # RFC 3339 start of the bucket
    records: int
    allow: int
    deny: int
    escalate: int
    repair: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """Violations (deny + escalate + repair) of one rule or agent in one time bucket."""

    name: str
    counts: tuple[int, ...]  # aligned with ReportData.buckets


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleStat:
    rule: str
    deny: int
    escalate: int
    repair: int

    @property
    def total(self) -> int:
        return self.deny + self.escalate + self.repair


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStat:
    agent: str
    proposals: int
    allow: int
    deny: int
    escalate: int
    repair: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRow:
    """Art. 14: one human decision on an escalated action."""

    request_id: str
    answer_id: str | None  # None while the request is unanswered
    session: str
    agent: str | None
    tool: str | None
    rules: tuple[str, ...]
    approver: str | None
    approved: bool | None
    requested_at: str
    answered_at: str | None
    latency_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyStats:
    count: int
    pending: int
    median_s: float | None
    p90_s: float | None
    max_s: float | None
    histogram: tuple[tuple[str, int], ...]  # (bucket label, count), fixed log-scale bins


@dataclass(frozen=True, slots=True, kw_only=True)
class InputStep:
    """One record upstream of a violation: what it was and how far up."""

    record_id: str
    depth: int
    kind: str
    actor: str
    timestamp: str
    summary: str
    untrusted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    record_id: str
    seq: int
    timestamp: str
    session: str
    agent: str | None
    tool: str | None
    decision: str
    rule_ids: tuple[str, ...]
    message: str | None
    spec: str | None
    outcome: str  # blocked | repaired | approved by X | rejected by X | awaiting approval
    inputs: tuple[InputStep, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecUse:
    name: str
    version: int | None
    hash: str | None
    first_seen: str
    last_seen: str
    decisions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """Art. 12(3)(d): a natural person involved in verifying results."""

    who: str
    approvals: int
    rejections: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportData:
    title: str
    source: str
    generated_at: str
    verification: Verification
    records: int
    sessions: int
    period_start: str | None
    period_end: str | None
    active_days: int
    kinds: tuple[tuple[str, int], ...]
    decisions: tuple[tuple[str, int], ...]
    agents: tuple[AgentStat, ...]
    tools: tuple[tuple[str, int], ...]
    rules: tuple[RuleStat, ...]
    bucket: str  # hour | 6 hours | day | week
    buckets: tuple[TimeBucket, ...]
    rule_series: tuple[SeriesPoint, ...]
    agent_series: tuple[SeriesPoint, ...]
    approvals: tuple[ApprovalRow, ...]
    approval_latency: LatencyStats
    persons: tuple[Person, ...]
    violations: tuple[Violation, ...]
    violations_total: int
    specs: tuple[SpecUse, ...]
    decisions_total: int
    decisions_with_inputs: int
    untrusted_inputs_used: int
    errors: int

    def decision_count(self, decision: str) -> int:
        return dict(self.decisions).get(decision, 0)


def build_report(
    records: Iterable[AuditRecord],
    *,
    generated_at: datetime,
    verification: Verification | None = None,
    lookup: Callable[[str], AuditRecord | None] | None = None,
    title: str = "guardgraph audit report",
    source: str = "",
    max_violations: int | None = None,
    window: int = 20_000,
) -> ReportData:
    """Aggregate ``records`` (log order) into a report, in one pass and bounded memory.

    Upstream inputs of a violation are found among the last ``window`` records, then through
    ``lookup`` (e.g. ``store.get``) if given. ``max_violations`` caps the violations listed
    in full (``violations_total`` still counts all); ``None`` lists every one.
    """
    # Imported here because the builder imports this module's value types.
    from guardgraph.audit._report_builder import ReportBuilder

    builder = ReportBuilder(lookup=lookup, window=window, max_violations=max_violations)
    for record in records:
        builder.add(record)
    return builder.build(
        generated_at=generated_at,
        verification=verification or Verification(status=VerificationStatus.NOT_CHECKED),
        title=title,
        source=source,
    )


def report_as_json(data: ReportData) -> dict[str, Any]:
    """The report as a JSON-ready dict (``audit report --format json``)."""
    out = dataclasses.asdict(data)
    out["rules"] = [{**r, "total": r["deny"] + r["escalate"] + r["repair"]} for r in out["rules"]]
    return out


def verification_of(
    store: AuditStore, *, public_keys: Sequence[Verifier] | None = None
) -> Verification:
    """Run ``verify_log`` and keep its outcome as report data: a failure is a finding to
    show (which record, which check), not an exception that stops the report."""
    try:
        result = verify_log(store, public_keys=public_keys)
    except AuditVerificationError as exc:
        return Verification(status=VerificationStatus.FAILED, error_code=exc.code,
                            error_record_id=exc.record_id, error_seq=exc.seq,
                            detail=exc.reason)
    notes = []
    if not result.signatures_checked:
        notes.append("checkpoint signatures not checked (no public key given)")
    if result.unsigned_tail:
        notes.append(f"{result.unsigned_tail:,} record(s) after the last signed checkpoint")
    return Verification(status=VerificationStatus.VERIFIED, records_checked=result.records,
                        checkpoints_verified=result.checkpoints, root_hash=result.root_hash,
                        detail="; ".join(notes) or None)
