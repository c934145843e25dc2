"""Owns provenance trees: which records led to an outcome, walked back through the log.

Provenance links point from a record to the records it derives from (a verdict to its
proposal, a payment proposal to the tool result whose value it used, ...). The links form a
DAG; ``trace_provenance`` unfolds it into a tree rooted at the outcome, showing a record that
is reached a second time as a reference (``repeat=True``) instead of copying its subtree, so
the tree stays linear in the size of the DAG.

>>> from guardgraph.audit.generate import generate_sessions
>>> from guardgraph.audit.events import AuditRecord
>>> records = {}
>>> for seq, e in enumerate(generate_sessions(1, seed=3)):
...     records[e.id] = AuditRecord(id=e.id, seq=seq, timestamp=e.timestamp or "",
...         session=e.session, trace_id=None, span_id=None, actor=e.actor, kind=e.kind,
...         payload=e.payload, spec_name=None, spec_version=None, spec_hash=None,
...         decision=e.decision, rule_ids=e.rule_ids, provenance=e.provenance,
...         idempotency_key=None, prev_hash="", hash="")
>>> last = list(records)[-1]
>>> tree = trace_provenance(records.get, last)
>>> tree.record.kind.value, tree.count()  > 1
('tool_result', True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.audit.query import record_tool
from guardgraph.errors import AuditError

__all__ = ["ProvenanceNode", "node_label", "provenance_json", "trace_provenance"]

Lookup = Callable[[str], AuditRecord | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenanceNode:
    """One node of the tree: a record (``None`` when the id is not in the log)."""

    record_id: str
    record: AuditRecord | None
    parents: tuple[ProvenanceNode, ...] = ()
    repeat: bool = False  # already shown elsewhere in this tree; its parents are there
    truncated: bool = False  # max_depth reached; it has parents that are not shown

    def walk(self) -> Iterator[ProvenanceNode]:
        """Every node, depth first, root first."""
        yield self
        for parent in self.parents:
            yield from parent.walk()

    def count(self) -> int:
        return sum(1 for _ in self.walk())

    def records(self) -> list[AuditRecord]:
        """The distinct records in the tree, in log order (by sequence number)."""
        seen = {n.record.id: n.record for n in self.walk() if n.record is not None}
        return sorted(seen.values(), key=lambda r: r.seq)

    def label(self) -> str:
        """A one-line human description of this node (what the tree renderers show)."""
        return node_label(self)

    def to_json(self) -> dict[str, Any]:
        """The tree from this node as nested JSON (``audit trace --format json``)."""
        return provenance_json(self)


def trace_provenance(lookup: Lookup, record_id: str, *, max_depth: int = 64) -> ProvenanceNode:
    """The provenance tree of ``record_id``, built with ``lookup`` (e.g. ``store.get``).

    Raises ``AuditError`` naming the id when the outcome itself is not in the log; a missing
    ancestor (a dangling link) becomes a node with ``record=None`` so a reviewer sees it.
    """
    if max_depth < 1:
        raise ValueError(f"expected max_depth >= 1, got {max_depth}")
    root = lookup(record_id)
    if root is None:
        raise AuditError(f"no record with id {record_id!r} in the audit log")
    seen: set[str] = set()
    cache: dict[str, AuditRecord | None] = {record_id: root}

    def get(rid: str) -> AuditRecord | None:
        if rid not in cache:
            cache[rid] = lookup(rid)
        return cache[rid]

    # Recursion depth is bounded by max_depth, far below Python's limit.
    def build(rid: str, depth: int) -> ProvenanceNode:
        record = get(rid)
        if rid in seen:
            return ProvenanceNode(record_id=rid, record=record, repeat=True)
        seen.add(rid)
        if record is None:
            return ProvenanceNode(record_id=rid, record=None)
        if depth >= max_depth and record.provenance:
            return ProvenanceNode(record_id=rid, record=record, truncated=True)
        return ProvenanceNode(
            record_id=rid,
            record=record,
            parents=tuple(build(p, depth + 1) for p in record.provenance),
        )

    return build(record_id, 1)


def node_label(node: ProvenanceNode) -> str:
    """A one-line human description of a node, used by the tree renderers.

    >>> node_label(ProvenanceNode(record_id="x", record=None))
    'x (missing from the log)'
    """
    record = node.record
    if record is None:
        return f"{node.record_id} (missing from the log)"
    return f"{record.kind.value} {_detail(record)}".rstrip()


def _detail(record: AuditRecord) -> str:
    p = record.payload
    tool = record_tool(record)
    kind = record.kind
    if kind is EventKind.TASK_RECEIVED:
        return f"{p.get('task', '')!r} from {record.actor}"
    if kind is EventKind.USER_MESSAGE:
        return f"{p.get('text', '')!r} from {record.actor}"
    if kind is EventKind.ROUTE_DECIDED:
        return f"-> {p.get('target', '?')} by {record.actor}"
    if kind is EventKind.ACTION_PROPOSED:
        return f"{record.actor} proposes {tool}({_args(p.get('args'))})"
    if kind is EventKind.VERDICT:
        rules = ", ".join(record.rule_ids) or "no rule fired"
        message = f": {p['message']}" if p.get("message") else ""
        return f"{(record.decision or '?').upper()} {tool} [{rules}]{message}"
    if kind is EventKind.APPROVAL_REQUESTED:
        return f"{tool}: {p.get('reason') or 'approval needed'}"
    if kind is EventKind.APPROVAL_ANSWERED:
        answer = "APPROVED" if p.get("approved") else "REJECTED"
        return f"{answer} {tool} by {p.get('approver', record.actor)}"
    if kind is EventKind.ACTION_EXECUTED:
        return f"{tool}({_args(p.get('args'))}) by {record.actor}"
    if kind is EventKind.TOOL_RESULT:
        trust = "trusted" if p.get("trusted", True) else "UNTRUSTED"
        return f"{tool} -> {_short(p.get('output'))} ({trust})"
    if kind is EventKind.ERROR:
        return f"{p.get('error_type', 'error')}: {p.get('message', '')}"
    return f"by {record.actor}"


def _args(args: Any) -> str:
    if not isinstance(args, dict):
        return ""
    return ", ".join(f"{k}={_short(v)}" for k, v in args.items())


def _short(value: Any, limit: int = 48) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provenance_json(node: ProvenanceNode) -> dict[str, Any]:
    """The tree as nested JSON: each node with its record's main fields and its parents."""
    record = node.record
    out: dict[str, Any] = {"id": node.record_id}
    if record is None:
        out["missing"] = True
        return out
    out.update(
        {
            "seq": record.seq,
            "timestamp": record.timestamp,
            "session": record.session,
            "kind": record.kind.value,
            "actor": record.actor,
            "tool": record_tool(record),
            "decision": record.decision,
            "rule_ids": list(record.rule_ids),
            "summary": node_label(node),
        }
    )
    if node.repeat:
        out["repeat"] = True
    elif node.truncated:
        out["truncated"] = True
    else:
        out["derives_from"] = [provenance_json(p) for p in node.parents]
    return out
