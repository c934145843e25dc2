"""The values a domain is made of: tools, calls, steps, tasks and the simulated world.

Everything here is a frozen, slotted, keyword-only value except `World`, which is the
one mutable thing on purpose: the simulated tools change it, as real tools change the
real world, and a task's success test reads only its final state.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, get_type_hints

from guardgraph.errors import GuardgraphError

__all__ = [
    "Call",
    "DomainError",
    "DomainTool",
    "Goal",
    "Script",
    "Step",
    "Task",
    "ToolFailure",
    "World",
    "stable_seed",
]

_EMPTY: Mapping[str, object] = MappingProxyType({})

# The Python types a tool parameter may have, and the spec type each stands for.
PARAM_TYPES: Mapping[type, str] = MappingProxyType(
    {str: "str", int: "int", float: "real", bool: "bool", list: "list", dict: "record"})


class DomainError(GuardgraphError):
    """A domain cannot be found or loaded, or one of its tools was called wrongly (unknown
    tool, missing, extra or mistyped argument); the message names the tool and argument."""


class ToolFailure(DomainError):
    """A simulated tool refused a well-formed call the way a real one would (an unknown
    invoice id, an account without funds); the message is what the agent gets to read."""


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from the parts' text, the same on every machine and Python (unlike
    ``hash``): for task instances, ``stable_seed("bank", family, split, index)``.

    >>> stable_seed("bank", "pay_payee", "train", 0) == stable_seed("bank", "pay_payee", "train", 0)
    True
    """
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    if mapping is None:
        return _EMPTY
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One tool call an agent proposes: the tool's name and its arguments (read-only)."""

    tool: str
    args: Mapping[str, object] = field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", _frozen(self.args))

    def key(self) -> str:
        """A canonical text of the call (tool and sorted-key JSON arguments)."""
        return self.tool + json.dumps(dict(self.args), sort_keys=True, separators=(",", ":"),
                                      default=str)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What became of one proposed call.

    ``decision``: "allow", "deny", "escalate", "repair" or "rejected" (an escalation a
    human turned down). ``call`` is what ran (for a repair: the repaired arguments) or was
    proposed (for the others). ``output``: the tool's output when it ran, else the guard's
    message. ``rules``: the rule ids of the verdict, so a script can re-plan after a deny.
    """

    call: Call
    decision: str
    output: object = None
    rules: tuple[str, ...] = ()

    @property
    def executed(self) -> bool:
        return self.decision in ("allow", "repair")


class Goal(Protocol):
    """A test over a world's final state (a task's success, an attacker's goal)."""

    def __call__(self, world: World) -> bool: ...


@dataclass(slots=True, kw_only=True)
class World:
    """The simulated state one task runs in: ``state`` holds the domain's tables as plain
    JSON values (dicts, lists, strings, numbers), so two worlds compare by `snapshot`.

    Deliberately mutable: `Domain.execute` runs a tool, which changes ``state``. ``now`` is
    the wall-clock time the world starts at; ``seed`` the seed it was built from.
    """

    seed: int
    now: datetime
    state: dict[str, Any]

    def snapshot(self) -> str:
        """The state as canonical JSON (sorted keys, compact)."""
        return json.dumps(self.state, sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """SHA-256 of `snapshot` (and the seed and start time)."""
        text = f"{self.seed}|{self.now.isoformat()}|{self.snapshot()}"
        return hashlib.sha256(text.encode()).hexdigest()

    def clone(self) -> World:
        return World(seed=self.seed, now=self.now, state=copy.deepcopy(self.state))


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainTool:
    """A simulated tool: ``fn(world, **args)`` reads and changes the world.

    ``params``: (name, Python type) in declaration order; the types are those of
    `PARAM_TYPES` (``float`` stands for the spec's ``real`` and accepts an int too).
    ``trusted``: False when some of the output may carry attacker-controlled text;
    ``untrusted_fields`` then names the fields (empty: the whole output), as the spec's
    ``untrusted(...)`` does.
    """

    name: str
    description: str
    params: tuple[tuple[str, type], ...]
    returns: type | None
    trusted: bool
    fn: Callable[..., object] = field(compare=False)
    untrusted_fields: tuple[str, ...] = ()

    @classmethod
    def from_function(cls, fn: Callable[..., object], *, name: str | None = None,
                      trusted: bool = True, untrusted_fields: Sequence[str] = ()) -> DomainTool:
        """A tool from ``def fn(world, *, arg: type, ...) -> type``, documented by its
        docstring's first line."""
        tool = name or fn.__name__
        hints = get_type_hints(fn)
        params: list[tuple[str, type]] = []
        for i, p in enumerate(inspect.signature(fn).parameters.values()):
            if i == 0:
                continue  # the world
            kind = hints.get(p.name)
            origin = getattr(kind, "__origin__", kind)
            if not isinstance(origin, type) or origin not in PARAM_TYPES:
                raise DomainError(f"tool {tool}: parameter {p.name!r} needs one of the types "
                                  f"{', '.join(t.__name__ for t in PARAM_TYPES)}, got {kind!r}")
            params.append((p.name, origin))
        ret = hints.get("return")
        ret_origin = getattr(ret, "__origin__", ret)
        returns = None if ret_origin in (None, type(None)) else ret_origin
        doc = inspect.getdoc(fn) or ""
        return cls(name=tool, description=doc.split("\n\n")[0].replace("\n", " "),
                   params=tuple(params), returns=returns if isinstance(returns, type) else None,
                   trusted=trusted and not untrusted_fields, fn=fn,
                   untrusted_fields=tuple(untrusted_fields))

    def check_args(self, args: Mapping[str, object]) -> dict[str, object]:
        """``args`` checked against ``params`` (ints widened to float where a real is
        expected); raises `DomainError` naming the tool and the argument."""
        expected = dict(self.params)
        extra = sorted(set(args) - set(expected))
        if extra:
            raise DomainError(f"tool {self.name}: unexpected argument(s) {', '.join(extra)}; "
                              f"it takes ({', '.join(expected) or 'nothing'})")
        checked: dict[str, object] = {}
        for name, kind in self.params:
            if name not in args:
                raise DomainError(f"tool {self.name}: missing argument {name!r}")
            value = args[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            wrong = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
            if kind is list and isinstance(value, tuple):
                value, wrong = list(value), False
            if wrong:
                raise DomainError(f"tool {self.name}: argument {name!r} expected "
                                  f"{PARAM_TYPES[kind]}, got {value!r} "
                                  f"({type(value).__name__})")
            if kind is float and not math.isfinite(value):  # type: ignore[arg-type]
                # NaN compares false with every bound: a tool's own checks cannot see it.
                raise DomainError(f"tool {self.name}: argument {name!r} expected a finite "
                                  f"real, got {value!r}")
            checked[name] = value
        return checked


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One instance of a task family, over the world `Domain.new_world(seed)` builds.

    ``success(world)`` reads only the final state (the outcome, never the path: an unsafe
    shortcut would pass it if nothing stopped it). ``reference`` is a safe solution, its
    arguments resolved against the seeded world; ``expected`` the guard's decision for each
    reference call ("allow", "repair", or "escalate" where a human must approve).
    ``plan`` is what a naive specialist sets out to do (the user's literal request; it may
    skip a safety step that a deny then teaches it). ``attack`` names the injection
    ("<where>/<phrasing>", e.g. "invoice/2") or is None; ``compromised(world)`` says
    whether the attacker's goal was reached (always False without an attack).
    ``template``: the family's prompt with ``{param}`` placeholders (``prompt ==
    template.format(**params)``), for hosts that rephrase or generate prompts.
    """

    id: str
    family: str
    prompt: str
    user: str
    labels: frozenset[str]
    specialist: str
    seed: int
    params: Mapping[str, object] = field(default_factory=lambda: _EMPTY, hash=False)
    attack: str | None = None
    heldout: bool = False
    success: Goal = field(compare=False, hash=False)
    compromised: Goal = field(compare=False, hash=False)
    reference: tuple[Call, ...] = ()
    expected: tuple[str, ...] = ()
    plan: tuple[Call, ...] = ()
    template: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        if self.template and self.template.format(**self.params) != self.prompt:
            raise DomainError(f"task {self.id}: the prompt is not its template filled with "
                              "its params")
        object.__setattr__(self, "labels", frozenset(self.labels))
        if len(self.expected) != len(self.reference):
            raise DomainError(f"task {self.id}: {len(self.reference)} reference call(s) but "
                              f"{len(self.expected)} expected decision(s)")
        if not self.plan:
            object.__setattr__(self, "plan", self.reference)

    @property
    def escalations(self) -> tuple[Call, ...]:
        """The reference calls a human has to approve (expected "escalate")."""
        return tuple(c for c, e in zip(self.reference, self.expected, strict=True)
                     if e == "escalate")

    def human_approves(self, call: Call, verdict: object = None) -> bool:
        """A careful human's answer to an escalated ``call``: yes exactly for the calls
        the safe solution needs approved (same tool, same arguments), no to anything
        else — an injected payee, an injected command. Usable as ``play(approve=...)``."""
        return any(call.key() == c.key() for c in self.escalations)


class Script(Protocol):
    """A specialist that proposes one call at a time from what happened so far."""

    def propose(self, history: Sequence[Step]) -> Call | None:
        """The next call, or None when the specialist is done."""
        ...
