"""guardgraph.guardrails: enforcement of specs — Z3 compilation, static checks (lint,
diff), the runtime guard."""

from guardgraph.guardrails._compile import (
    CompiledPolicy,
    CompiledRule,
    Input,
    InputKind,
    compile_policy,
)
from guardgraph.guardrails._store import InMemoryStore, SessionStore, StoreError
from guardgraph.guardrails.action import Action, ActionKind, ArgProvenance, Session, Symbolic
from guardgraph.guardrails.diff import DiffStatus, SpecDiff, ToolDiff, diff
from guardgraph.guardrails.guard import Guard, GuardError
from guardgraph.guardrails.lint import lint
from guardgraph.guardrails.trace import TraceError, TraceLine, parse_trace_line
from guardgraph.guardrails.verdict import (
    Decision,
    Failure,
    PlanVerdict,
    PlanViolation,
    Verdict,
)

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
    # RedisStore is imported on first use, so `import guardgraph.guardrails` never
    # imports redis.
    if name == "RedisStore":
        from guardgraph.guardrails._redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
