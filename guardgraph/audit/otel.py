"""Owns the OpenTelemetry export of audit records: one span per record (OTelSink).

Each record becomes a zero-length span at the record's timestamp, named and attributed per
the GenAI semantic conventions (``execute_tool send_money``, ``invoke_agent payments``; see
``_semconv``) plus guardgraph's own attributes (decision, rule ids, record id and hash).
The span's parent is the orchestrator span the record names (``trace_id``/``span_id``), else
the span of the first record it derives from, so that a trace viewer shows the provenance
tree; every provenance link that the sink still remembers is also an OpenTelemetry link.

The sink never configures tracing: the caller passes its ``TracerProvider``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from guardgraph.audit._semconv import GG_MESSAGE, record_attributes, span_shape
from guardgraph.audit._timestamps import to_unix_nanos
from guardgraph.audit.events import AuditRecord

__all__ = ["OTelSink"]

_INSTRUMENTATION = "guardgraph.audit"


class OTelSink:
    """A record sink that emits each audit record as an OpenTelemetry span.

    ``remember`` bounds how many recent record ids the sink maps to their span contexts
    (for parents and links); older provenance simply yields no link.
    """

    __slots__ = ("_capture_content", "_lock", "_remember", "_spans", "_tracer")

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        *,
        capture_content: bool = False,
        remember: int = 10_000,
    ) -> None:
        if remember < 0:
            raise ValueError(f"expected remember >= 0, got {remember}")
        self._tracer = tracer_provider.get_tracer(_INSTRUMENTATION)
        self._capture_content = capture_content
        self._remember = remember
        self._spans: OrderedDict[str, SpanContext] = OrderedDict()
        self._lock = threading.Lock()

    def emit(self, record: AuditRecord) -> None:
        """Export one record as one ended span."""
        shape = span_shape(record)
        attributes = record_attributes(record, capture_content=self._capture_content)
        with self._lock:
            known = [self._spans[p] for p in record.provenance if p in self._spans]
        parent = _remote_parent(record) or (known[0] if known else None)
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else Context()
        when = to_unix_nanos(record.timestamp)
        span = self._tracer.start_span(
            shape.name,
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=[Link(c) for c in known],
            start_time=when,
        )
        if shape.is_error:
            message = attributes.get(GG_MESSAGE)
            span.set_status(Status(StatusCode.ERROR, str(message) if message else None))
        span.end(end_time=when)
        if self._remember:
            with self._lock:
                self._spans[record.id] = span.get_span_context()
                while len(self._spans) > self._remember:
                    self._spans.popitem(last=False)


def _remote_parent(record: AuditRecord) -> SpanContext | None:
    # The orchestrator stamps records with the ids of the span that was active; a malformed
    # id is ignored rather than raised, because telemetry must never break the audit path.
    if not record.trace_id or not record.span_id:
        return None
    try:
        trace_id, span_id = int(record.trace_id, 16), int(record.span_id, 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return SpanContext(
        trace_id=trace_id,
        span_id=span_id,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
