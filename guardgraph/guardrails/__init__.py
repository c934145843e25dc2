"""guardgraph.guardrails: enforcement of specs — the runtime guard, its policy and
verdicts, Z3 compilation, static checks (lint, diff).

Every name is imported on first use, so ``import guardgraph.guardrails`` loads neither Z3
nor redis: a program that needs only the guard's values, or only lint, pays for nothing
else. The API the orchestrator and the learners build on is fixed in
docs/internal/session-contracts.md.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardgraph.guardrails._compile import (
        CompiledPolicy,
        CompiledRule,
        Input,
        InputKind,
        compile_policy,
    )
    from guardgraph.guardrails._errors import (
        GuardError,
        SessionStateError,
        SpecLoadError,
        StoreError,
    )
    from guardgraph.guardrails._redis_store import RedisStore
    from guardgraph.guardrails._store import InMemoryStore, SessionStore
    from guardgraph.guardrails.action import Action, ActionKind, ArgProvenance, Session, Symbolic
    from guardgraph.guardrails.approval import Approval, args_sha256
    from guardgraph.guardrails.diff import DiffStatus, SpecDiff, ToolDiff, diff
    from guardgraph.guardrails.guard import Guard
    from guardgraph.guardrails.lint import lint
    from guardgraph.guardrails.policy import Policy, load_policy
    from guardgraph.guardrails.trace import TraceError, TraceLine, parse_trace_line
    from guardgraph.guardrails.verdict import (
        Decision,
        Failure,
        PlanVerdict,
        PlanViolation,
        Subject,
        Verdict,
    )

_HOME = {
    "CompiledPolicy": "_compile", "CompiledRule": "_compile", "Input": "_compile",
    "InputKind": "_compile", "compile_policy": "_compile",
    "GuardError": "_errors", "SessionStateError": "_errors", "SpecLoadError": "_errors",
    "StoreError": "_errors",
    "InMemoryStore": "_store", "SessionStore": "_store",
    "RedisStore": "_redis_store",
    "Action": "action", "ActionKind": "action", "ArgProvenance": "action",
    "Session": "action", "Symbolic": "action",
    "Approval": "approval", "args_sha256": "approval",
    "DiffStatus": "diff", "SpecDiff": "diff", "ToolDiff": "diff", "diff": "diff",
    "Guard": "guard",
    "lint": "lint",
    "Policy": "policy", "load_policy": "policy",
    "TraceError": "trace", "TraceLine": "trace", "parse_trace_line": "trace",
    "Decision": "verdict", "Failure": "verdict", "PlanVerdict": "verdict",
    "PlanViolation": "verdict", "Subject": "verdict", "Verdict": "verdict",
}

__all__ = [
    "Action",
    "ActionKind",
    "Approval",
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
    "Policy",
    "RedisStore",
    "Session",
    "SessionStateError",
    "SessionStore",
    "SpecDiff",
    "SpecLoadError",
    "StoreError",
    "Subject",
    "Symbolic",
    "ToolDiff",
    "TraceError",
    "TraceLine",
    "Verdict",
    "args_sha256",
    "compile_policy",
    "diff",
    "lint",
    "load_policy",
    "parse_trace_line",
]

# `lint` and `diff` are functions named like their modules. Importing the submodule makes
# Python set the package attribute to the module object; refusing that keeps the name the
# function, whichever is imported first, without importing either (and Z3) up front.
_FUNCTIONS = frozenset({"diff", "lint"})


class _Facade(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        if name in _FUNCTIONS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
