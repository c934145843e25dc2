"""Spec declarations generated from Python tools: functions, pydantic models, LangChain tools.

A spec for existing Python tools needs no hand-written ``tool`` lines: ``declare_tools``
reads the annotations and returns the declarations (plus the records and enums their
types need), which ``load_text(..., extra_tools=...)`` accepts and
``declarations_to_text`` renders for pasting into a spec.

Annotation → spec type: ``int``; ``float``/``Decimal``/``Fraction`` → ``real``; ``bool``;
``str``; ``Any``/``object``/``dict``/``Mapping`` → ``json`` (opaque);
``Literal["a", "b"]`` and ``str``-valued ``Enum`` classes → ``enum``;
``list[X]``/``Sequence[X]``/``tuple[X, ...]`` → ``list[X]``; ``set[X]``/``frozenset[X]``
→ ``set[X]``; ``X | None`` / ``Optional[X]`` or a default value → ``X?`` (parameters and
fields only); pydantic models, dataclasses and TypedDicts → records. Anything else is a
:class:`~guardgraph.errors.DeclarationError` naming the parameter and the annotation.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import fractions
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guardgraph.errors import DeclarationError
from guardgraph.specs import ast
from guardgraph.specs._context import CONTEXT_ROOTS
from guardgraph.specs._format import format_spec
from guardgraph.specs._parser import keywords

__all__ = ["Declarations", "declarations_to_text", "declare_tools"]

_P = ast.Primitive
_PRIMS: dict[object, ast.Primitive] = {
    bool: _P.BOOL,
    int: _P.INT,
    float: _P.REAL,
    decimal.Decimal: _P.REAL,
    fractions.Fraction: _P.REAL,
    str: _P.STR,
}
_LISTS = {list, tuple, Sequence, typing.Sequence, typing.List}  # noqa: UP006
_SETS = {set, frozenset, typing.AbstractSet, typing.Set, typing.FrozenSet}  # noqa: UP006
# Parameter annotations for values the spec cannot look into: the `json` type.
_JSON = {Any, object, dict, Mapping, typing.Mapping, typing.Dict}  # noqa: UP006
# Return annotations that say nothing about the value: the tool gets no return type.
_OPAQUE_RETURNS = {None, type(None), Any, object, dict, Mapping, inspect.Signature.empty}


@dataclass(frozen=True, slots=True, kw_only=True)
class Declarations:
    """Tool declarations plus the records and enums their parameter types need."""

    tools: tuple[ast.ToolDecl, ...] = ()
    records: tuple[ast.RecordDecl, ...] = ()
    enums: tuple[ast.EnumDecl, ...] = ()


def declare_tools(
    tools: Sequence[object],
    *,
    untrusted: Mapping[str, bool | Sequence[str]] | None = None,
    sensitive: Mapping[str, Sequence[str]] | None = None,
) -> Declarations:
    """Declarations for Python tools: functions, pydantic model classes (the class name
    is the tool name, as LangChain names them), or LangChain-style tool objects (anything
    with a ``name`` and a pydantic ``args_schema``; langchain itself is not imported).

    ``untrusted`` maps a tool name to True (its whole output is untrusted) or to the
    output fields that are; ``sensitive`` maps a tool name to the parameters the audit
    log stores only as salted hashes.

    >>> def send_money(recipient: str, amount: float, note: str | None = None) -> None: ...
    >>> print(declarations_to_text(declare_tools([send_money])), end="")
    tool send_money(recipient: str, amount: real, note: str?)
    """
    if isinstance(tools, str | bytes) or not isinstance(tools, Sequence):
        raise DeclarationError(f"expected a sequence of tools, got {type(tools).__name__}")
    builder = _Builder()
    for tool in tools:
        builder.tool(tool)
    return builder.finish(_marks(untrusted, "untrusted", flag_ok=True),
                          _marks(sensitive, "sensitive", flag_ok=False))


def _marks(given: object, what: str, *, flag_ok: bool) -> dict[str, Any]:
    """``untrusted`` / ``sensitive`` checked for shape: a mapping from tool names to a
    list of names (``untrusted`` also takes True); a str is never read as a list of its
    characters."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise DeclarationError(
            f"{what}: expected a mapping from tool names to lists of names, got "
            f"{type(given).__name__}"
        )
    out: dict[str, Any] = {}
    for tool, names in given.items():
        if flag_ok and isinstance(names, bool):
            out[tool] = names
            continue
        if isinstance(names, str) or not isinstance(names, Sequence | set | frozenset):
            want = "True or a list of field names" if flag_ok else "a list of parameter names"
            hint = f" (write [{names!r}])" if isinstance(names, str) else ""
            raise DeclarationError(
                f"{what}[{tool!r}]: expected {want}, got {type(names).__name__}{hint}"
            )
        bad = next((n for n in names if not isinstance(n, str)), None)
        if bad is not None:
            raise DeclarationError(f"{what}[{tool!r}]: expected names, got {bad!r}")
        out[tool] = tuple(names)
    return out


def declarations_to_text(
    decls: Declarations | Sequence[ast.ToolDecl], *, name: str | None = None, version: int = 1
) -> str:
    """Spec text for ``decls`` in the formatter's canonical layout: records, enums, then
    tools. With ``name``, a whole file (``spec NAME version N`` first) that a policy can
    ``include``; without, only the declarations, to paste into an existing spec."""
    if not isinstance(decls, Declarations):
        decls = Declarations(tools=tuple(decls))
    items: tuple[ast.Decl, ...] = (*decls.records, *decls.enums, *decls.tools)
    text = format_spec(ast.SpecFile(name=name or "declarations", version=version, items=items))
    if name is not None:
        return text
    _header, _, body = text.partition("\n\n")
    return body


def _pascal(*parts: str) -> str:
    return "".join(w[:1].upper() + w[1:] for p in parts for w in p.split("_") if w)


class _Builder:
    """Collects tools, records and enums for one ``declare_tools`` call."""

    def __init__(self) -> None:
        self.tools: dict[str, ast.ToolDecl] = {}
        self.records: dict[str, ast.RecordDecl] = {}
        self.enums: dict[str, ast.EnumDecl] = {}
        self._record_classes: dict[str, object] = {}

    def tool(self, obj: object) -> None:
        name, params, returns = self._signature(obj)
        _check_name(name, f"tool `{name}`")
        for p, _, _ in params:
            _check_name(p, f"parameter `{p}` of `{name}`", member=True)
            if p in CONTEXT_ROOTS:
                raise DeclarationError(
                    f"parameter `{p}` of `{name}` is named like the context name `{p}`, which "
                    "it would hide from every rule on the tool (GG219); rename the parameter"
                )
        if name in self.tools:
            raise DeclarationError(f"tool `{name}` is given twice")
        decl_params = tuple(
            ast.Param(name=p, type=self._param_type(hint, f"`{name}({p})`", optional, name, p))
            for p, hint, optional in params
        )
        ret = None
        if returns not in _OPAQUE_RETURNS:
            ret = self._type(returns, f"the return type of `{name}`", name, "result")
        if ret == ast.PrimType(name=_P.JSON):
            ret = None  # an opaque result says nothing a rule could read
        self.tools[name] = ast.ToolDecl(name=name, params=decl_params, returns=ret)

    def _signature(self, obj: object) -> tuple[str, list[tuple[str, object, bool]], object]:
        if _is_model(obj):
            assert isinstance(obj, type)
            return obj.__name__, _model_fields(obj), None
        schema = getattr(obj, "args_schema", None)
        tool_name = getattr(obj, "name", None)
        if isinstance(tool_name, str) and schema is not None and not isinstance(obj, type):
            if not _is_model(schema):
                raise DeclarationError(
                    f"tool `{tool_name}`: expected a pydantic model as args_schema, "
                    f"got {type(schema).__name__}"
                )
            # `@tool` keeps the function it wraps: `func`, or `coroutine` for an async one.
            func = getattr(obj, "func", None) or getattr(obj, "coroutine", None)
            returns = _hints(func).get("return") if callable(func) else None
            return tool_name, _model_fields(schema), returns
        if callable(obj) and hasattr(obj, "__name__"):
            _check_name(obj.__name__, f"tool `{obj.__name__}`")
            return obj.__name__, *_function_params(obj)
        raise DeclarationError(
            f"expected a function, a pydantic model class or a tool object with `name` and "
            f"`args_schema`, got {type(obj).__name__}"
        )

    def _param_type(
        self, hint: object, where: str, optional: bool, tool: str, param: str
    ) -> ast.TypeExpr:
        inner, was_optional = _strip_optional(hint)
        t = self._type(inner, where, tool, param)
        return ast.OptionalType(inner=t) if optional or was_optional else t

    def _type(self, hint: object, where: str, owner: str, member: str) -> ast.TypeExpr:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Annotated:
            return self._type(args[0], where, owner, member)
        if hint in _PRIMS:
            return ast.PrimType(name=_PRIMS[hint])
        if hint in _JSON or origin in (dict, Mapping):
            return ast.PrimType(name=_P.JSON)
        if origin is typing.Literal:
            return self._literal_enum(args, where, owner, member)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self._enum_class(hint, where)
        if origin in _LISTS or hint in _LISTS:
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                raise DeclarationError(
                    f"{where}: unsupported type {_show(hint)}; use tuple[X, ...] or list[X]"
                )
            return ast.ListType(element=self._element(args, hint, where, owner, member))
        if origin in _SETS or hint in _SETS:
            return ast.SetType(element=self._element(args, hint, where, owner, member))
        if _strip_optional(hint)[1]:
            raise DeclarationError(
                f"{where}: optional type {_show(hint)} is only supported for a whole "
                "parameter or field"
            )
        if isinstance(hint, type) and _is_record_class(hint):
            return self._record(hint, where)
        raise DeclarationError(
            f"{where}: unsupported type {_show(hint)}; expected int, float, bool, str, "
            "Literal[...], a str Enum, list/set of those, X | None, or a pydantic model, "
            "dataclass or TypedDict"
        )

    def _element(
        self, args: tuple[object, ...], hint: object, where: str, owner: str, member: str
    ) -> ast.TypeExpr:
        if not args:
            raise DeclarationError(f"{where}: {_show(hint)} needs an element type, e.g. list[str]")
        return self._type(args[0], where, owner, member)

    def _literal_enum(
        self, values: tuple[object, ...], where: str, owner: str, member: str
    ) -> ast.TypeExpr:
        if not values or not all(isinstance(v, str) for v in values):
            raise DeclarationError(
                f"{where}: Literal{list(values)} is not supported; only string literals "
                "map to a spec enum"
            )
        return self._add_enum(_pascal(owner, member), tuple(str(v) for v in values), where)

    def _enum_class(self, cls: type[enum.Enum], where: str) -> ast.TypeExpr:
        values = tuple(m.value for m in cls)
        if not values or not all(isinstance(v, str) for v in values):
            raise DeclarationError(
                f"{where}: enum {cls.__name__} must have str values to map to a spec enum"
            )
        return self._add_enum(cls.__name__, values, where)

    def _add_enum(self, name: str, values: tuple[str, ...], where: str) -> ast.TypeExpr:
        _check_name(name, f"enum `{name}` ({where})")
        known = self.enums.get(name)
        if known is not None and known.values != values:
            raise DeclarationError(f"{where}: two different enums are both named {name}")
        self.enums[name] = ast.EnumDecl(name=name, values=tuple(dict.fromkeys(values)))
        return ast.NamedType(name=name)

    def _record(self, cls: type, where: str) -> ast.TypeExpr:
        name = cls.__name__
        known = self._record_classes.get(name)
        if known is not None:
            if known is not cls:
                raise DeclarationError(f"{where}: two different classes are both named {name}")
            return ast.NamedType(name=name)
        _check_name(name, f"record `{name}` ({where})")
        self._record_classes[name] = cls  # before the fields: a model may refer to itself
        for f, _, _ in _record_fields(cls):
            _check_name(f, f"field `{name}.{f}`", member=True)
        fields = tuple(
            ast.Field(name=f, type=self._param_type(hint, f"field `{name}.{f}`", opt, name, f))
            for f, hint, opt in _record_fields(cls)
        )
        self.records[name] = ast.RecordDecl(name=name, fields=fields)
        return ast.NamedType(name=name)

    def finish(
        self, untrusted: Mapping[str, bool | Sequence[str]], sensitive: Mapping[str, Sequence[str]]
    ) -> Declarations:
        for tool_name in (*untrusted, *sensitive):
            if tool_name not in self.tools:
                raise DeclarationError(
                    f"untrusted/sensitive names tool `{tool_name}`, which is not among the "
                    f"tools ({', '.join(self.tools) or 'none'})"
                )
        tools = []
        for t in self.tools.values():
            marks = set(sensitive.get(t.name, ()))
            unknown = marks - {p.name for p in t.params}
            if unknown:
                raise DeclarationError(
                    f"sensitive names `{sorted(unknown)[0]}`, which is not a parameter of "
                    f"`{t.name}`"
                )
            params = tuple(dataclasses.replace(p, sensitive=p.name in marks) for p in t.params)
            mark = untrusted.get(t.name, False)
            fields: tuple[str, ...] = ()
            if not isinstance(mark, bool):
                if isinstance(mark, str):
                    raise DeclarationError(
                        f"untrusted[{t.name!r}]: expected True or a list of field names, got a str"
                    )
                fields = tuple(mark)
            if (mark is True or fields) and t.returns is None:
                raise DeclarationError(
                    f"untrusted marks the output of `{t.name}`, but it declares no return type"
                )
            tools.append(
                dataclasses.replace(
                    t, params=params, untrusted=bool(mark), untrusted_fields=fields
                )
            )
        return Declarations(
            tools=tuple(tools),
            records=tuple(self.records.values()),
            enums=tuple(self.enums.values()),
        )


def _check_name(name: str, what: str, *, member: bool = False) -> None:
    """A Python name must also be a spec identifier, and not one of the spec's keywords
    (a parameter or field may be: the language reads reserved words as names there)."""
    if not name.isidentifier() or not name.isascii():
        raise DeclarationError(f"{what}: {name!r} is not a spec identifier [A-Za-z_][A-Za-z0-9_]*")
    if not member and name in keywords():
        raise DeclarationError(
            f"{what}: `{name}` is a reserved word in the spec language; rename it"
        )


def _show(hint: object) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return repr(hint).replace("typing.", "")


def _strip_optional(hint: object) -> tuple[object, bool]:
    """``X | None`` → (X, True); anything else → (hint, False)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            if len(args) == 1:
                return args[0], True
            return typing.Union[tuple(args)], True  # noqa: UP007 - rebuilt at run time
    return hint, False


def _hints(obj: object) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve, etc.
        name = getattr(obj, "__name__", type(obj).__name__)
        raise DeclarationError(f"cannot read the type annotations of `{name}`: {exc}") from exc


def _function_params(func: Callable[..., object]) -> tuple[list[tuple[str, object, bool]], object]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise DeclarationError(f"cannot read the signature of `{func.__name__}`: {exc}") from exc
    hints = _hints(func)
    params: list[tuple[str, object, bool]] = []
    for p in sig.parameters.values():
        where = f"`{func.__name__}({p.name})`"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DeclarationError(f"{where}: *args and **kwargs cannot be declared")
        if p.name not in hints:
            raise DeclarationError(f"{where}: the parameter has no type annotation")
        params.append((p.name, hints[p.name], p.default is not p.empty))
    return params, hints.get("return", inspect.Signature.empty)


def _is_model(obj: object) -> bool:
    # Duck-typed on pydantic v2's class attribute so that this module never imports pydantic.
    return isinstance(obj, type) and isinstance(getattr(obj, "model_fields", None), dict)


def _is_record_class(cls: type) -> bool:
    return _is_model(cls) or dataclasses.is_dataclass(cls) or typing.is_typeddict(cls)


def _model_fields(model: type) -> list[tuple[str, object, bool]]:
    fields: dict[str, Any] = model.model_fields  # type: ignore[attr-defined]
    return [(n, f.annotation, not f.is_required()) for n, f in fields.items()]


def _record_fields(cls: type) -> list[tuple[str, object, bool]]:
    if _is_model(cls):
        return _model_fields(cls)
    hints = _hints(cls)
    if dataclasses.is_dataclass(cls):
        missing = dataclasses.MISSING
        return [
            (f.name, hints[f.name], f.default is not missing or f.default_factory is not missing)
            for f in dataclasses.fields(cls)
        ]
    required: frozenset[str] = getattr(cls, "__required_keys__", frozenset(hints))
    return [(n, h, n not in required) for n, h in hints.items()]
