"""The shared event model: what happened, as frozen values the audit log records.

This is the one module of ``guardgraph.audit`` that the guard and the orchestrator import
to describe events; it depends on nothing else of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["AuditRecord", "Event", "EventKind"]


class EventKind(StrEnum):
    TASK_RECEIVED = "task_received"
    ROUTE_DECIDED = "route_decided"
    ACTION_PROPOSED = "action_proposed"
    VERDICT = "verdict"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_ANSWERED = "approval_answered"
    ACTION_EXECUTED = "action_executed"
    TOOL_RESULT = "tool_result"
    ERROR = "error"
    SPEC_LOADED = "spec_loaded"
    SPEC_CHANGED = "spec_changed"
    MODEL_TRAINED = "model_trained"
    MODEL_DEPLOYED = "model_deployed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """An event before it is appended: the store assigns id, sequence and hashes.

    ``payload`` must be JSON-serialisable. ``provenance`` holds the ids of the records this
    one derives from. ``idempotency_key`` (thread, checkpoint, task, tool call, phase joined)
    makes a replayed append return the existing record instead of a duplicate.
    """

    kind: EventKind
    session: str
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)
    provenance: tuple[str, ...] = ()
    spec_name: str | None = None
    spec_version: int | None = None
    spec_hash: str | None = None
    decision: str | None = None
    rule_ids: tuple[str, ...] = ()
    trace_id: str | None = None
    span_id: str | None = None
    idempotency_key: str | None = None
    timestamp: str | None = None  # RFC 3339; the store's clock fills it when None
    id: str | None = None  # the record id; the log's id factory fills it when None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One record of the append-only, hash-chained log (DESIGN.md: audit record)."""

    id: str
    seq: int
    timestamp: str
    session: str
    trace_id: str | None
    span_id: str | None
    actor: str
    kind: EventKind
    payload: dict[str, Any]
    spec_name: str | None
    spec_version: int | None
    spec_hash: str | None
    decision: str | None
    rule_ids: tuple[str, ...]
    provenance: tuple[str, ...]
    idempotency_key: str | None
    prev_hash: str
    hash: str
