"""Owns the value types of the compliance report: what ``build_report`` fills in and the
renderers format (kept apart from both, so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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

    @classmethod
    def skipped(cls, detail: str) -> Verification:
        """No verification was run (the report says so, with ``detail``)."""
        return cls(status=VerificationStatus.NOT_CHECKED, detail=detail)

    @property
    def failed(self) -> bool:
        return self.status is VerificationStatus.FAILED


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
