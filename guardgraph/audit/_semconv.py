"""Owns the mapping of audit records to OpenTelemetry GenAI semantic-convention attributes.

The GenAI attribute constants live in ``opentelemetry.semconv._incubating`` and are marked
deprecated upstream while they move to a separate package; this is the ONE module that
imports them, so that the move is a one-file change. Both telemetry sinks (spans and
structlog lines) take their attribute names from here, so spans and logs always agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _genai
from opentelemetry.semconv._incubating.attributes import session_attributes as _session
from opentelemetry.semconv.attributes import error_attributes as _error

from guardgraph.audit.events import AuditRecord, EventKind

__all__ = [
    "GG_DECISION",
    "GG_KIND",
    "GG_RECORD_HASH",
    "GG_RECORD_ID",
    "GG_RECORD_SEQ",
    "GG_RULE_IDS",
    "AttributeValue",
    "SpanShape",
    "attribute_keys",
    "record_attributes",
    "span_shape",
]

AttributeValue = str | bool | int | float | tuple[str, ...]

# guardgraph's own attributes; namespaced so that they never collide with conventions.
GG_RECORD_ID = "guardgraph.audit.record.id"
GG_RECORD_SEQ = "guardgraph.audit.record.seq"
GG_RECORD_HASH = "guardgraph.audit.record.hash"
GG_KIND = "guardgraph.audit.kind"
GG_DECISION = "guardgraph.decision"
GG_RULE_IDS = "guardgraph.rule_ids"
GG_PROVENANCE = "guardgraph.audit.provenance"
GG_SPEC_NAME = "guardgraph.spec.name"
GG_SPEC_VERSION = "guardgraph.spec.version"
GG_SPEC_HASH = "guardgraph.spec.hash"
GG_MESSAGE = "guardgraph.message"
GG_APPROVED = "guardgraph.approval.approved"
GG_APPROVER = "guardgraph.approval.approver"
GG_TRUSTED = "guardgraph.tool.result.trusted"

_INVOKE_AGENT = "invoke_agent"
_EXECUTE_TOOL = "execute_tool"
# Checked at import: if upstream renames the operation values, we learn it here, once.
assert _genai.GenAiOperationNameValues.INVOKE_AGENT.value == _INVOKE_AGENT
assert _genai.GenAiOperationNameValues.EXECUTE_TOOL.value == _EXECUTE_TOOL

_AGENT_KINDS = frozenset({EventKind.TASK_RECEIVED, EventKind.ROUTE_DECIDED})
_TOOL_KINDS = frozenset(
    {
        EventKind.ACTION_PROPOSED,
        EventKind.VERDICT,
        EventKind.APPROVAL_REQUESTED,
        EventKind.APPROVAL_ANSWERED,
        EventKind.ACTION_EXECUTED,
        EventKind.TOOL_RESULT,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpanShape:
    """How one record appears as a span: its name and whether it marks an error."""

    name: str
    operation: str | None
    is_error: bool


def span_shape(record: AuditRecord) -> SpanShape:
    """Name a record's span as the GenAI conventions do: ``{operation} {target}``.

    >>> from guardgraph.audit.events import AuditRecord, EventKind
    >>> r = AuditRecord(id="r1", seq=0, timestamp="2026-05-01T10:00:00Z", session="s",
    ...     trace_id=None, span_id=None, actor="payments", kind=EventKind.VERDICT,
    ...     payload={"tool": "send_money"}, spec_name=None, spec_version=None,
    ...     spec_hash=None, decision="deny", rule_ids=("cap",), provenance=(),
    ...     idempotency_key=None, prev_hash="", hash="h")
    >>> span_shape(r).name
    'execute_tool send_money'
    """
    if record.kind in _TOOL_KINDS:
        tool = _text(record.payload.get("tool")) or "unknown"
        return SpanShape(name=f"{_EXECUTE_TOOL} {tool}", operation=_EXECUTE_TOOL, is_error=False)
    if record.kind in _AGENT_KINDS:
        return SpanShape(
            name=f"{_INVOKE_AGENT} {_agent_name(record)}", operation=_INVOKE_AGENT, is_error=False
        )
    return SpanShape(
        name=f"guardgraph.{record.kind.value}",
        operation=None,
        is_error=record.kind is EventKind.ERROR,
    )


def record_attributes(
    record: AuditRecord, *, capture_content: bool = False
) -> dict[str, AttributeValue]:
    """The attributes of a record's span (and of its structlog line), never ``None``-valued.

    Tool arguments and results are opt-in content (as in the GenAI conventions), because they
    may carry personal data; ``capture_content=True`` adds them as JSON strings.
    """
    payload = record.payload
    attrs: dict[str, AttributeValue] = {
        GG_RECORD_ID: record.id,
        GG_RECORD_SEQ: record.seq,
        GG_RECORD_HASH: record.hash,
        GG_KIND: record.kind.value,
        _session.SESSION_ID: record.session,
        _genai.GEN_AI_CONVERSATION_ID: record.session,
    }
    shape = span_shape(record)
    if shape.operation is not None:
        attrs[_genai.GEN_AI_OPERATION_NAME] = shape.operation
        attrs[_genai.GEN_AI_AGENT_NAME] = _agent_name(record)
    if record.kind in _TOOL_KINDS:
        _put(attrs, _genai.GEN_AI_TOOL_NAME, payload.get("tool"))
        _put(attrs, _genai.GEN_AI_TOOL_CALL_ID, payload.get("call_id"))
        attrs[_genai.GEN_AI_TOOL_TYPE] = "function"
        if capture_content and "args" in payload:
            attrs[_genai.GEN_AI_TOOL_CALL_ARGUMENTS] = _json(payload["args"])
        if capture_content and "output" in payload:
            attrs[_genai.GEN_AI_TOOL_CALL_RESULT] = _json(payload["output"])
    if record.decision is not None:
        attrs[GG_DECISION] = record.decision
    if record.rule_ids:
        attrs[GG_RULE_IDS] = tuple(record.rule_ids)
    if record.provenance:
        attrs[GG_PROVENANCE] = tuple(record.provenance)
    _put(attrs, GG_SPEC_NAME, record.spec_name)
    if record.spec_version is not None:
        attrs[GG_SPEC_VERSION] = record.spec_version
    _put(attrs, GG_SPEC_HASH, record.spec_hash)
    _put(attrs, GG_MESSAGE, payload.get("message") or payload.get("reason"))
    if isinstance(payload.get("approved"), bool):
        attrs[GG_APPROVED] = payload["approved"]
        attrs[GG_APPROVER] = _text(payload.get("approver")) or record.actor
    if isinstance(payload.get("trusted"), bool):
        attrs[GG_TRUSTED] = payload["trusted"]
    if shape.is_error:
        attrs[_error.ERROR_TYPE] = _text(payload.get("error_type")) or "_OTHER"
    return attrs


def _agent_name(record: AuditRecord) -> str:
    # A verdict's actor is the guard and an approval's a person; the agent acting is named in
    # the payload when the actor is not the agent itself.
    if record.kind is EventKind.ROUTE_DECIDED:
        return _text(record.payload.get("target")) or record.actor
    return _text(record.payload.get("agent")) or record.actor


def _put(attrs: dict[str, AttributeValue], key: str, value: object) -> None:
    text = _text(value)
    if text:
        attrs[key] = text


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def attribute_keys() -> Mapping[str, str]:
    """The GenAI names this module uses, for documentation and tests."""
    return {
        "operation": _genai.GEN_AI_OPERATION_NAME,
        "agent": _genai.GEN_AI_AGENT_NAME,
        "tool": _genai.GEN_AI_TOOL_NAME,
        "call_id": _genai.GEN_AI_TOOL_CALL_ID,
        "conversation": _genai.GEN_AI_CONVERSATION_ID,
        "arguments": _genai.GEN_AI_TOOL_CALL_ARGUMENTS,
        "result": _genai.GEN_AI_TOOL_CALL_RESULT,
        "error": _error.ERROR_TYPE,
        "session": _session.SESSION_ID,
    }
