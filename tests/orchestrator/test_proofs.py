"""Graph proofs: properties read from the spec's rules, proved by Z3 over the compiled
graph's topology, or refuted with a counterexample path; and `guardgraph verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import _proof_graphs as graphs
from _orch_support import SPEC

from guardgraph.guardrails import Guard, Policy, load_policy
from guardgraph.orchestrator import (
    GraphProperty,
    PropertyKind,
    properties_from_spec,
    prove,
    prove_all,
    topology_of,
)

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).with_name("guardgraph")


def _props() -> tuple[GraphProperty, ...]:
    return properties_from_spec(Policy.from_text(SPEC).spec)


def test_properties_are_read_from_agent_and_route_rules() -> None:
    props = {(p.kind, p.subject, p.agents, p.rule) for p in _props()}
    assert props == {
        (PropertyKind.TOOL_ONLY_BY, "send_money", frozenset({"payments"}), "payments_only"),
        (PropertyKind.LABEL_STAYS_WITHIN, "pii", frozenset({"payments", "support"}),
         "pii_stays_inside"),
    }


def test_a_graph_wired_as_the_spec_says_is_proved() -> None:
    results = prove_all(topology_of(graphs.good), _props())
    assert all(r.proved for r in results), [r.describe() for r in results]


def test_a_second_agent_holding_the_tool_is_a_counterexample() -> None:
    prop = next(p for p in _props() if p.kind is PropertyKind.TOOL_ONLY_BY)
    result = prove(topology_of(graphs.support_pays), prop)
    assert not result.proved
    assert result.path == ("__start__", "router", "support", "support__tools")


def test_a_plain_handoff_edge_breaks_the_label_property() -> None:
    prop = next(p for p in _props() if p.kind is PropertyKind.LABEL_STAYS_WITHIN)
    topo = topology_of(graphs.handoff())
    assert ("router", "research") in topo.routes and ("support_tools", "research") not in \
        topo.routes
    result = prove(topo, prop)
    assert not result.proved
    assert result.path == ("__start__", "router", "support", "support_tools", "research")
    # The same graph without the hand-off edge: the route rule alone keeps pii inside.
    fixed = type(topo)(nodes=topo.nodes,
                       edges=tuple(e for e in topo.edges if e != ("support_tools", "research")),
                       routes=topo.routes, agents=topo.agents, tools=topo.tools,
                       tool_nodes=topo.tool_nodes)
    assert prove(fixed, prop).proved


def test_compiled_graph_topology_matches_the_builders() -> None:
    from guardgraph.orchestrator import AgentGraph

    built = topology_of(graphs.good)
    compiled = graphs.good.compile(guard=load_policy_guard())
    read = topology_of(compiled)
    assert read.agents == built.agents and read.tools == built.tools
    assert read.tool_nodes == built.tool_nodes
    assert set(built.edges) <= set(read.edges) and read.routes == built.routes
    assert isinstance(graphs.good, AgentGraph)


def load_policy_guard() -> Guard:
    return Guard(Policy.from_text(SPEC))


def _verify(target: str, spec: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{HERE}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run([str(CLI), "verify", target, "--spec", str(spec), *extra],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def test_verify_command_proves_and_refutes(tmp_path: Path) -> None:
    spec = tmp_path / "pay.spec"
    spec.write_text(SPEC, encoding="utf-8")
    ok = _verify("_proof_graphs:good", spec)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "2 proved, 0 violated"
    bad = _verify("_proof_graphs:handoff", spec)
    assert bad.returncode == 1, bad.stderr
    assert ("counterexample: __start__ -> router -> support -> support_tools -> research"
            in bad.stdout)
    missing = _verify("_proof_graphs:nope", spec)
    assert missing.returncode == 2 and "no attribute" in missing.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
    assert load_policy(spec).name == "pay"
