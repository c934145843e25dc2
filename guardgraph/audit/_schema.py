"""Owns the payload schema check: each payload class's fields compiled once into checkers.

A checker takes a value and where it sits and returns its plain-JSON form, or raises
:class:`AuditPayloadError` saying what was expected and what came. The checkers are built
from the dataclass annotations once, at import, so the append path does no typing
introspection: the same check serves a typed payload's construction and a stored or
hand-written JSON object.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from types import UnionType
from typing import Any, NamedTuple

from guardgraph.audit._json_value import check_text, json_value
from guardgraph.errors import AuditPayloadError

__all__ = ["Checker", "FieldSpec", "compile_fields", "plain_payload", "type_name"]

Checker = Callable[[Any, str], Any]


class FieldSpec(NamedTuple):
    """One payload field: its checker, whether it is required, its stored default and the
    values it may take (``choices``, empty when any)."""

    name: str
    where: str  # "<kind> payload field <name>", built once for error messages
    check: Checker
    required: bool
    default: Any
    choices: tuple[str, ...]


def type_name(value: object) -> str:
    text = repr(value)
    return (text if len(text) <= 60 else text[:59] + "…") + f" ({type(value).__name__})"


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise AuditPayloadError(f"{where}: expected str, got {type_name(value)}")
    return value if value.isascii() else check_text(value, where)


def _bool(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise AuditPayloadError(f"{where}: expected bool, got {type_name(value)}")
    return value


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise AuditPayloadError(f"{where}: expected int, got {type_name(value)}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset):
        raise AuditPayloadError(f"{where}: expected a list of strings, got {type_name(value)}")
    return [_text(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise AuditPayloadError(f"{where}: expected an object, got {type_name(value)}")
    out: dict[str, Any] = json_value(value, where)
    return out


def _optional(inner: Checker) -> Checker:
    def check(value: Any, where: str) -> Any:
        return None if value is None else inner(value, where)
    return check


def _mapping_of(inner: Checker) -> Checker:
    def check(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise AuditPayloadError(f"{where}: expected an object, got {type_name(value)}")
        return {_text(k, where): inner(v, f"{where}.{k}") for k, v in value.items()}
    return check


def _checker(hint: Any, where: str) -> Checker:
    """The checker for an annotation of the payloads' small vocabulary: str, bool, int,
    an optional one, ``tuple[str, ...]``, ``Any`` (a JSON value), ``Mapping[str, Any]``
    (a JSON object) and ``Mapping[str, tuple[str, ...]]``."""
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _optional(_checker(inner, where))
    if hint is str:
        return _text
    if hint is bool:
        return _bool
    if hint is int:
        return _int
    if hint is Any:
        return json_value
    origin = typing.get_origin(hint)
    if origin is tuple:
        return _strings
    if origin is Mapping:
        _, inner = typing.get_args(hint)
        return _object if inner is Any else _mapping_of(_checker(inner, where))
    raise TypeError(f"unsupported payload annotation {hint!r} at {where}")


def compile_fields(cls: type) -> tuple[FieldSpec, ...]:
    """The field specs of the payload dataclass ``cls`` (``choices`` from field metadata)."""
    hints = typing.get_type_hints(cls)
    kind = cls.KIND.value  # type: ignore[attr-defined]
    specs = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (
            f.default if f.default is not dataclasses.MISSING
            else f.default_factory())  # type: ignore[operator]
        check = _checker(hints[f.name], f"{cls.__name__}.{f.name}")
        stored = None if required else check(default, f.name)
        specs.append(FieldSpec(f.name, f"{kind} payload field {f.name}", check, required,
                               stored, tuple(f.metadata.get("choices", ()))))
    return tuple(specs)


def plain_payload(kind: str, specs: tuple[FieldSpec, ...], names: frozenset[str],
                  data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``specs``: the stored form, every field present."""
    if not isinstance(data, Mapping):
        raise AuditPayloadError(f"a {kind} payload must be an object, got {type_name(data)}")
    if not names.issuperset(data.keys()):
        unknown = sorted(set(data) - names, key=str)
        raise AuditPayloadError(
            f"unknown field(s) {', '.join(map(repr, unknown))} in a {kind} payload; "
            f"expected some of {', '.join(s.name for s in specs)}"
        )
    out: dict[str, Any] = {}
    missing = []
    for spec in specs:
        if spec.name in data:
            value = spec.check(data[spec.name], spec.where)
            if spec.choices and value not in spec.choices:
                raise AuditPayloadError(
                    f"{spec.where}: expected one of "
                    f"{', '.join(spec.choices)}, got {value!r}"
                )
            out[spec.name] = value
        elif spec.required:
            missing.append(spec.name)
        else:
            default = spec.default
            out[spec.name] = dict(default) if type(default) is dict else (
                list(default) if type(default) is list else default)
    if missing:
        raise AuditPayloadError(f"a {kind} payload needs field(s) {', '.join(missing)}")
    return out
