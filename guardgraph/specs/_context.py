"""The context names a rule can read besides the tool's arguments: the one table of them.

The checker types them from here, the Z3 translation makes one input per path from here,
and the guard fills each path with a value of the session or the action; a new context
name is added in this table and nowhere else (docs/language.md, "Names in scope").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from guardgraph.specs import ast

__all__ = ["CONTEXT_NAMES", "CONTEXT_ROOTS", "ROUTE_ONLY"]

_STR = ast.PrimType(name=ast.Primitive.STR)

# path -> type. `task` and `session` are only reachable through their fields.
CONTEXT_NAMES: Mapping[tuple[str, ...], ast.TypeExpr] = MappingProxyType({
    ("agent",): _STR,  # the acting agent
    ("tool",): _STR,  # the tool called
    ("target",): _STR,  # the agent a routing decision chooses (only `on route`)
    ("approved",): ast.PrimType(name=ast.Primitive.BOOL),  # an Approval binds this call
    ("task", "labels"): ast.SetType(element=_STR),
    ("task", "kind"): _STR,
    ("session", "user"): _STR,
})

# Paths in scope only in `on route` rules.
ROUTE_ONLY: frozenset[tuple[str, ...]] = frozenset({("target",)})

# The first words of context names, plus `args` (``args.x``): a tool argument or record
# field spelled like one of these would shadow the context, so declarations refuse them.
CONTEXT_ROOTS: frozenset[str] = frozenset({p[0] for p in CONTEXT_NAMES} | {"args"})
