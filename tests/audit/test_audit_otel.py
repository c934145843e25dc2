"""OTelSink and StructlogSink: GenAI semantic-convention attributes, parents and links."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from guardgraph.audit import open_store
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.logsink import StructlogSink, json_logger
from guardgraph.audit.otel import OTelSink

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def records() -> list[AuditRecord]:
    store = open_store("memory:")
    write_events(store, generate_sessions(150, seed=4))
    return list(store.iter_records())


def _export(records: list[AuditRecord], **options: object) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = OTelSink(provider, **options)  # type: ignore[arg-type]
    for record in records:
        sink.emit(record)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _by_record(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {str((s.attributes or {})["guardgraph.audit.record.id"]): s for s in spans}


def test_one_span_per_record_named_by_the_genai_conventions(
    records: list[AuditRecord],
) -> None:
    spans = _by_record(_export(records))
    assert len(spans) == len(records)
    for record in records:
        span = spans[record.id]
        attrs = dict(span.attributes or {})
        assert span.start_time == span.end_time  # an instant: the record's timestamp
        assert attrs["guardgraph.audit.kind"] == record.kind.value
        assert attrs["session.id"] == attrs["gen_ai.conversation.id"] == record.session
        tool = record.payload.get("tool")
        if record.kind in (EventKind.ACTION_PROPOSED, EventKind.VERDICT,
                           EventKind.TOOL_RESULT, EventKind.ACTION_EXECUTED):
            assert span.name == f"execute_tool {tool}"
            assert attrs["gen_ai.operation.name"] == "execute_tool"
            assert attrs["gen_ai.tool.name"] == tool
            assert attrs["gen_ai.tool.call.id"] == record.payload["call_id"]
            assert attrs["gen_ai.agent.name"] == record.payload["agent"]
        elif record.kind is EventKind.ROUTE_DECIDED:
            assert span.name == f"invoke_agent {record.payload['target']}"
            assert attrs["gen_ai.operation.name"] == "invoke_agent"
            assert attrs["gen_ai.agent.name"] == record.payload["target"]


def test_decision_and_rule_ids_are_guardgraph_attributes(records: list[AuditRecord]) -> None:
    spans = _by_record(_export(records))
    verdicts = [r for r in records if r.kind is EventKind.VERDICT and r.rule_ids]
    assert verdicts
    for record in verdicts:
        attrs = dict(spans[record.id].attributes or {})
        assert attrs["guardgraph.decision"] == record.decision
        assert tuple(attrs["guardgraph.rule_ids"]) == record.rule_ids  # type: ignore[arg-type]
        assert attrs["guardgraph.spec.name"] == "banking"
        assert attrs["guardgraph.spec.version"] == record.spec_version


def test_parent_is_the_first_provenance_record_and_links_name_them_all(
    records: list[AuditRecord],
) -> None:
    spans = _by_record(_export(records))
    tainted = next(r for r in records if r.kind is EventKind.ACTION_PROPOSED
                   and "arg_sources" in r.payload)
    span = spans[tainted.id]
    first = spans[tainted.provenance[0]].get_span_context()
    assert span.parent is not None and span.parent.span_id == first.span_id
    assert span.get_span_context().trace_id == first.trace_id  # one trace per task
    linked = {link.context.span_id for link in span.links}
    assert linked == {spans[p].get_span_context().span_id for p in tainted.provenance}
    task = next(r for r in records if r.kind is EventKind.TASK_RECEIVED)
    assert spans[task.id].parent is None  # a task starts its own trace


def test_a_record_stamped_with_an_orchestrator_span_joins_that_trace() -> None:
    event_fields = {"id": "r1", "seq": 0, "timestamp": "2026-05-01T10:00:00.000000Z",
                    "session": "s", "actor": "payments", "kind": EventKind.ACTION_PROPOSED,
                    "payload": {"tool": "get_balance", "call_id": "c1"}, "spec_name": None,
                    "spec_version": None, "spec_hash": None, "decision": None,
                    "rule_ids": (), "provenance": (), "idempotency_key": None,
                    "prev_hash": "0" * 64, "hash": "ab" * 32}
    record = AuditRecord(trace_id="0af7651916cd43dd8448eb211c80319c",
                         span_id="b7ad6b7169203331", **event_fields)  # type: ignore[arg-type]
    (span,) = _export([record])
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"
    broken = AuditRecord(trace_id="not-hex", span_id="zz", **event_fields)  # type: ignore[arg-type]
    (span,) = _export([broken])  # a malformed id never breaks the audit path
    assert span.parent is None


def test_errors_set_span_status_and_error_type(records: list[AuditRecord]) -> None:
    spans = _by_record(_export(records))
    error = next(r for r in records if r.kind is EventKind.ERROR)
    span = spans[error.id]
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "TimeoutError"


def test_content_is_opt_in(records: list[AuditRecord]) -> None:
    result = next(r for r in records if r.kind is EventKind.TOOL_RESULT)
    (plain,) = _export([result])
    assert "gen_ai.tool.call.result" not in (plain.attributes or {})
    (full,) = _export([result], capture_content=True)
    attrs = full.attributes or {}
    assert json.loads(str(attrs["gen_ai.tool.call.result"])) == result.payload["output"]


def test_remember_bounds_the_sink_memory(records: list[AuditRecord]) -> None:
    spans = _by_record(_export(records[:40], remember=1))
    with_two_parents = [r for r in records[:40] if len(r.provenance) >= 2]
    assert with_two_parents
    # With a window of one, at most the immediately preceding record can be linked.
    assert all(len(spans[r.id].links) <= 1 for r in with_two_parents)
    with pytest.raises(ValueError, match="remember"):
        OTelSink(TracerProvider(), remember=-1)


def test_structlog_sink_writes_one_json_line_per_record(records: list[AuditRecord]) -> None:
    before = structlog.get_config()
    stream = io.StringIO()
    sink = StructlogSink(json_logger(stream))
    for record in records[:30]:
        sink.emit(record)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 30
    for line, record in zip(lines, records[:30], strict=True):
        assert line["event"] == "audit_record"
        assert line["record_id"] == record.id and line["seq"] == record.seq
        assert line["kind"] == record.kind.value and line["hash"] == record.hash
        assert line["rule_ids"] == list(record.rule_ids)
        assert line["level"] == ("error" if record.kind is EventKind.ERROR else "info")
        if "tool" in record.payload:
            assert line["gen_ai.tool.name"] == record.payload["tool"]
        assert "payload" not in line
    assert structlog.get_config() == before  # the library never configures structlog


def test_structlog_sink_uses_the_logger_it_is_given() -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def info(self, event: str, **kw: object) -> None:
            calls.append((event, kw))

        def error(self, event: str, **kw: object) -> None:  # pragma: no cover - not hit
            calls.append((event, kw))

    store = open_store("memory:")
    (record,) = store.append([Event(kind=EventKind.TASK_RECEIVED, session="s", actor="u",
                                    payload={"task": "t"})])
    StructlogSink(Recorder(), capture_content=True).emit(record)
    assert calls[0][0] == "audit_record" and calls[0][1]["payload"]["task"] == "t"


def test_sinks_leave_the_global_tracer_provider_alone(records: list[AuditRecord]) -> None:
    before = trace.get_tracer_provider()
    _export(records[:5])
    assert trace.get_tracer_provider() is before


def test_genai_constants_are_used_in_exactly_one_module() -> None:
    users = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "guardgraph").rglob("*.py")
        if "gen_ai_attributes" in p.read_text(encoding="utf-8")
    )
    assert users == ["guardgraph/audit/_semconv.py"]


def test_the_audit_log_emits_every_committed_record_to_both_sinks() -> None:
    from guardgraph.audit import AuditLog

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stream = io.StringIO()
    log = AuditLog(open_store("memory:"),
                   sinks=[OTelSink(provider), StructlogSink(json_logger(stream))])
    written = write_events(log, generate_sessions(5, seed=8), batch=9)
    log.close()
    spans = exporter.get_finished_spans()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(spans) == len(lines) == written == log.store.size()
    assert log.sink_errors == 0
    assert [s.attributes["guardgraph.audit.record.seq"] for s in spans] == list(  # type: ignore[index]
        range(written))
    assert [line["seq"] for line in lines] == list(range(written))
