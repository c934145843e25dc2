"""Owns the orchestrator's OpenTelemetry spans: ``invoke_agent`` per specialist turn and
``execute_tool`` per tool call, named by the GenAI semantic conventions.

The attribute names are defined here rather than imported: upstream keeps them in an
incubating module that is being moved (see guardgraph/audit/_semconv.py). The tracer is
the host's (``opentelemetry.trace.get_tracer``); the library never installs a provider, so
without one the spans are non-recording and their ids are absent from the records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from guardgraph.orchestrator._records import SpanIds

__all__ = ["agent_span", "tool_span"]

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GG_DECISION = "guardgraph.decision"
GG_RULE_IDS = "guardgraph.rule_ids"

_TRACER = "guardgraph.orchestrator"


def _ids(span: trace.Span) -> SpanIds:
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return SpanIds()
    return SpanIds(trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x"))


@contextmanager
def agent_span(agent: str, session: str) -> Iterator[SpanIds]:
    """One specialist (or router) turn: ``invoke_agent {agent}``."""
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"invoke_agent {agent}", kind=trace.SpanKind.INTERNAL,
        attributes={GEN_AI_OPERATION_NAME: "invoke_agent", GEN_AI_AGENT_NAME: agent,
                    GEN_AI_CONVERSATION_ID: session},
    ) as span:
        yield _ids(span)


@contextmanager
def tool_span(tool: str, call_id: str, agent: str, session: str) -> Iterator[ToolSpan]:
    """One tool call: ``execute_tool {tool}``, with the verdict set on it when known."""
    tracer = trace.get_tracer(_TRACER)
    with tracer.start_as_current_span(
        f"execute_tool {tool}", kind=trace.SpanKind.INTERNAL,
        attributes={GEN_AI_OPERATION_NAME: "execute_tool", GEN_AI_TOOL_NAME: tool,
                    GEN_AI_TOOL_CALL_ID: call_id, GEN_AI_AGENT_NAME: agent,
                    GEN_AI_CONVERSATION_ID: session},
    ) as span:
        yield ToolSpan(span)


class ToolSpan:
    """The live ``execute_tool`` span: its ids, and the verdict recorded on it."""

    __slots__ = ("_span", "ids")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self.ids = _ids(span)

    def decided(self, decision: str, rules: tuple[str, ...]) -> None:
        self._span.set_attribute(GG_DECISION, decision)
        if rules:
            self._span.set_attribute(GG_RULE_IDS, list(rules))
