"""The value pool: the values an agent can put into argument slots, and where each came
from (its *origin*, the feature a policy generalises over).

Values enter from the task's parameters, from the user's prompt (identifier-like tokens
such as IBANs, URLs, paths and e-mail addresses, and its clauses), from the spec (enum
members, numeric literals in the rules on a tool), and from every executed tool's output
(scalar leaves; lines and identifier-like tokens of long texts — which is how an injected
instruction in an invoice or web page reaches the slots, as it reaches a real agent's
context). A value is *linked* when it sits in an output record one of whose fields equals
a task value ("the IBAN of the payee the user named").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from guardgraph.specs import ast

__all__ = ["Entry", "leaves", "origin_kind", "prompt_values", "record_groups", "slot_rank",
           "spec_literals"]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:@+-]*[A-Za-z0-9/]")
_CLAUSE = re.compile(r"[.;:!?](?:\s+|$)|\n")
_LONG = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    value: object
    origin: int
    linked: bool = False
    kind: int = 5   # 0 linked, 2 task, 3 prompt, 4 output, 5 spec/enum/other (`origin_kind`)
    step: int = -1  # the step whose output brought it (-1: the task, prompt or spec)


def _identifier(token: str) -> bool:
    return len(token) >= 5 and (any(c.isdigit() for c in token) or any(c in token for c in "/@:"))


def prompt_values(prompt: str) -> Iterator[tuple[str, object]]:
    """Identifier-like tokens and the clauses of the user's prompt."""
    for token in _TOKEN.findall(prompt):
        token = token.rstrip(".")
        if _identifier(token):
            yield "prompt.token", token
    for clause in _CLAUSE.split(prompt):
        clause = clause.strip()
        if len(clause.split()) >= 3:
            yield "prompt.clause", clause


def leaves(value: object, origin: str, depth: int = 0) -> Iterator[tuple[str, object, bool]]:
    """(origin, scalar, is-part-of-a-record) inside a tool output or task parameter; at
    most three elements of a list, so one long output cannot fill the pool."""
    if depth > 3:
        return
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            for o, v, _ in leaves(value[k], f"{origin}.{k}", depth + 1):
                yield o, v, True
    elif isinstance(value, list | tuple):
        for item in value[:3]:
            yield from leaves(item, origin, depth + 1)
    elif isinstance(value, str) and (len(value) > _LONG or "\n" in value):
        yield origin, value, False
        for line in value.splitlines():
            if line.strip() and line.strip() != value:
                yield f"{origin}.line", line.strip(), False
        for token in _TOKEN.findall(value):
            if _identifier(token):
                yield f"{origin}.token", token.rstrip("."), False
    elif isinstance(value, str | int | float | bool | Fraction):
        yield origin, value, False


def record_groups(value: object, depth: int = 0) -> Iterator[list[object]]:
    """The scalar fields of each record inside an output, record by record."""
    if depth > 3:
        return
    if isinstance(value, Mapping):
        yield [v for v in value.values() if isinstance(v, str | int | float)]
        for v in value.values():
            yield from record_groups(v, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value[:3]:
            yield from record_groups(item, depth + 1)


def spec_literals(spec: ast.Spec, tool: str) -> tuple[int | float, ...]:
    """Numeric literals and constants in the rules on ``tool`` (bounds a slot can meet)."""
    consts = {c.name: c.value for c in spec.consts}
    found: list[int | float] = []

    def walk(e: object) -> None:
        match e:
            case ast.IntLit(value=v) if v not in found:
                found.append(v)
            case ast.Name(id=name) if name in consts:
                walk(consts[name])
            case ast.Aggregate() | ast.Temporal() | ast.Since():
                return  # literals about the history, not about this call's arguments
        if hasattr(e, "__dataclass_fields__"):
            for name in e.__dataclass_fields__:
                if name != "span":
                    child = getattr(e, name)
                    for c in child if isinstance(child, tuple) else (child,):
                        if hasattr(c, "__dataclass_fields__"):
                            walk(c)

    for rule in spec.rules:
        if tool in rule.targets:
            walk(rule.require)
    return tuple(found)


def origin_kind(origin: str, linked: bool) -> int:
    if linked:
        return 0
    if origin.startswith("task."):
        return 2
    if origin.startswith("prompt."):
        return 3
    if origin.startswith("result."):
        return 4
    return 5


def slot_rank(entry: Entry, last_step: int) -> int:
    """Slot preference, lower first: values linked to the task, the task's own, what the
    last executed call returned (agents act on what they just read), the prompt's, older
    outputs, and spec constants last."""
    if entry.kind == 0:
        return 0
    if entry.kind == 2:
        return 1
    if entry.kind == 4 and entry.step == last_step:
        return 2
    return entry.kind
