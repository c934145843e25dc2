"""The guard's answer: `Verdict` (one action) and `PlanVerdict` (a proposed plan).

A verdict is a value, never an exception: a deny carries a stable code (``GG400`` for a
rule that did not hold, ``GG401``-``GG409`` for fail-closed reasons), the ids of the rules
that fired, and for each failed rule the sub-condition that failed with the concrete
values it read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

__all__ = ["Decision", "Failure", "PlanVerdict", "PlanViolation", "Verdict", "json_value"]


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ESCALATE = "escalate"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """Why one rule fired: the failing conjunct of its ``require`` and what it read."""

    rule: str
    condition: str
    values: tuple[tuple[str, object], ...] = ()

    def describe(self) -> str:
        shown = ", ".join(f"{name} = {_show(v)}" for name, v in self.values)
        return f"{self.condition}" + (f" ({shown})" if shown else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The decision on one action.

    ``rules``: ids of the rules that fired (deny, escalate and warn rules, spec order).
    ``code``: None for an allow without findings, else a GG4xx code. ``repair``: for a
    ``REPAIR`` decision, the changed arguments (the nearest compliant values).
    """

    decision: Decision
    rules: tuple[str, ...] = ()
    message: str = ""
    code: str | None = None
    failures: tuple[Failure, ...] = ()
    repair: Mapping[str, object] | None = field(default=None, hash=False)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.repair is not None and not isinstance(self.repair, MappingProxyType):
            object.__setattr__(self, "repair", MappingProxyType(dict(self.repair)))

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    def to_json(self, *, session: str, call_id: str, tool: str) -> dict[str, object]:
        """The verdict line of ``guardgraph check-trace`` (DESIGN.md)."""
        return {
            "session": session,
            "call_id": call_id,
            "tool": tool,
            "decision": str(self.decision),
            "rules": list(self.rules),
            "message": self.message,
            "repair": None if self.repair is None
            else {k: json_value(v) for k, v in self.repair.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanViolation:
    """Step ``step`` of a plan can fire ``rules``; ``witness`` gives values that do it."""

    step: int
    tool: str
    rules: tuple[str, ...]
    decision: Decision
    witness: tuple[tuple[str, object], ...]
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanVerdict:
    """Whether some execution of a plan can violate a rule; ``safe`` only when none can."""

    safe: bool
    violations: tuple[PlanViolation, ...] = ()
    code: str | None = None
    message: str = ""


def json_value(value: object) -> object:
    """A JSON-safe form of a guard value (exact reals become ints or floats for display)."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, frozenset | set):
        return sorted((json_value(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def _show(value: object) -> str:
    return json.dumps(json_value(value), ensure_ascii=False)
