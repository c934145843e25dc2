"""The exception the Z3 translation raises on misuse (a spec that was not type-checked,
a value that does not fit its declared type)."""

from __future__ import annotations

from guardgraph.errors import GuardgraphError

__all__ = ["CompileError"]


class CompileError(GuardgraphError):
    """A spec or a value the compiler cannot translate; the message says what and where."""
