"""Report data: one streaming pass that agrees with a brute-force count; the renderers."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from guardgraph.audit import open_store
from guardgraph.audit._report_html import render_html
from guardgraph.audit._report_md import render_markdown
from guardgraph.audit._timestamps import parse_rfc3339
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.report import (
    ReportData,
    Verification,
    VerificationStatus,
    build_report,
    report_as_json,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def records() -> list[AuditRecord]:
    store = open_store("memory:")
    write_events(store, generate_sessions(250, seed=17, spec_change_every=120))
    return list(store.iter_records())


@pytest.fixture(scope="module")
def data(records: list[AuditRecord]) -> ReportData:
    return build_report(iter(records), generated_at=NOW, source="test.db")


def _verdicts(records: list[AuditRecord]) -> list[AuditRecord]:
    return [r for r in records if r.kind is EventKind.VERDICT]


def test_totals_match_a_brute_force_count(records: list[AuditRecord], data: ReportData) -> None:
    verdicts = _verdicts(records)
    assert data.records == len(records)
    assert dict(data.decisions) == dict(Counter(r.decision for r in verdicts))
    assert data.decisions_total == len(verdicts)
    violations = [r for r in verdicts if r.decision != "allow"]
    assert data.violations_total == len(violations) == len(data.violations)
    assert dict(data.kinds) == dict(Counter(r.kind.value for r in records))
    assert data.sessions == len({r.session for r in records if r.kind is EventKind.TASK_RECEIVED})
    assert data.period_start == records[0].timestamp and data.period_end == records[-1].timestamp
    assert data.errors == sum(r.kind is EventKind.ERROR for r in records)
    assert sum(b.records for b in data.buckets) == len(records)
    assert sum(b.deny for b in data.buckets) == data.decision_count("deny")


def test_by_rule_and_by_agent_match(records: list[AuditRecord], data: ReportData) -> None:
    by_id = {r.id: r for r in records}
    expected_rules: Counter[tuple[str, str]] = Counter()
    expected_agents: Counter[tuple[str, str]] = Counter()
    for v in _verdicts(records):
        agent = by_id[v.provenance[0]].actor
        expected_agents[(agent, v.decision or "")] += 1
        if v.decision != "allow":
            for rule in v.rule_ids:
                expected_rules[(rule, v.decision or "")] += 1
    for stat in data.rules:
        for d in ("deny", "escalate", "repair"):
            assert getattr(stat, d) == expected_rules[(stat.rule, d)], (stat.rule, d)
    assert sum(s.total for s in data.rules) == sum(expected_rules.values())
    for a in data.agents:
        for d in ("allow", "deny", "escalate", "repair"):
            assert getattr(a, d) == expected_agents[(a.agent, d)], (a.agent, d)
    series = {s.name: sum(s.counts) for s in data.rule_series}
    assert series == {s.rule: s.total for s in data.rules}


def test_approvals_latency_and_people(records: list[AuditRecord], data: ReportData) -> None:
    by_id = {r.id: r for r in records}
    answers = [r for r in records if r.kind is EventKind.APPROVAL_ANSWERED]
    latencies = sorted(
        (parse_rfc3339(a.timestamp) - parse_rfc3339(by_id[a.provenance[0]].timestamp))
        .total_seconds() for a in answers)
    assert data.approval_latency.count == len(answers) == len(data.approvals)
    assert data.approval_latency.max_s == pytest.approx(latencies[-1])
    assert data.approval_latency.median_s == pytest.approx(
        statistics.median_low(latencies))
    assert sum(n for _, n in data.approval_latency.histogram) == len(answers)
    approvers = Counter((a.actor, a.payload["approved"]) for a in answers)
    for person in data.persons:
        assert person.approvals == approvers[(person.who, True)]
        assert person.rejections == approvers[(person.who, False)]
    row = data.approvals[0]
    assert row.approver and row.requested_at < (row.answered_at or "")


def test_violations_carry_outcome_and_inputs(data: ReportData) -> None:
    outcomes = Counter(v.outcome.split(" by ")[0] for v in data.violations)
    assert {"blocked", "repaired", "approved", "rejected"} <= set(outcomes)
    tainted = [v for v in data.violations if "no_injected_recipient" in v.rule_ids]
    assert tainted and all(any(s.untrusted for s in v.inputs) for v in tainted)
    for v in data.violations:
        assert v.inputs[0].kind == "action_proposed" and v.inputs[0].depth == 1
        assert v.inputs[-1].kind in {"task_received", "route_decided", "verdict",
                                     "action_executed", "action_proposed"}
        assert v.spec is not None and v.spec.startswith("banking v")


def test_spec_versions_in_force(records: list[AuditRecord], data: ReportData) -> None:
    per_version = Counter(r.spec_version for r in _verdicts(records))
    assert [(s.version, s.decisions) for s in data.specs] == sorted(per_version.items())
    assert data.specs[0].last_seen < data.specs[1].first_seen


def test_a_small_window_with_lookup_gives_the_same_report(records: list[AuditRecord],
                                                         data: ReportData) -> None:
    by_id = {r.id: r for r in records}
    small = build_report(iter(records), generated_at=NOW, source="test.db", window=3,
                         lookup=by_id.get)
    assert small == data


def test_the_report_is_built_in_one_pass() -> None:
    store = open_store("memory:")
    write_events(store, generate_sessions(40, seed=1))
    passes = 0

    def once() -> Iterator[AuditRecord]:
        nonlocal passes
        passes += 1
        yield from store.iter_records()

    build_report(once(), generated_at=NOW)
    assert passes == 1


def test_max_violations_caps_the_list_not_the_counts(records: list[AuditRecord],
                                                     data: ReportData) -> None:
    capped = build_report(iter(records), generated_at=NOW, max_violations=5)
    assert len(capped.violations) == 5 and capped.violations_total == data.violations_total
    assert "Listing the first 5 of" in render_html(capped)


def test_long_periods_are_bucketed_coarser() -> None:
    store = open_store("memory:")
    write_events(store, generate_sessions(200, seed=2, mean_gap_s=6 * 3600))
    data = build_report(store.iter_records(), generated_at=NOW)
    assert data.bucket in {"day", "week"} and 1 < len(data.buckets) <= 60
    assert all(b.start.endswith("T00:00:00.000000Z") for b in data.buckets)
    assert sum(b.records for b in data.buckets) == data.records


def test_empty_log_reports_nothing_gracefully() -> None:
    data = build_report(iter(()), generated_at=NOW)
    assert data.records == 0 and data.buckets == () and data.approval_latency.median_s is None
    assert "No records." in render_html(data)
    assert "# guardgraph audit report" in render_markdown(data)


def test_json_output_round_trips(data: ReportData) -> None:
    out = json.loads(json.dumps(report_as_json(data)))
    assert out["records"] == data.records
    assert out["verification"]["status"] == "not_checked"
    assert {r["rule"]: r["total"] for r in out["rules"]} == {r.rule: r.total for r in data.rules}


def test_html_is_self_contained_and_shows_the_numbers(data: ReportData) -> None:
    page = render_html(data)
    assert not re.search(r"<(link|img|iframe)\b", page)
    assert not re.search(r"\bsrc=", page)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    shown = dict(re.findall(r'data-testid="([^"]+)">([^<]*)<', page))
    assert shown["total-records"] == f"{data.records:,}"
    assert shown["decision-deny"] == f"{data.decision_count('deny'):,}"
    assert shown["violations-total"] == f"{data.violations_total:,}"
    assert page.count('data-testid="violation"') == len(data.violations)
    for chart in ("chart-decisions", "chart-rules-time", "chart-agents-time", "chart-rules",
                  "chart-agents", "chart-latency"):
        assert f'data-testid="{chart}"' in page


def test_html_escapes_what_agents_wrote() -> None:
    store = open_store("memory:")
    write_events(store, generate_sessions(60, seed=5, attack_rate=1.0))
    data = build_report(store.iter_records(), generated_at=NOW,
                        title="<script>alert(1)</script>")
    page = render_html(data)
    assert "<script>alert(1)</script>" not in page
    assert page.count("<script>") == 1  # only the report's own filter script


def test_failed_verification_is_shown(data: ReportData) -> None:
    failed = Verification(status=VerificationStatus.FAILED, records_checked=10,
                          error_code="GG501", error_record_id="abc", error_seq=9,
                          detail="prev_hash does not match")
    bad = build_report(iter(()), generated_at=NOW, verification=failed)
    page = render_html(bad)
    assert 'data-testid="verification-status">failed<' in page
    assert "GG501" in page and "abc" in page
    assert "First failure: GG501" in render_markdown(bad)


def test_markdown_lists_every_violation_with_inputs(data: ReportData) -> None:
    md = render_markdown(data)
    assert md.count("\n- **") == len(data.violations)
    assert "**untrusted**" in md and "## Human oversight (EU AI Act Art. 14)" in md


def test_write_html_streams_the_same_document(data: ReportData) -> None:
    import io

    from guardgraph.audit._report_html import write_html

    stream = io.StringIO()
    write_html(data, stream)
    assert stream.getvalue() == render_html(data)
