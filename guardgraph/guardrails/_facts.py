"""Host-supplied facts: plain values, or providers called per check with a time limit.

A provider that raises, answers late, or returns a value of the wrong type makes the
check fail closed (GG405 / GG406); a plain value is validated once, when the guard is
built. Per-session values (``Session.facts``) override the guard's.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Mapping

from guardgraph.guardrails._validate import BadValue, validate
from guardgraph.guardrails.action import Session
from guardgraph.specs import ast

__all__ = ["FactError", "FactProvider", "Facts"]

FactProvider = Callable[[Session], object]


class FactError(Exception):
    """A fact could not be supplied; ``code`` is the GG4xx code of the deny."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Facts:
    def __init__(self, spec: ast.Spec, facts: Mapping[str, object] | None, *,
                 timeout_s: float) -> None:
        self._spec = spec
        self._timeout = timeout_s
        self._static: dict[str, object] = {}
        self._providers: dict[str, FactProvider] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        for name, value in (facts or {}).items():
            decl = spec.fact(name)
            if decl is None:
                raise FactError("GG411", f"fact {name!r} is not declared in spec {spec.name}; "
                                f"declared: {', '.join(f.name for f in spec.facts) or 'none'}")
            if callable(value):
                self._providers[name] = value
            else:
                try:
                    self._static[name] = validate(value, decl.type, spec, f"fact {name}")
                except BadValue as exc:
                    raise FactError("GG411", str(exc)) from None

    def resolve(self, needed: Iterable[tuple[str, ast.TypeExpr]], session: Session,
                ) -> dict[str, object]:
        """``fact:<name>`` -> value for each needed fact; `FactError` when one fails."""
        out: dict[str, object] = {}
        for name, typ in needed:
            key = f"fact:{name}"
            if name in session.facts:
                out[key] = self._checked(session.facts[name], name, typ)
            elif name in self._static:
                out[key] = self._static[name]
            elif name in self._providers:
                out[key] = self._checked(self._provide(name, session), name, typ)
            else:
                raise FactError("GG405", f"fact {name!r} has no value (give it to the Guard "
                                         "or the Session)")
        return out

    def _checked(self, value: object, name: str, typ: ast.TypeExpr) -> object:
        try:
            return validate(value, typ, self._spec, f"fact {name}")
        except BadValue as exc:
            raise FactError("GG405", str(exc)) from None

    def _provide(self, name: str, session: Session) -> object:
        # Providers run on a small pool so a hung one costs a time-out, not the check.
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix="guardgraph-fact")
            future = self._executor.submit(self._providers[name], session)
        try:
            return future.result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            raise FactError("GG406", f"fact provider {name!r} did not answer within "
                                     f"{self._timeout}s") from None
        except Exception as exc:
            raise FactError("GG405", f"fact provider {name!r} raised "
                                     f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
