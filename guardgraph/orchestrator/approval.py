"""Owns human approval inside a graph: the ``interrupt()`` value an escalation raises and
the answer a ``Command(resume=...)`` brings back.

The value is plain JSON (DESIGN.md, the orchestrator's API)::

    {"kind": "approval", "call_id": ..., "tool": ..., "args": {...}, "agent": ...,
     "rules": [...], "message": ..., "args_sha256": ...}

and the answer ``{"approved": bool, "approver": str, "reason": str}``; with several
approvals pending, ``Command(resume={interrupt_id: answer, ...})`` answers each by the id
LangGraph gave its interrupt (``pending_approvals`` lists them). An answer that is not of
that shape is a rejection, never an approval (fail closed).

>>> parse_answer({"approved": True, "approver": "carla", "reason": "known payee"}).approved
True
>>> parse_answer("yes").approved
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ApprovalAnswer", "PendingApproval", "approval_request", "parse_answer",
           "pending_approvals"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalAnswer:
    """A human's answer to one approval request."""

    approved: bool
    approver: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingApproval:
    """An approval request waiting in an interrupted graph: LangGraph's interrupt id and
    the request's value."""

    interrupt_id: str
    request: Mapping[str, Any]


def approval_request(*, call_id: str, tool: str, args: Mapping[str, object], agent: str,
                     rules: Sequence[str], message: str, args_sha256: str) -> dict[str, Any]:
    """The JSON value of an escalation's ``interrupt()``."""
    from guardgraph.guardrails.verdict import json_value

    return {"kind": "approval", "call_id": call_id, "tool": tool,
            "args": json_value(args), "agent": agent, "rules": list(rules),
            "message": message, "args_sha256": args_sha256}


def parse_answer(value: object) -> ApprovalAnswer:
    """Read a resume value; anything but ``{"approved": True, ...}`` is a rejection, and a
    malformed answer says what was wrong in its reason."""
    if not isinstance(value, Mapping):
        return ApprovalAnswer(approved=False, approver="guardgraph",
                              reason=f"malformed approval answer: expected a mapping with "
                                     f"'approved', got {type(value).__name__}")
    approved = value.get("approved")
    approver = value.get("approver", "")
    reason = value.get("reason", "")
    if not isinstance(approved, bool):
        return ApprovalAnswer(approved=False, approver=str(approver) or "guardgraph",
                              reason=f"malformed approval answer: 'approved' must be a bool, "
                                     f"got {approved!r}")
    if not isinstance(approver, str) or not approver:
        return ApprovalAnswer(approved=False, approver="guardgraph",
                              reason="malformed approval answer: 'approver' must name who "
                                     "answered")
    return ApprovalAnswer(approved=approved, approver=approver,
                          reason=reason if isinstance(reason, str) else str(reason))


def pending_approvals(snapshot_or_result: Any) -> tuple[PendingApproval, ...]:
    """The approval requests pending in an interrupted run: pass the ``StateSnapshot`` of
    ``graph.get_state(config)``, or the result of ``invoke`` (its ``__interrupt__``)."""
    interrupts: Sequence[Any]
    if isinstance(snapshot_or_result, Mapping):
        interrupts = snapshot_or_result.get("__interrupt__", ())
    else:
        interrupts = getattr(snapshot_or_result, "interrupts", ())
    found = []
    for item in interrupts:
        value = getattr(item, "value", None)
        if isinstance(value, Mapping) and value.get("kind") == "approval":
            found.append(PendingApproval(interrupt_id=str(item.id), request=value))
    return tuple(found)
