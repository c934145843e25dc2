"""The free constants of a compiled policy: what the guard must supply to decide a call.

Every input has a stable key that is also its Z3 constant's name; equal AST terms share
one input (AST equality ignores spans), so a monitor keeps one accumulator per term.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import z3

from guardgraph.guardrails._z3sorts import Sorts
from guardgraph.specs import ast
from guardgraph.specs import format_expr as expr_text

__all__ = ["Input", "InputKind", "InputTable"]


class InputKind(StrEnum):
    ARG = "arg"  # an argument of the current action
    CONTEXT = "ctx"  # agent, tool, target, approved, task.labels, task.kind, session.user
    FACT = "fact"  # a host-supplied fact
    MONITOR = "mon"  # an aggregate / temporal / since / result(t) value from the history
    DEFINED = "def"  # Bool: the MONITOR value with the same node exists
    PRESENT = "present"  # Bool: an optional argument was given
    PROVENANCE = "prov"  # tainted(x) / from_user(x) (Bool), source(x) (set[str])
    SIZE = "size"  # Int: the number of elements of the set-valued input named in `path[0]`


_BOOL = ast.PrimType(name=ast.Primitive.BOOL)
_INT = ast.PrimType(name=ast.Primitive.INT)
_SET_STR = ast.SetType(element=ast.PrimType(name=ast.Primitive.STR))


@dataclass(frozen=True, slots=True, kw_only=True)
class Input:
    """One free constant of a policy; see docs/internal/compile-contract.md."""

    key: str
    kind: InputKind
    const: z3.ExprRef
    type: ast.TypeExpr
    tool: str | None = None
    path: tuple[str, ...] = ()
    node: ast.Expr | None = None


class InputTable:
    """Creates each input once and indexes them by key, by AST node and by constant."""

    def __init__(self, sorts: Sorts) -> None:
        self.sorts = sorts
        self.by_key: dict[str, Input] = {}
        self.args: dict[tuple[str, str], Input] = {}
        self.present: dict[tuple[str, str], Input] = {}
        self._nodes: dict[ast.Expr, tuple[Input, Input | None]] = {}
        self._by_const: dict[int, Input] = {}

    def _add(
        self,
        key: str,
        kind: InputKind,
        typ: ast.TypeExpr,
        *,
        tool: str | None = None,
        path: tuple[str, ...] = (),
        node: ast.Expr | None = None,
    ) -> Input:
        found = self.by_key.get(key)
        if found is not None:
            return found
        const = z3.Const(key, self.sorts.sort(typ))
        inp = Input(key=key, kind=kind, const=const, type=typ, tool=tool, path=path, node=node)
        self.by_key[key] = inp
        self._by_const[const.get_id()] = inp
        return inp

    def by_const(self, const: z3.ExprRef) -> Input | None:
        return self._by_const.get(const.get_id())

    def declare_tool(self, tool: ast.ToolDecl) -> None:
        for p in tool.params:
            self.args[(tool.name, p.name)] = self._add(
                f"arg:{tool.name}.{p.name}", InputKind.ARG, p.type, tool=tool.name, path=(p.name,)
            )
            if isinstance(p.type, ast.OptionalType):
                self.present[(tool.name, p.name)] = self._add(
                    f"present:{tool.name}.{p.name}",
                    InputKind.PRESENT,
                    _BOOL,
                    tool=tool.name,
                    path=(p.name,),
                )

    def context(self, path: tuple[str, ...], typ: ast.TypeExpr) -> Input:
        return self._add(f"ctx:{'.'.join(path)}", InputKind.CONTEXT, typ, path=path)

    def fact(self, name: str, typ: ast.TypeExpr) -> Input:
        return self._add(f"fact:{name}", InputKind.FACT, typ, path=(name,))

    def provenance(self, func: str, tool: str, path: tuple[str, ...]) -> Input:
        typ = _SET_STR if func == "source" else _BOOL
        key = f"prov:{func}:{tool}.{'.'.join(path)}"
        return self._add(key, InputKind.PROVENANCE, typ, tool=tool, path=path)

    def size(self, base: Input) -> Input:
        return self._add(f"size:{base.key}", InputKind.SIZE, _INT, tool=base.tool, path=(base.key,))

    def monitor(
        self, node: ast.Expr, typ: ast.TypeExpr, *, defined: bool
    ) -> tuple[Input, Input | None]:
        found = self._nodes.get(node)
        if found is not None:
            return found
        text = expr_text(node)
        value = self._add(f"mon:{text}", InputKind.MONITOR, typ, node=node)
        flag = self._add(f"def:{text}", InputKind.DEFINED, _BOOL, node=node) if defined else None
        self._nodes[node] = (value, flag)
        return value, flag

    def monitors(self) -> list[Input]:
        return [v for v, _ in self._nodes.values()]
