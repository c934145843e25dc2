"""Owns graph proofs: a Z3 model of which agent can reach which tool through which routes
in a compiled agent graph, and the properties a spec states about it.

The language has no separate construct for graph properties; they are read from the
rules a spec already has (documented in the README, "Guarded agent graphs"):

* ``on T require agent == "A"`` (or ``agent in {...}``), a deny rule without ``when``:
  **tool T is reachable only through those agents** — no other agent that a run can reach
  holds T among its tools.
* ``on route when "L" in task.labels require target in {...}`` (or ``target == ...``):
  **a task labelled L never reaches an agent outside that set** — routing decisions to
  other agents are denied by the guard for such a task, but hand-offs that are plain
  edges of the graph are not routing decisions, so a path through one is a counterexample.

Each property is a bounded model-checking question over paths from ``START`` (the bound is
the number of nodes, so it is complete for reachability); Z3 answers with a path that
breaks it, or proves that none exists. Each question has its own ``z3.Context``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import z3

__all__ = [
    "GraphProperty",
    "GraphTopology",
    "ProofResult",
    "PropertyKind",
    "properties_from_spec",
    "prove",
    "prove_all",
    "topology_of",
]

START = "__start__"
END = "__end__"


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphTopology:
    """What a graph can do, as declared: nodes, edges (conditional targets included),
    which edges are routing decisions, which nodes are agents, each agent's tools, and
    which tool node serves which agent."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    routes: frozenset[tuple[str, str]] = frozenset()
    agents: frozenset[str] = frozenset()
    tools: Mapping[str, frozenset[str]] = field(default_factory=dict)
    tool_nodes: Mapping[str, str] = field(default_factory=dict)


class PropertyKind(StrEnum):
    TOOL_ONLY_BY = "tool_only_by"
    LABEL_STAYS_WITHIN = "label_stays_within"


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphProperty:
    """``TOOL_ONLY_BY``: ``subject`` (a tool) only through ``agents``.
    ``LABEL_STAYS_WITHIN``: a task labelled ``subject`` only reaches ``agents``."""

    kind: PropertyKind
    subject: str
    agents: frozenset[str]
    rule: str

    def describe(self) -> str:
        allowed = ", ".join(sorted(self.agents)) or "no agent"
        if self.kind is PropertyKind.TOOL_ONLY_BY:
            return f"{self.subject} is reachable only through {allowed} (rule {self.rule})"
        return (f"a task labelled {self.subject!r} reaches only {allowed} "
                f"(rule {self.rule})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofResult:
    """``proved``, or the counterexample ``path`` (node names from ``START``)."""

    property: GraphProperty
    proved: bool
    path: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.proved:
            return f"proved: {self.property.describe()}"
        return (f"violated: {self.property.describe()}\n"
                f"  counterexample: {' -> '.join(self.path)}")


# -- properties from the spec ---------------------------------------------------------
def properties_from_spec(spec: Any) -> tuple[GraphProperty, ...]:
    """The graph properties a checked spec (``guardgraph.specs.ast.Spec``) states."""
    from guardgraph.specs import ast

    found: list[GraphProperty] = []
    for rule in spec.rules:
        if rule.otherwise is not ast.Decision.DENY:
            continue
        if rule.on_route:
            label = _label_of(rule.when)
            agents = _members(rule.require, "target")
            if label is not None and agents is not None:
                found.append(GraphProperty(kind=PropertyKind.LABEL_STAYS_WITHIN,
                                           subject=label, agents=agents, rule=rule.name))
            continue
        if rule.when is not None or rule.on_any:
            continue
        agents = _members(rule.require, "agent")
        if agents is None:
            continue
        for tool in rule.targets:
            found.append(GraphProperty(kind=PropertyKind.TOOL_ONLY_BY, subject=tool,
                                       agents=agents, rule=rule.name))
    return tuple(found)


def _members(expr: Any, name: str) -> frozenset[str] | None:
    """``name == "a"`` or ``name in {"a", "b"}`` -> the set; anything else -> None."""
    from guardgraph.specs import ast

    if not isinstance(expr, ast.Binary) or not isinstance(expr.left, ast.Name) \
            or expr.left.id != name:
        return None
    if expr.op is ast.BinOp.EQ and isinstance(expr.right, ast.StrLit):
        return frozenset({expr.right.value})
    if expr.op is ast.BinOp.IN and isinstance(expr.right, ast.SetLit) and all(
            isinstance(i, ast.StrLit) for i in expr.right.items):
        return frozenset(i.value for i in expr.right.items if isinstance(i, ast.StrLit))
    return None


def _label_of(expr: Any) -> str | None:
    """``"L" in task.labels`` -> ``"L"``."""
    from guardgraph.specs import ast

    if (isinstance(expr, ast.Binary) and expr.op is ast.BinOp.IN
            and isinstance(expr.left, ast.StrLit) and isinstance(expr.right, ast.Attribute)
            and expr.right.attr == "labels" and isinstance(expr.right.value, ast.Name)
            and expr.right.value.id == "task"):
        return expr.left.value
    return None


# -- the model ----------------------------------------------------------------------------
def prove(topology: GraphTopology, prop: GraphProperty) -> ProofResult:
    """Prove ``prop`` over every path of ``topology`` from START, or return a path that
    breaks it."""
    ctx = z3.Context()
    index = {n: i for i, n in enumerate(topology.nodes)}
    if START not in index:
        raise ValueError("the topology has no START node")
    steps = len(topology.nodes)
    at = [z3.Int(f"n{i}", ctx) for i in range(steps)]
    solver = z3.Solver(ctx=ctx)
    solver.add(at[0] == index[START])
    labelled = prop.kind is PropertyKind.LABEL_STAYS_WITHIN
    edges = [(a, b) for a, b in topology.edges if a in index and b in index]
    for i in range(steps - 1):
        moves = [at[i + 1] == at[i]]  # stutter: shorter paths pad with their last node
        for a, b in edges:
            if labelled and (a, b) in topology.routes and b not in prop.agents:
                continue  # the guard denies this route for a labelled task
            moves.append(z3.And(at[i] == index[a], at[i + 1] == index[b]))
        solver.add(z3.Or(*moves))
    bad = _bad_nodes(topology, prop)
    if not bad:
        return ProofResult(property=prop, proved=True)
    solver.add(z3.Or(*[a == index[n] for a in at for n in bad]))
    answer = solver.check()
    if answer == z3.unsat:
        return ProofResult(property=prop, proved=True)
    if answer != z3.sat:
        # unknown is never an answer (STYLE.md); a bounded integer model should not get here
        raise RuntimeError(f"Z3 could not decide {prop.describe()}: {solver.reason_unknown()}")
    model = solver.model()
    names = [topology.nodes[model.eval(a, model_completion=True).as_long()] for a in at]
    path: list[str] = []
    for n in names:
        if not path or path[-1] != n:
            path.append(n)
        if n in bad:
            break
    return ProofResult(property=prop, proved=False, path=tuple(path))


def _bad_nodes(topology: GraphTopology, prop: GraphProperty) -> list[str]:
    if prop.kind is PropertyKind.LABEL_STAYS_WITHIN:
        return [a for a in topology.agents if a not in prop.agents]
    bad = []
    for node, agent in topology.tool_nodes.items():
        if prop.subject in topology.tools.get(agent, ()) and agent not in prop.agents:
            bad.append(node)
    return bad


# -- reading a graph ------------------------------------------------------------------------
def topology_of(graph: Any) -> GraphTopology:
    """The topology of an `AgentGraph`, a ``StateGraph`` or a compiled LangGraph graph.

    Tool nodes are ``ToolNode``s (their tools are read from them); the agent a tool node
    serves is the ``agent`` of a `GuardedToolNode`, else the node with an edge into it;
    routing decisions are the edges into agents from nodes that are neither agents nor
    tool nodes (a router)."""
    topo = getattr(graph, "topology", None)
    if callable(topo):
        result = topo()
        if isinstance(result, GraphTopology):
            return result
    builder = getattr(graph, "builder", graph)
    if not hasattr(builder, "nodes") or not hasattr(builder, "branches"):
        raise TypeError(f"expected an AgentGraph or a LangGraph graph, got "
                        f"{type(graph).__name__}")
    from langgraph.prebuilt import ToolNode

    edges: set[tuple[str, str]] = set(builder.edges)
    for starts, end in getattr(builder, "waiting_edges", set()):
        edges |= {(s, end) for s in starts}
    for source, branches in builder.branches.items():
        for branch in branches.values():
            if branch.ends:
                edges |= {(source, t) for t in branch.ends.values()}
            else:  # undeclared targets: any node may follow (sound over-approximation)
                edges |= {(source, t) for t in (*builder.nodes, END)}
    for name, spec in builder.nodes.items():
        ends = spec.ends or ()
        targets = ends.values() if isinstance(ends, Mapping) else ends
        edges |= {(name, t) for t in targets}
    tool_nodes: dict[str, str] = {}
    tools: dict[str, set[str]] = {}
    for name, spec in builder.nodes.items():
        runnable = spec.runnable
        if not isinstance(runnable, ToolNode):
            continue
        agent = getattr(runnable, "agent", None) or next(
            (a for a, b in sorted(edges) if b == name and a != START), name)
        tool_nodes[name] = agent
        tools.setdefault(agent, set()).update(runnable.tools_by_name)
    agents = frozenset(tool_nodes.values())
    routes = frozenset((a, b) for a, b in edges
                       if b in agents and a not in agents and a not in tool_nodes)
    return GraphTopology(nodes=(START, *builder.nodes, END), edges=tuple(sorted(edges)),
                         routes=routes, agents=agents,
                         tools={a: frozenset(t) for a, t in tools.items()},
                         tool_nodes=tool_nodes)


def prove_all(topology: GraphTopology,
              props: Sequence[GraphProperty]) -> tuple[ProofResult, ...]:
    """Every property, in order."""
    return tuple(prove(topology, p) for p in props)
