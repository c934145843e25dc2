"""Host-supplied facts: plain values, or providers called per check with a time limit.

A provider that raises anything (``SystemExit``, ``GeneratorExit`` and custom
``BaseException`` subclasses included; only ``KeyboardInterrupt`` propagates), answers
late, or returns a value of the wrong type makes the check fail closed (GG405 / GG406),
with the exception named (issue 11). Every value, from a provider, a session or the
guard, is a frozen copy of exact built-in values (`freeze`): a ``Decimal`` or ``Fraction``
subclass cannot lie about its value, and a set fact cannot be changed after the check. A
plain value is validated once, when the guard is built. Per-session values
(``Session.facts``) override the guard's. Hung providers never block other checks: when
every worker is held by one, the next call gets a fresh pool.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Mapping

from guardgraph.guardrails._validate import BadValue, validate
from guardgraph.guardrails.action import Session
from guardgraph.specs import ast

__all__ = ["FactError", "FactProvider", "Facts", "described"]

FactProvider = Callable[[Session], object]
_WORKERS = 4


def described(exc: BaseException) -> str:
    """``Type: message`` of an exception from host code, whose ``__str__`` may itself
    raise (or raise SystemExit): the deny reason must still be written."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except KeyboardInterrupt:
        raise
    except BaseException:
        text = "<its message could not be read>"
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{name}: {text}" if text else name


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
        self._busy = 0  # calls submitted to the current pool and not yet finished
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
        given = self._session_facts(session)
        for name, typ in needed:
            key = f"fact:{name}"
            if name in given:
                out[key] = self._checked(given[name], name, typ, "session fact")
            elif name in self._static:
                out[key] = self._static[name]
            elif name in self._providers:
                out[key] = self._checked(self._provide(name, session), name, typ,
                                         "fact provider")
            else:
                raise FactError("GG405", f"fact {name!r} has no value (give it to the Guard "
                                         "or the Session)")
        return out

    @staticmethod
    def _session_facts(session: Session) -> dict[str, object]:
        # A session's facts may be any Mapping the host built; read it once, and let a
        # hostile one deny this check rather than crash it.
        try:
            return dict(session.facts.items())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise FactError("GG405", f"session facts could not be read: {described(exc)}",
                            ) from None

    def _checked(self, value: object, name: str, typ: ast.TypeExpr, origin: str) -> object:
        try:
            return validate(value, typ, self._spec, f"fact {name}")
        except BadValue as exc:
            raise FactError("GG405", f"{origin} {name!r} gave a bad value: {exc.code}: {exc}",
                            ) from None

    def _provide(self, name: str, session: Session) -> object:
        # Providers run on a small pool so a hung one costs a time-out, not the check.
        with self._lock:
            if self._executor is None or self._busy >= _WORKERS:
                # Every worker is held by a provider that never answered: start a fresh
                # pool rather than queue this check (and every later one) behind them.
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=_WORKERS, thread_name_prefix="guardgraph-fact")
                self._busy = 0
            self._busy += 1
            executor = self._executor
            future = executor.submit(self._providers[name], session)
        future.add_done_callback(lambda _: self._done(executor))
        try:
            return future.result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            raise FactError("GG406", f"fact provider {name!r} did not answer within "
                                     f"{self._timeout}s") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            # A provider is host code: SystemExit, GeneratorExit or any custom
            # BaseException from it is a reason to deny, never to end the process.
            raise FactError("GG405", f"fact provider {name!r} raised {described(exc)}",
                            ) from None

    def _done(self, executor: concurrent.futures.ThreadPoolExecutor) -> None:
        with self._lock:
            if executor is self._executor:
                self._busy -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
