"""OpenTelemetry: an `invoke_agent` span per specialist turn, an `execute_tool` span per
call (GenAI names), and their trace and span ids in the audit records."""

from __future__ import annotations

from _orch_support import KNOWN, Bank, Scripted, call
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from guardgraph.audit import open_log
from guardgraph.guardrails import Guard
from guardgraph.orchestrator import AgentGraph, user_task


def test_spans_are_named_by_genai_conventions_and_ids_reach_the_records(
        bank: Bank, guard: Guard) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The library uses the host's tracer; a test may not replace the global provider
    # twice, so the spans come from this provider through its tracer lookup.
    original = trace.get_tracer
    trace.get_tracer = lambda name, *a, **k: provider.get_tracer(name)  # type: ignore[assignment]
    try:
        log = open_log("memory:")
        payments = Scripted("payments",
                            [call("send_money", {"recipient": KNOWN, "amount": 5}, "c1")], "ok")
        graph = (AgentGraph().add_specialist("payments", payments, tools=bank.tools()[:1])
                 .compile(guard=guard, audit=log))
        graph.invoke(user_task("pay"), {"configurable": {"thread_id": "t-otel"}})
    finally:
        trace.get_tracer = original  # type: ignore[assignment]
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert "invoke_agent payments" in names and "execute_tool send_money" in names
    tool_span = next(s for s in spans if s.name == "execute_tool send_money")
    assert tool_span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "c1"
    assert tool_span.attributes["guardgraph.decision"] == "allow"
    span_id = format(tool_span.context.span_id, "016x")
    records = [r for r in log.store.iter_records() if r.payload.get("call_id") == "c1"]
    assert {r.kind for r in records} >= {"action_proposed", "verdict", "action_executed",
                                         "tool_result"}
    assert all(r.span_id == span_id for r in records)
    assert all(r.trace_id == format(tool_span.context.trace_id, "032x") for r in records)
