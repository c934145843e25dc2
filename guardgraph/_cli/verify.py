"""`guardgraph verify MODULE:ATTR --spec FILE`: graph proofs over a compiled agent graph.

The graph (an `AgentGraph`, a ``StateGraph``, a compiled LangGraph graph, or a function of
no arguments returning one) is read for its nodes, edges, declared conditional targets and
each agent's tools; the properties are those the spec's ``agent ==`` and ``on route``
rules state (see ``guardgraph.orchestrator.proofs``). Each is proved by Z3, or its
counterexample path is printed.
Exit codes: 0 every property proved, 1 a property is violated, 2 bad input (a module or
attribute that cannot be loaded, a spec that does not load, no property stated).
"""

from __future__ import annotations

import importlib
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from guardgraph._cli._console import fail

__all__ = ["register"]

EXIT_VIOLATED = 1


class VerifyFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


def _load_graph(target: str, *, as_json: bool) -> Any:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise fail(f"{target!r}: expected MODULE:ATTR", "e.g. guardgraph verify app.graphs:bank "
                   "--spec bank.spec", as_json=as_json)
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: the working directory
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise fail(f"cannot import {module_name}: {type(exc).__name__}: {exc}",
                   "run from the folder that holds the module, or install it",
                   as_json=as_json) from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise fail(f"{module_name} has no attribute {attr!r}", as_json=as_json)
        value = getattr(value, part)
    if callable(value) and not hasattr(value, "topology") and not hasattr(value, "builder") \
            and not hasattr(value, "branches"):
        value = value()  # a factory
    return value


def verify(
    target: Annotated[str, typer.Argument(metavar="MODULE:ATTR",
                                          help="The graph, e.g. app.graphs:bank.")],
    spec: Annotated[list[Path], typer.Option("--spec", help="Spec file(s) stating the "
                                             "properties (repeat for several).")],
    output_format: Annotated[VerifyFormat, typer.Option("--format", help="Output format.")]
    = VerifyFormat.HUMAN,
) -> None:
    """Prove the graph properties a spec states, or print a counterexample path."""
    as_json = output_format is VerifyFormat.JSON
    from guardgraph.errors import GuardgraphError
    from guardgraph.guardrails import load_policy
    from guardgraph.orchestrator import properties_from_spec, prove_all, topology_of

    try:
        policy = load_policy(*spec)
    except GuardgraphError as exc:
        raise fail(f"the spec does not load: {exc}", as_json=as_json) from None
    graph = _load_graph(target, as_json=as_json)
    try:
        topology = topology_of(graph)
    except TypeError as exc:
        raise fail(f"{target}: {exc}", as_json=as_json) from None
    props = properties_from_spec(policy.spec)
    if not props:
        raise fail(f"spec {policy.name} states no graph property",
                   'write `on TOOL require agent == "A"` or `on route when "L" in task.labels '
                   'require target in {...}` rules', as_json=as_json)
    results = prove_all(topology, props)
    out = sys.stdout
    if as_json:
        for r in results:
            out.write(json.dumps({"property": r.property.describe(), "kind": str(r.property.kind),
                                  "rule": r.property.rule, "proved": r.proved,
                                  "path": list(r.path)}) + "\n")
    else:
        for r in results:
            out.write(r.describe() + "\n")
        bad = sum(not r.proved for r in results)
        out.write(f"{len(results) - bad} proved, {bad} violated\n")
    if any(not r.proved for r in results):
        raise typer.Exit(EXIT_VIOLATED)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("verify")(verify)
