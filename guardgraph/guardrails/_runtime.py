"""What a `Policy` compiles to in one process: Z3 terms, per-tool programs, monitor
tracks, argument validators, and the one lock every Z3 call on them takes.

Built lazily by `Policy.runtime()`, so importing the guard, or unpickling a policy, does
not load Z3; each policy owns its Z3 context, and Z3 contexts are not thread-safe, so the
fallback evaluator, repairs, plans and monitor patterns all hold ``z3_lock``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from guardgraph.guardrails._compile import compile_policy
from guardgraph.guardrails._explain import Conjunct, rule_conjuncts
from guardgraph.guardrails._monitor import Track
from guardgraph.guardrails._program import ToolProgram, build_program, build_tracks
from guardgraph.guardrails._validate import tool_table, validator
from guardgraph.specs import ast

__all__ = ["Param", "Runtime"]

# argument name -> (validator, optional, "tool.argument" for messages)
Param = tuple[Callable[[object, str], object], bool, str]


class Runtime:
    __slots__ = ("compiled", "conjuncts", "names", "params", "programs", "spec", "tracks",
                 "z3_lock")

    def __init__(self, spec: ast.Spec) -> None:
        self.spec = spec
        # Re-entrant: a repair holds it and re-checks the repaired call, whose fallback
        # takes it again.
        self.z3_lock = threading.RLock()
        with self.z3_lock:
            self.compiled = compile_policy(spec)
            tracks = build_tracks(self.compiled, self.z3_lock)
            self.tracks: tuple[Track, ...] = tuple(tracks.values())
            self.programs: dict[str, ToolProgram] = {}
            self.conjuncts: dict[tuple[str, str], tuple[Conjunct, ...]] = {}
            for tool in self.compiled.tools:
                prog = self.programs[tool] = build_program(self.compiled, tool, tracks)
                for rule in prog.rules:
                    self.conjuncts[(tool, rule.rule.name)] = rule_conjuncts(rule)
        # canonical tool name by its NFKC case-folded key (`canonical_tool`)
        self.names = tool_table(t.name for t in spec.tools)
        # per tool: argument name -> Param, in declaration order
        self.params: dict[str, dict[str, Param]] = {
            t.name: {p.name: (validator(p.type, spec), isinstance(p.type, ast.OptionalType),
                              f"{t.name}.{p.name}") for p in t.params} for t in spec.tools}
