"""The guard's answer: `Verdict` (one action) with its `Subject`, and `PlanVerdict`.

A verdict is a value, never an exception: a deny carries a stable code (``GG400`` for a
rule that did not hold, ``GG401``-``GG416`` for fail-closed reasons), the ids of the rules
that fired, and for each failed rule the sub-condition that failed with the concrete
values it read. Its `Subject` is what was checked — the canonical tool, the frozen checked
arguments, the call id, the spec's identity — so that the executor runs exactly that and
the audit record says exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from guardgraph.guardrails.action import ActionKind

__all__ = ["Decision", "Failure", "PlanVerdict", "PlanViolation", "Subject", "Verdict",
           "json_value"]


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
class Subject:
    """What a verdict is about, as the guard read it.

    ``tool``: the canonical tool name (``"route"`` for a route). ``args``: the frozen
    checked arguments — for a repair, the repaired ones: what the executor runs.
    ``call_id``: the action's, or the one the guard generated for an empty one. ``at``: the
    time of the check. ``args_sha256``: `guardgraph.guardrails.args_sha256` of ``args``.
    """

    tool: str
    args: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}),
                                       hash=False)
    call_id: str
    agent: str = ""
    kind: ActionKind = ActionKind.TOOL_CALL
    target: str | None = None
    session_id: str
    at: datetime
    spec_name: str
    spec_version: int
    spec_sha256: str
    _sha: str = field(default="", compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if type(self.args) is not MappingProxyType:
            object.__setattr__(self, "args", MappingProxyType(dict(self.args)))

    @property
    def args_sha256(self) -> str:
        # Computed on first use (and kept): most allowed calls of a learner's action mask
        # never need it, and hashing would be a fifth of a check's cost.
        if not self._sha:
            from guardgraph.guardrails.approval import args_sha256

            object.__setattr__(self, "_sha", args_sha256(self.args))
        return self._sha

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (Subject, _fields(self)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The decision on one action.

    ``rules``: ids of the rules that fired (deny, escalate and warn rules, spec order).
    ``code``: None for an allow without findings, else a GG4xx code. ``repair``: for a
    ``REPAIR`` decision, the changed arguments (the nearest compliant values; the whole
    argument set to run is ``subject.args``). ``subject``: None only when the action could
    not even be read. A verdict pickles without the guard's private basis, so a
    round-tripped verdict cannot be committed: commit the original, or check again.
    """

    decision: Decision
    rules: tuple[str, ...] = ()
    message: str = ""
    code: str | None = None
    failures: tuple[Failure, ...] = ()
    repair: Mapping[str, object] | None = field(default=None, hash=False)
    warnings: tuple[str, ...] = ()
    subject: Subject | None = None
    # What the guard needs to commit (or re-check) this verdict; never compared or shown.
    basis: object = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.repair is not None and not isinstance(self.repair, MappingProxyType):
            object.__setattr__(self, "repair", MappingProxyType(dict(self.repair)))

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def executable(self) -> bool:
        """Whether the call may run now: an allow, or a repair (run ``subject.args``)."""
        return self.decision is Decision.ALLOW or self.decision is Decision.REPAIR

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

    def __reduce__(self) -> tuple[Any, ...]:
        fields = _fields(self)
        fields.pop("basis", None)
        return (_rebuild, (Verdict, fields))


def _fields(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in value.__dataclass_fields__:
        if name == "_sha":
            continue
        out[name] = _thaw(getattr(value, name))
    return out


def _thaw(v: Any) -> Any:
    # Read-only mappings do not pickle; they are rebuilt frozen by `_rebuild`.
    if isinstance(v, MappingProxyType):
        return {k: _thaw(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return tuple(_thaw(x) for x in v)
    return v


def _rebuild(cls: Any, fields: dict[str, Any]) -> Any:
    from guardgraph.guardrails._validate import freeze

    for name in ("args", "repair"):
        if fields.get(name) is not None:
            fields[name] = freeze(fields[name], name)
    return cls(**fields)


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
    # The spec's own spelling (sets as sets: {"a", "b"}), as in lint's witnesses; imported
    # here so that importing verdicts does not load the spec parser.
    from guardgraph.specs import format_value

    return format_value(value)
