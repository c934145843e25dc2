"""The exceptions of guardgraph.guardrails, all under `guardgraph.errors.GuardgraphError`.

A deny is a verdict, never one of these: they are for misuse of the API (a spec that does
not load, a session blob from another policy) and for infrastructure (a store that fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:
    from guardgraph.specs.diagnostics import Diagnostic

__all__ = ["CompileError", "GuardError", "SessionStateError", "SpecLoadError", "StoreError"]


class CompileError(GuardgraphError):
    """A spec or a value the compiler cannot translate; the message says what and where."""


class GuardError(GuardgraphError):
    """Misuse of the guard's API (an undeclared fact, a fact value of the wrong type)."""


class SpecLoadError(GuardgraphError):
    """A spec file is missing or unreadable, or the spec has errors.

    ``path`` names the file; ``diagnostics`` holds the loader's findings (render them with
    `guardgraph.specs.render_human` and ``sources``).
    """

    def __init__(self, message: str, *, path: str = "",
                 diagnostics: Sequence[Diagnostic] = (),
                 sources: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.diagnostics = tuple(diagnostics)
        self.sources: Mapping[str, str] = MappingProxyType(dict(sources or {}))


class StoreError(GuardgraphError):
    """The session store failed (unreachable, corrupt state, too much contention).

    ``code`` is the GG4xx code a check that met it is denied with; ``hint`` tells an
    operator how to inspect or repair the state.
    """

    def __init__(self, message: str, *, code: str = "GG414", hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint


class SessionStateError(GuardgraphError):
    """A session blob that cannot be restored: not a blob, another format version, or
    written under another policy (its sha256 is named)."""
