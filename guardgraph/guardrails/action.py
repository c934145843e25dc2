"""What the guard is asked about: a proposed `Action` and the `Session` it happens in.

Both are frozen values. The orchestrator builds an `Action` for every tool call and every
routing decision an agent proposes; the `Session` carries the context the host injects
(user, clock reading, task labels, per-session facts).

>>> a = Action(tool="send_money", args={"amount": 100}, agent="payments", call_id="c1")
>>> a.args["amount"]
100
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

__all__ = ["Action", "ActionKind", "ArgProvenance", "Session", "Symbolic"]

_EMPTY: Mapping[str, object] = MappingProxyType({})


class ActionKind(StrEnum):
    TOOL_CALL = "tool_call"
    ROUTE = "route"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgProvenance:
    """Provenance labels the host attaches to one argument.

    A field left as None is inferred by the guard from the session (values seen in
    untrusted tool outputs and in the user's messages); a given value wins.
    """

    tainted: bool | None = None
    from_user: bool | None = None
    sources: frozenset[str] | None = None
    derived_from: tuple[str, ...] = ()  # call ids the value was taken from


@dataclass(frozen=True, slots=True, kw_only=True)
class Symbolic:
    """An argument of a planned step whose value is not known yet (`Guard.check_plan`).

    Two steps that use the same name share one value.
    """

    name: str


def _freeze(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    if mapping is None:
        return _EMPTY
    if isinstance(mapping, MappingProxyType):
        return mapping
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One proposed tool call (``kind=TOOL_CALL``) or routing decision (``kind=ROUTE``).

    ``args`` is stored read-only. For a route, ``tool`` is ``"route"`` and ``target`` names
    the chosen agent. ``approved`` says that a human approved this very action. Actions
    compare by value but are not hashable (their arguments need not be).
    """

    tool: str
    args: Mapping[str, object] = field(default_factory=lambda: _EMPTY, hash=False)
    agent: str = ""
    call_id: str = ""
    kind: ActionKind = ActionKind.TOOL_CALL
    target: str | None = None
    approved: bool = False
    provenance: Mapping[str, ArgProvenance] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        # Frozen: copy the caller's dicts once, so a later mutation by the caller cannot
        # change what was checked.
        object.__setattr__(self, "args", _freeze(self.args))
        object.__setattr__(self, "provenance", _freeze(self.provenance))

    @classmethod
    def route(cls, target: str, *, agent: str = "", call_id: str = "",
              approved: bool = False) -> Action:
        """A routing decision: ``agent`` hands the task to ``target``."""
        return cls(tool="route", kind=ActionKind.ROUTE, target=target, agent=agent,
                   call_id=call_id, approved=approved)

    def with_args(self, args: Mapping[str, object]) -> Action:
        """The same action with other arguments (a repair)."""
        return Action(tool=self.tool, args=args, agent=self.agent, call_id=self.call_id,
                      kind=self.kind, target=self.target, approved=self.approved,
                      provenance=self.provenance)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """The context of a check, injected by the host.

    ``now`` is the clock reading for this check (None: the guard's clock). ``facts`` are
    per-session fact values; they override the guard's facts of the same name.
    """

    id: str
    user: str = ""
    now: datetime | None = None
    task_labels: frozenset[str] = frozenset()
    task_kind: str = ""
    facts: Mapping[str, object] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facts", _freeze(self.facts))
        object.__setattr__(self, "task_labels", frozenset(self.task_labels))
