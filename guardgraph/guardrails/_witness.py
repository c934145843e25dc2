"""Concrete witnesses read from assignments (lint's, or a Z3 model's): an example action
(tool and argument values) and the session state it needs (context, facts, history,
provenance), as text for people and as JSON-safe data for machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from guardgraph.guardrails._compile import ROUTE, CompiledPolicy, CompiledRule, Input, InputKind
from guardgraph.guardrails._z3sorts import AllExcept, python_value
from guardgraph.specs import ast, format_value

__all__ = [
    "Witness",
    "json_value",
    "read_witness",
    "show_value",
    "tool_inputs",
    "witness_from",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Witness:
    """One concrete situation. Values are Python values (see ``CompiledPolicy.from_z3``);
    an absent optional argument is left out of ``args``; an undefined history term
    (``min`` of nothing, ``result(t)`` before ``t`` ran) maps to None."""

    tool: str
    args: tuple[tuple[str, object], ...]
    context: tuple[tuple[str, object], ...]
    facts: tuple[tuple[str, object], ...]
    history: tuple[tuple[str, object], ...]
    provenance: tuple[tuple[str, object], ...]

    def action_text(self) -> str:
        if self.tool == ROUTE:
            return "route"
        inner = ", ".join(f"{k}={show_value(v)}" for k, v in self.args)
        return f"{self.tool}({inner})"

    def text(self) -> str:
        """``send_money(amount=5001) with history: sum(...) = 9000; agent = "support"``."""
        parts = [self.action_text()]
        groups = [
            ("history", self.history),
            ("context", self.context),
            ("facts", self.facts),
            ("provenance", self.provenance),
        ]
        extra = [
            f"{name}: " + ", ".join(f"{k} = {_show_or_undefined(v)}" for k, v in items)
            for name, items in groups
            if items
        ]
        if extra:
            parts.append("with " + "; ".join(extra))
        return " ".join(parts)

    def data(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "args": {k: json_value(v) for k, v in self.args},
            "context": {k: json_value(v) for k, v in self.context},
            "facts": {k: json_value(v) for k, v in self.facts},
            "history": {k: json_value(v) for k, v in self.history},
            "provenance": {k: json_value(v) for k, v in self.provenance},
        }


def read_witness(
    policy: CompiledPolicy, tool: str, env: Mapping[str, object], rules: Iterable[CompiledRule]
) -> Witness:
    """The situation ``env`` (a value for each input, by key) describes, restricted to the
    tool's arguments and the inputs that ``rules`` read."""
    inputs = tool_inputs(policy, tool)
    for rule in rules:
        inputs.extend(rule.inputs)

    def value(inp: Input) -> object:
        v = env.get(inp.key)
        if v is None:
            return python_value(policy.zero(inp.type))
        if isinstance(v, Fraction) and v.denominator == 1:
            return int(v)
        return v

    return witness_from(tool, inputs, value)


def tool_inputs(policy: CompiledPolicy, tool: str) -> list[Input]:
    """The ARG and PRESENT inputs of ``tool`` (none for ``route``)."""
    decl = policy.spec.tool(tool) if tool != ROUTE else None
    out = []
    for p in decl.params if decl is not None else ():
        out.append(policy.arg(tool, p.name))
        present = policy.inputs.get(f"present:{tool}.{p.name}")
        if present is not None:
            out.append(present)
    return out


def witness_from(tool: str, given: Iterable[Input], value: Callable[[Input], object]) -> Witness:
    """A witness over ``given`` inputs (first of each key wins), ``value`` reading each."""
    inputs: dict[str, Input] = {}
    for inp in given:
        inputs.setdefault(inp.key, inp)
    present = {
        inp.path[0]: value(inp)
        for inp in inputs.values()
        if inp.kind is InputKind.PRESENT and inp.tool == tool
    }
    defined = {
        inp.key.removeprefix("def:"): value(inp)
        for inp in inputs.values()
        if inp.kind is InputKind.DEFINED
    }
    args: list[tuple[str, object]] = []
    context: list[tuple[str, object]] = []
    facts: list[tuple[str, object]] = []
    history: list[tuple[str, object]] = []
    provenance: list[tuple[str, object]] = []
    for inp in inputs.values():
        if inp.kind is InputKind.ARG:
            if inp.tool == tool and present.get(inp.path[0], True):
                args.append((inp.path[0], value(inp)))
        elif inp.kind is InputKind.CONTEXT:
            if inp.path != ("tool",):
                context.append((".".join(inp.path), value(inp)))
        elif inp.kind is InputKind.FACT:
            facts.append((inp.path[0], value(inp)))
        elif inp.kind is InputKind.MONITOR:
            name = inp.key.removeprefix("mon:")
            if not defined.get(name, True) and isinstance(inp.node, ast.Attribute):
                # `TOOL.arg` is undefined only past its bound of kept values
                history.append((name, _OVERFLOW))
                continue
            history.append((name, value(inp) if defined.get(name, True) else None))
        elif inp.kind is InputKind.PROVENANCE:
            func = inp.key.split(":")[1]
            provenance.append((f"{func}({'.'.join(inp.path)})", value(inp)))
        elif inp.kind is InputKind.SIZE:
            base = inputs.get(inp.path[0])
            if base is None or base.kind is InputKind.ARG:
                continue  # the argument's own value shows its size
            context.append((f"len({base.key.split(':', 1)[1]})", value(inp)))
    return Witness(
        tool=tool,
        args=tuple(args),
        context=tuple(context),
        facts=tuple(facts),
        history=tuple(history),
        provenance=tuple(provenance),
    )


class _Overflow:
    """The witness value of a `TOOL.arg` term past the monitor's bound."""

    def __repr__(self) -> str:
        return "<more values than the monitor keeps>"


_OVERFLOW = _Overflow()


def _show_or_undefined(v: object) -> str:
    if v is _OVERFLOW:
        return repr(v)
    return "<none yet>" if v is None else show_value(v)


def show_value(v: object) -> str:
    """A value in DSL spelling (``specs.format_value``), co-finite sets included."""
    if isinstance(v, AllExcept):
        return "every value except {" + ", ".join(sorted(map(show_value, v.excluded))) + "}"
    if isinstance(v, frozenset | set):
        return "{" + ", ".join(sorted(map(show_value, v))) + "}"
    if isinstance(v, tuple | list):
        return "[" + ", ".join(map(show_value, v)) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {show_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, Fraction):
        return _decimal(v) or f"{v.numerator}/{v.denominator}"
    return format_value(v)


def json_value(v: object) -> object:
    """A JSON-safe form: exact reals as numbers when a short decimal says them exactly,
    else as ``"p/q"``; sets as sorted lists; co-finite sets as ``{"all_except": [...]}``."""
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, Fraction):
        text = _decimal(v)
        return float(text) if text is not None else f"{v.numerator}/{v.denominator}"
    if isinstance(v, AllExcept):
        return {"all_except": sorted((json_value(x) for x in v.excluded), key=repr)}
    if isinstance(v, frozenset | set):
        return sorted((json_value(x) for x in v), key=repr)
    if isinstance(v, tuple | list):
        return [json_value(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): json_value(x) for k, x in v.items()}
    return repr(v)


def _decimal(v: Fraction) -> str | None:
    """The exact decimal spelling of ``v`` when it has at most 12 decimals."""
    for digits in range(13):
        scaled = v * 10**digits
        if scaled.denominator == 1:
            n = scaled.numerator
            if digits == 0:
                return str(n)
            sign, n = ("-" if n < 0 else ""), abs(n)
            whole, frac = divmod(n, 10**digits)
            return f"{sign}{whole}.{frac:0{digits}d}"
    return None
