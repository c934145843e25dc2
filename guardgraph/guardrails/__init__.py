"""guardgraph.guardrails: enforcement of specs — Z3 compilation, static checks (lint,
diff), the runtime guard.

Every name is imported on first use, so a command that needs only lint (or a program
that needs only the guard) does not pay for the rest, nor for redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# `lint` and `diff` are functions named like their modules: imported now, so that the
# name is the function even after someone imports the module `guardrails.lint`.
from guardgraph.guardrails.diff import diff
from guardgraph.guardrails.lint import lint

if TYPE_CHECKING:
    from guardgraph.guardrails._compile import (
        CompiledPolicy,
        CompiledRule,
        Input,
        InputKind,
        compile_policy,
    )
    from guardgraph.guardrails._redis_store import RedisStore
    from guardgraph.guardrails._store import InMemoryStore, SessionStore, StoreError
    from guardgraph.guardrails.action import Action, ActionKind, ArgProvenance, Session, Symbolic
    from guardgraph.guardrails.diff import DiffStatus, SpecDiff, ToolDiff
    from guardgraph.guardrails.guard import Guard, GuardError
    from guardgraph.guardrails.trace import TraceError, TraceLine, parse_trace_line
    from guardgraph.guardrails.verdict import (
        Decision,
        Failure,
        PlanVerdict,
        PlanViolation,
        Verdict,
    )

_HOME = {
    "CompiledPolicy": "_compile", "CompiledRule": "_compile", "Input": "_compile",
    "InputKind": "_compile", "compile_policy": "_compile",
    "InMemoryStore": "_store", "SessionStore": "_store", "StoreError": "_store",
    "Action": "action", "ActionKind": "action", "ArgProvenance": "action",
    "Session": "action", "Symbolic": "action",
    "DiffStatus": "diff", "SpecDiff": "diff", "ToolDiff": "diff",
    "Guard": "guard", "GuardError": "guard",
    "TraceError": "trace", "TraceLine": "trace", "parse_trace_line": "trace",
    "Decision": "verdict", "Failure": "verdict", "PlanVerdict": "verdict",
    "PlanViolation": "verdict", "Verdict": "verdict",
    "RedisStore": "_redis_store",
}

__all__ = [
    "Action",
    "ActionKind",
    "ArgProvenance",
    "CompiledPolicy",
    "CompiledRule",
    "Decision",
    "DiffStatus",
    "Failure",
    "Guard",
    "GuardError",
    "InMemoryStore",
    "Input",
    "InputKind",
    "PlanVerdict",
    "PlanViolation",
    "RedisStore",
    "Session",
    "SessionStore",
    "SpecDiff",
    "StoreError",
    "Symbolic",
    "ToolDiff",
    "TraceError",
    "TraceLine",
    "Verdict",
    "compile_policy",
    "diff",
    "lint",
    "parse_trace_line",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
