"""Owns the streaming aggregation behind ``build_report``: one pass, bounded memory.

Counters are keyed by hour and coarsened at the end, so the time axis needs no second pass;
recent records sit in a fixed-size window so that a violation's upstream inputs resolve
without a random read per ancestor (falling back to ``lookup`` beyond the window).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from guardgraph.audit._report_data import (
    AgentStat,
    ApprovalRow,
    InputStep,
    LatencyStats,
    Person,
    ReportData,
    RuleStat,
    SeriesPoint,
    SpecUse,
    TimeBucket,
    Verification,
    Violation,
)
from guardgraph.audit._timestamps import format_rfc3339, parse_rfc3339
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.audit.provenance import ProvenanceNode, node_label
from guardgraph.audit.query import record_tool

__all__ = ["ReportBuilder"]

_VIOLATIONS = ("deny", "escalate", "repair")
_DECISIONS = ("allow", *_VIOLATIONS)
_DEPLOYMENT_KINDS = frozenset({EventKind.SPEC_LOADED, EventKind.SPEC_CHANGED,
                               EventKind.MODEL_TRAINED, EventKind.MODEL_DEPLOYED})
_MAX_INPUTS = 16  # upstream steps listed per violation; a session's chain is far shorter
_MAX_BUCKETS = 60  # chart columns; more would be unreadable at report width
_COARSER = ((1, "hour"), (6, "6 hours"), (24, "day"), (24 * 7, "week"), (24 * 30, "30 days"))
_LATENCY_BINS = ((60.0, "< 1 min"), (300.0, "1-5 min"), (900.0, "5-15 min"),
                 (3600.0, "15-60 min"), (4 * 3600.0, "1-4 h"), (math.inf, "> 4 h"))


@dataclass(slots=True)
class _PendingViolation:
    record: AuditRecord
    agent: str | None
    inputs: tuple[InputStep, ...]
    outcome: str


@dataclass(slots=True)
class _SpecTally:
    first: str
    last: str
    decisions: int = 0


@dataclass(slots=True)
class _PersonTally:
    approvals: int = 0
    rejections: int = 0
    first: str = ""
    last: str = ""


@dataclass(slots=True)
class ReportBuilder:
    lookup: Callable[[str], AuditRecord | None] | None
    window: int
    max_violations: int | None
    _recent: OrderedDict[str, AuditRecord] = field(default_factory=OrderedDict)
    _records: int = 0
    _sessions: set[str] = field(default_factory=set)
    _first: str | None = None
    _last: str | None = None
    _days: set[str] = field(default_factory=set)
    _kinds: Counter[str] = field(default_factory=Counter)
    _decisions: Counter[str] = field(default_factory=Counter)
    _tools: Counter[str] = field(default_factory=Counter)
    _agent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _rule: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _hour: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _hour_rule: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _hour_agent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    _requests: dict[str, AuditRecord] = field(default_factory=dict)
    _request_verdict: dict[str, str] = field(default_factory=dict)
    _approvals: list[ApprovalRow] = field(default_factory=list)
    _latencies: list[float] = field(default_factory=list)
    _persons: dict[str, _PersonTally] = field(default_factory=dict)
    _violations: list[_PendingViolation] = field(default_factory=list)
    _open_escalations: dict[str, _PendingViolation] = field(default_factory=dict)
    _violations_total: int = 0
    _specs: dict[tuple[str, int | None, str | None], _SpecTally] = field(default_factory=dict)
    _with_inputs: int = 0
    _untrusted_used: int = 0
    _errors: int = 0

    def add(self, record: AuditRecord) -> None:
        self._records += 1
        if record.kind not in _DEPLOYMENT_KINDS:  # spec and model events are not sessions
            self._sessions.add(record.session)
        stamp = record.timestamp
        self._first = stamp if self._first is None or stamp < self._first else self._first
        self._last = stamp if self._last is None or stamp > self._last else self._last
        hour = _hour_key(stamp)
        self._days.add(hour[:10])
        kind = record.kind
        self._kinds[kind.value] += 1
        self._hour[hour]["records"] += 1
        tool = record_tool(record)
        if kind is EventKind.ACTION_PROPOSED:
            self._tools[tool or "?"] += 1
            self._agent[record.actor]["proposals"] += 1
            if any(self._untrusted(p) for p in record.provenance):
                self._untrusted_used += 1
        elif kind is EventKind.VERDICT:
            self._verdict(record, hour)
        elif kind is EventKind.APPROVAL_REQUESTED:
            self._requests[record.id] = record
            if record.provenance:
                self._request_verdict[record.id] = record.provenance[0]
        elif kind is EventKind.APPROVAL_ANSWERED:
            self._answer(record)
        elif kind is EventKind.ERROR:
            self._errors += 1
        if record.spec_name is not None and record.decision is not None:
            key = (record.spec_name, record.spec_version, record.spec_hash)
            seen = self._specs.setdefault(key, _SpecTally(first=stamp, last=stamp))
            seen.last = stamp
            seen.decisions += 1
        self._remember(record)

    def _verdict(self, record: AuditRecord, hour: str) -> None:
        decision = record.decision or "unknown"
        self._decisions[decision] += 1
        self._hour[hour][decision] += 1
        proposal = self._get(record.provenance[0]) if record.provenance else None
        agent = _agent_of(record, proposal)
        if agent is not None:
            self._agent[agent][decision] += 1
        if proposal is not None and (proposal.provenance or proposal.payload.get("args")):
            # Art. 12(3)(c): the decision can be traced to the data it was taken on.
            self._with_inputs += 1
        if decision not in _VIOLATIONS:
            return
        self._violations_total += 1
        for rule in record.rule_ids or ("(no rule)",):
            self._rule[rule][decision] += 1
            self._hour_rule[hour][rule] += 1
        if agent is not None:
            self._hour_agent[hour][agent] += 1
        if self.max_violations is not None and len(self._violations) >= self.max_violations:
            return
        outcome = {"deny": "blocked", "repair": "repaired", "escalate": "awaiting approval"}
        pending = _PendingViolation(record=record, agent=agent, inputs=self._inputs(record),
                                    outcome=outcome[decision])
        self._violations.append(pending)
        if decision == "escalate":
            self._open_escalations[record.id] = pending

    def _answer(self, record: AuditRecord) -> None:
        request = self._requests.pop(record.provenance[0], None) if record.provenance else None
        approved = record.payload.get("approved")
        approved = approved if isinstance(approved, bool) else None
        approver = str(record.payload.get("approver") or record.actor)
        tally = self._persons.setdefault(approver, _PersonTally(first=record.timestamp))
        tally.last = record.timestamp
        if approved:
            tally.approvals += 1
        else:
            tally.rejections += 1
        latency = None
        if request is not None:
            latency = (parse_rfc3339(record.timestamp)
                       - parse_rfc3339(request.timestamp)).total_seconds()
            self._latencies.append(latency)
            verdict_id = self._request_verdict.pop(request.id, None)
            pending = self._open_escalations.pop(verdict_id, None) if verdict_id else None
            if pending is not None:
                pending.outcome = f"{'approved' if approved else 'rejected'} by {approver}"
        source = request or record
        self._approvals.append(ApprovalRow(
            request_id=request.id if request else (record.provenance or ("?",))[0],
            answer_id=record.id, session=record.session,
            agent=_str(source.payload.get("agent")), tool=record_tool(source),
            rules=tuple(str(r) for r in source.payload.get("rules", ())),
            approver=approver, approved=approved,
            requested_at=request.timestamp if request else "", answered_at=record.timestamp,
            latency_s=latency,
        ))

    def _inputs(self, verdict: AuditRecord) -> tuple[InputStep, ...]:
        steps: list[InputStep] = []
        frontier = [(p, 1) for p in verdict.provenance]
        seen: set[str] = set()
        while frontier and len(steps) < _MAX_INPUTS:
            rid, depth = frontier.pop(0)
            if rid in seen:
                continue
            seen.add(rid)
            found = self._get(rid)
            if found is None:
                steps.append(InputStep(record_id=rid, depth=depth, kind="missing", actor="",
                                       timestamp="", summary="not in the log", untrusted=False))
                continue
            steps.append(InputStep(
                record_id=rid, depth=depth, kind=found.kind.value, actor=found.actor,
                timestamp=found.timestamp,
                summary=node_label(ProvenanceNode(record_id=rid, record=found)),
                untrusted=_is_untrusted(found)))
            frontier.extend((p, depth + 1) for p in found.provenance)
        return tuple(steps)

    def _remember(self, record: AuditRecord) -> None:
        if self.window <= 0:
            return
        self._recent[record.id] = record
        if len(self._recent) > self.window:
            self._recent.popitem(last=False)

    def _get(self, record_id: str) -> AuditRecord | None:
        found = self._recent.get(record_id)
        if found is None and self.lookup is not None:
            found = self.lookup(record_id)
        return found

    def _untrusted(self, record_id: str) -> bool:
        found = self._get(record_id)
        return found is not None and _is_untrusted(found)

    def build(self, *, generated_at: datetime, verification: Verification, title: str,
              source: str) -> ReportData:
        label, starts, fold = _buckets(self._first, self._last)
        buckets = [Counter[str]() for _ in starts]
        rule_series: dict[str, list[int]] = defaultdict(lambda: [0] * len(starts))
        agent_series: dict[str, list[int]] = defaultdict(lambda: [0] * len(starts))
        for hour, counts in self._hour.items():
            buckets[fold(hour)].update(counts)
        for hour, counts in self._hour_rule.items():
            for name, n in counts.items():
                rule_series[name][fold(hour)] += n
        for hour, counts in self._hour_agent.items():
            for name, n in counts.items():
                agent_series[name][fold(hour)] += n
        return ReportData(
            title=title, source=source, generated_at=format_rfc3339(generated_at),
            verification=verification, records=self._records, sessions=len(self._sessions),
            period_start=self._first, period_end=self._last, active_days=len(self._days),
            kinds=_sorted(self._kinds), decisions=tuple((d, self._decisions[d]) for d in
                                                        _decision_order(self._decisions)),
            agents=tuple(AgentStat(agent=a, proposals=c["proposals"], allow=c["allow"],
                                   deny=c["deny"], escalate=c["escalate"], repair=c["repair"])
                         for a, c in sorted(self._agent.items())),
            tools=_sorted(self._tools),
            rules=tuple(sorted((RuleStat(rule=r, deny=c["deny"], escalate=c["escalate"],
                                         repair=c["repair"]) for r, c in self._rule.items()),
                               key=lambda s: (-s.total, s.rule))),
            bucket=label,
            buckets=tuple(TimeBucket(start=s, records=b["records"], allow=b["allow"],
                                     deny=b["deny"], escalate=b["escalate"],
                                     repair=b["repair"]) for s, b in zip(starts, buckets,
                                                                          strict=True)),
            rule_series=_series(rule_series), agent_series=_series(agent_series),
            approvals=tuple(self._approvals) + tuple(self._unanswered()),
            approval_latency=_latency(self._latencies, len(self._requests)),
            persons=tuple(Person(who=w, approvals=t.approvals, rejections=t.rejections,
                                 first_seen=t.first, last_seen=t.last)
                          for w, t in sorted(self._persons.items())),
            violations=tuple(Violation(
                record_id=v.record.id, seq=v.record.seq, timestamp=v.record.timestamp,
                session=v.record.session, agent=v.agent, tool=record_tool(v.record),
                decision=v.record.decision or "", rule_ids=v.record.rule_ids,
                message=_str(v.record.payload.get("message")), spec=_spec(v.record),
                outcome=v.outcome, inputs=v.inputs) for v in self._violations),
            violations_total=self._violations_total,
            specs=tuple(SpecUse(name=k[0], version=k[1], hash=k[2], first_seen=v.first,
                                last_seen=v.last, decisions=v.decisions)
                        for k, v in sorted(self._specs.items(), key=lambda kv: kv[1].first)),
            decisions_total=sum(self._decisions.values()),
            decisions_with_inputs=self._with_inputs, untrusted_inputs_used=self._untrusted_used,
            errors=self._errors,
        )

    def _unanswered(self) -> list[ApprovalRow]:
        return [ApprovalRow(request_id=r.id, answer_id=None, session=r.session,
                            agent=_str(r.payload.get("agent")), tool=record_tool(r),
                            rules=tuple(str(x) for x in r.payload.get("rules", ())),
                            approver=None, approved=None, requested_at=r.timestamp,
                            answered_at=None, latency_s=None) for r in self._requests.values()]


def _hour_key(stamp: str) -> str:
    # Fast path for the store's canonical UTC form; anything else is parsed properly.
    if stamp.endswith("Z") and len(stamp) >= 13 and stamp[10] == "T":
        return stamp[:13]
    return format_rfc3339(parse_rfc3339(stamp))[:13]


def _buckets(first: str | None, last: str | None) -> tuple[str, list[str], Callable[[str], int]]:
    if first is None or last is None:
        return "hour", [], lambda hour: 0
    origin = parse_rfc3339(_hour_key(first) + ":00:00Z")
    hours = int((parse_rfc3339(_hour_key(last) + ":00:00Z") - origin).total_seconds()) // 3600
    step, label = next(((s, lab) for s, lab in _COARSER if (hours // s) + 1 <= _MAX_BUCKETS),
                       _COARSER[-1])
    if step >= 24:  # day-aligned buckets read better than ones starting at the first hour
        origin = origin.replace(hour=0)
        hours = int((parse_rfc3339(_hour_key(last) + ":00:00Z") - origin).total_seconds()) // 3600
    count = hours // step + 1
    starts = [format_rfc3339(origin + timedelta(hours=i * step)) for i in range(count)]

    def fold(hour: str) -> int:
        offset = int((parse_rfc3339(hour + ":00:00Z") - origin).total_seconds()) // 3600
        return min(max(offset // step, 0), count - 1)

    return label, starts, fold


def _latency(values: list[float], pending: int) -> LatencyStats:
    ordered = sorted(values)
    histogram = [0] * len(_LATENCY_BINS)
    for v in ordered:
        histogram[next(i for i, (edge, _) in enumerate(_LATENCY_BINS) if v < edge)] += 1
    return LatencyStats(
        count=len(ordered), pending=pending,
        median_s=_quantile(ordered, 0.5), p90_s=_quantile(ordered, 0.9),
        max_s=ordered[-1] if ordered else None,
        histogram=tuple((label, n) for (_, label), n in zip(_LATENCY_BINS, histogram,
                                                             strict=True)),
    )


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    # Nearest-rank quantile: always a latency that really occurred.
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _series(table: dict[str, list[int]]) -> tuple[SeriesPoint, ...]:
    return tuple(SeriesPoint(name=n, counts=tuple(c))
                 for n, c in sorted(table.items(), key=lambda kv: (-sum(kv[1]), kv[0])))


def _sorted(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _decision_order(counter: Counter[str]) -> list[str]:
    return [d for d in _DECISIONS if d in counter] + sorted(set(counter) - set(_DECISIONS))


def _agent_of(verdict: AuditRecord, proposal: AuditRecord | None) -> str | None:
    named = verdict.payload.get("agent")
    if isinstance(named, str):
        return named
    return proposal.actor if proposal is not None else None


def _is_untrusted(record: AuditRecord) -> bool:
    return record.kind is EventKind.TOOL_RESULT and record.payload.get("trusted") is False


def _spec(record: AuditRecord) -> str | None:
    if record.spec_name is None:
        return None
    return record.spec_name + ("" if record.spec_version is None else f" v{record.spec_version}")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
