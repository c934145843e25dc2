"""What the guard precomputes per policy: monitor tracks and one program per tool.

A `ToolProgram` holds a tool's compiled rules, their fast-path function, and the list of
inputs to fill for a check, grouped by where each value comes from, so a check does no
lookups beyond the inputs its rules read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import z3

from guardgraph.guardrails._compile import CompiledPolicy, CompiledRule, Input, InputKind
from guardgraph.guardrails._evaluate import decide
from guardgraph.guardrails._fastpath import Unsupported, compile_rules, compile_term
from guardgraph.guardrails._monitor import Track, TrackKind
from guardgraph.guardrails._validate import zero
from guardgraph.specs import ast

__all__ = ["ToolProgram", "build_program", "build_tracks", "z3_assignment"]

_US = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolProgram:
    tool: str
    rules: tuple[CompiledRule, ...]
    fires: Callable[[Mapping[str, object]], list[int | None]]
    unsupported: tuple[str | None, ...]
    inputs: tuple[Input, ...]  # every input any rule of the tool reads
    args: tuple[tuple[str, str], ...]  # (key, argument name)
    present: tuple[tuple[str, str], ...]
    context: tuple[tuple[str, tuple[str, ...]], ...]
    facts: tuple[tuple[str, str, ast.TypeExpr], ...]
    monitor: tuple[tuple[str, Track, bool], ...]  # (key, track, is-DEFINED-flag)
    provenance: tuple[tuple[str, str, tuple[str, ...]], ...]  # (key, func, arg path)
    sizes: tuple[tuple[str, str], ...]  # (key, base key)
    zeros: Mapping[str, object]  # key -> value to read when a monitor term is undefined


def _pattern_matcher(policy: CompiledPolicy, pattern: ast.EventPattern,
                     lock: contextlib.AbstractContextManager[object],
                     ) -> Callable[[str, Mapping[str, object]], bool | None]:
    """Whether an executed call matches ``TOOL [where e]`` (negated: the opposite)."""
    tool, negated = pattern.tool, pattern.negated
    term = policy.where(pattern) if pattern.where is not None else None
    if term is None:
        def plain(name: str, args: Mapping[str, object]) -> bool | None:
            return (tool is None or name == tool) != negated
        return plain
    assert tool is not None  # the checker only allows `where` after a tool name
    decl = policy.spec.tool(tool)
    params = decl.params if decl is not None else ()
    keys = [(f"arg:{tool}.{p.name}", p) for p in params]
    try:
        fast: Callable[[Mapping[str, object]], object] | None = compile_term(term)
    except Unsupported:
        fast = None
    spec = policy.spec

    def env_of(args: Mapping[str, object]) -> dict[str, object]:
        env: dict[str, object] = {}
        for key, p in keys:
            env[key] = args[p.name] if p.name in args else zero(p.type, spec)
            env[f"present:{tool}.{p.name}"] = p.name in args
        return env

    def where(name: str, args: Mapping[str, object]) -> bool | None:
        if name != tool:
            return negated
        env = env_of(args)
        got: bool | None = None
        if fast is not None:
            try:
                got = bool(fast(env))
            except (ArithmeticError, LookupError, TypeError, ValueError):
                got = None
        if got is None:
            with lock:  # the policy's Z3 context is not thread-safe
                got = decide(term, z3_assignment(policy, policy.inputs.values(), env))
        return None if got is None else got != negated
    return where


def build_tracks(policy: CompiledPolicy,
                 lock: contextlib.AbstractContextManager[object] | None = None,
                 ) -> dict[str, Track]:
    """One track per MONITOR input (its DEFINED flag reads the same track). ``lock`` is
    held around every Z3 call a pattern's fallback makes."""
    held = lock if lock is not None else contextlib.nullcontext()
    tracks: dict[str, Track] = {}
    for inp in policy.inputs.values():
        if inp.kind is not InputKind.MONITOR or inp.node is None:
            continue
        tracks[inp.key] = _track(policy, inp.key, inp.node, held)
    return tracks


def _window(w: ast.DurationLit | None) -> int | None:
    return None if w is None else w.seconds * _US


def _track(policy: CompiledPolicy, key: str, node: ast.Expr,
           lock: contextlib.AbstractContextManager[object]) -> Track:
    match node:
        case ast.Aggregate(func=func, pattern=p, field=fld, window=w):
            return Track(key=key, kind=TrackKind(str(func)), window_us=_window(w),
                         match=_pattern_matcher(policy, p, lock),
                         field=tuple(fld.split(".")) if fld else ())
        case ast.Temporal(op=op, pattern=p, window=w):
            return Track(key=key, kind=TrackKind(str(op)), window_us=_window(w),
                         match=_pattern_matcher(policy, p, lock))
        case ast.Since(held=held, anchor=anchor):
            return Track(key=key, kind=TrackKind.SINCE,
                         match=_pattern_matcher(policy, held, lock),
                         anchor=_pattern_matcher(policy, anchor, lock))
        case ast.Call(func="result", args=(ast.Name(id=tool),)):
            return Track(key=key, kind=TrackKind.RESULT, tool=tool)
        case ast.Attribute(value=ast.Name(id=tool), attr=arg):  # `TOOL.arg`
            return Track(key=key, kind=TrackKind.VALUES, tool=tool, field=(arg,))
    raise ValueError(f"not a monitor term: {key}")  # pragma: no cover - compile guarantees


def build_program(policy: CompiledPolicy, tool: str, tracks: Mapping[str, Track]) -> ToolProgram:
    rules = policy.rules_for(tool)
    fires, why = compile_rules([(r.applies, r.require) for r in rules], name=tool)
    inputs: dict[str, Input] = {}
    for r in rules:
        for inp in r.inputs:
            inputs[inp.key] = inp
    # A SIZE input needs its base set; DEFINED and MONITOR share a track.
    for inp in list(inputs.values()):
        if inp.kind is InputKind.SIZE and inp.path[0] not in inputs:
            inputs[inp.path[0]] = policy.inputs[inp.path[0]]
    spec = policy.spec
    groups: dict[InputKind, list[Input]] = {}
    for inp in inputs.values():
        groups.setdefault(inp.kind, []).append(inp)
    g = lambda k: groups.get(k, [])  # noqa: E731
    monitor = [(i.key, tracks[i.key], False) for i in g(InputKind.MONITOR)]
    monitor += [(i.key, tracks["mon:" + i.key[4:]], True) for i in g(InputKind.DEFINED)]
    return ToolProgram(
        tool=tool, rules=rules, fires=fires, unsupported=why,
        inputs=tuple(inputs.values()),
        args=tuple((i.key, i.path[0]) for i in g(InputKind.ARG)),
        present=tuple((i.key, i.path[0]) for i in g(InputKind.PRESENT)),
        context=tuple((i.key, i.path) for i in g(InputKind.CONTEXT)),
        facts=tuple((i.key, i.path[0], i.type) for i in g(InputKind.FACT)),
        monitor=tuple(monitor),
        provenance=tuple((i.key, i.key.split(":")[1], i.path) for i in g(InputKind.PROVENANCE)),
        sizes=tuple((i.key, i.path[0]) for i in g(InputKind.SIZE)),
        zeros={i.key: zero(i.type, spec) for i in g(InputKind.MONITOR)},
    )


def z3_assignment(policy: CompiledPolicy, inputs: object, env: Mapping[str, object],
                  ) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    """(constant, literal) pairs for every input of ``inputs`` that ``env`` gives."""
    pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
    for inp in inputs:  # type: ignore[attr-defined]
        if inp.key in env:
            pairs.append((inp.const, policy.to_z3(env[inp.key], inp.type)))
    return pairs
