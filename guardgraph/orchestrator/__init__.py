"""guardgraph.orchestrator: guarded, audited agent graphs on LangGraph.

* `AgentGraph`: specialists and their tools behind a router; ``compile(guard=, audit=,
  checkpointer=)`` validates and returns a normal compiled LangGraph graph.
* `GuardedToolNode`: a drop-in for ``langgraph.prebuilt.ToolNode``.
* `GuardMiddleware`: for ``langchain.agents.create_agent(..., middleware=[...])``.
* Approvals: an escalation is ``interrupt({"kind": "approval", ...})``, answered with
  ``Command(resume={"approved": ..., "approver": ..., "reason": ...})``
  (`pending_approvals` lists what waits).
* `record_verdict` and its siblings: the one way verdicts, approvals, executions and
  results become audit records.
* Graph proofs: `topology_of`, `properties_from_spec`, `prove`.
"""

from guardgraph.orchestrator._backends import Backends, open_backends
from guardgraph.orchestrator._records import (
    SpanIds,
    record_approval_answer,
    record_approval_request,
    record_error,
    record_execution,
    record_proposal,
    record_result,
    record_route,
    record_task,
    record_user_message,
    record_verdict,
)
from guardgraph.orchestrator.approval import (
    ApprovalAnswer,
    PendingApproval,
    approval_request,
    parse_answer,
    pending_approvals,
)
from guardgraph.orchestrator.builder import AgentGraph, AgentState, GraphBuildError, user_task
from guardgraph.orchestrator.proofs import (
    GraphProperty,
    GraphTopology,
    ProofResult,
    PropertyKind,
    properties_from_spec,
    prove,
    prove_all,
    topology_of,
)
from guardgraph.orchestrator.tools import GuardedToolNode, GuardMiddleware

__all__ = [
    "AgentGraph",
    "AgentState",
    "ApprovalAnswer",
    "Backends",
    "GraphBuildError",
    "GraphProperty",
    "GraphTopology",
    "GuardMiddleware",
    "GuardedToolNode",
    "PendingApproval",
    "ProofResult",
    "PropertyKind",
    "SpanIds",
    "approval_request",
    "open_backends",
    "parse_answer",
    "pending_approvals",
    "properties_from_spec",
    "prove",
    "prove_all",
    "record_approval_answer",
    "record_approval_request",
    "record_error",
    "record_execution",
    "record_proposal",
    "record_result",
    "record_route",
    "record_task",
    "record_user_message",
    "record_verdict",
    "topology_of",
    "user_task",
]
