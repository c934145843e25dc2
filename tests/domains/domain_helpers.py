"""Shared checks for the domain tests: run a task's reference or its naive script through
a real guard and report what happened."""

from __future__ import annotations

from typing import Any

from guardgraph.domains import Call, Domain, Episode, ReplayScript, Task, play
from guardgraph.specs import ast

# The spec's type for each Python parameter type of a DomainTool.
SPEC_TYPE = {str: "str", int: "int", float: "real", bool: "bool", list: "list", dict: "record"}


def spec_type_name(t: ast.TypeExpr, spec: ast.Spec) -> str:
    """The DomainTool-side name of a declared type (enums are strings at run time,
    records are dicts, lists and sets are lists)."""
    if isinstance(t, ast.OptionalType):
        return spec_type_name(t.inner, spec)
    if isinstance(t, ast.ListType | ast.SetType):
        return "list"
    if isinstance(t, ast.PrimType):
        return str(t.name)
    if any(e.name == t.name for e in spec.enums):
        return "str"
    assert spec.record(t.name) is not None, f"unexpected type {t.name}"
    return "record"


def run_reference(domain: Domain, task: Task, guard: Any) -> tuple[Episode, list[Call]]:
    """The task's reference under ``guard``; escalations are approved and listed."""
    escalated: list[Call] = []

    def approve(call: Call, verdict: object) -> bool:
        escalated.append(call)
        return True

    episode = play(domain, task, guard=guard, script=ReplayScript(calls=task.reference),
                   approve=approve)
    return episode, escalated
