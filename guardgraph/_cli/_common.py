"""Private: the helpers several verbs share (errors, colour, opening an audit store).

Cheap at import, like every CLI module: typer and the standard library only.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:
    from guardgraph import audit


def fail(message: str, hint: str | None = None) -> typer.Exit:
    """Print ``error: message`` (and ``hint: ...``) to stderr; the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return typer.Exit(2)


def fail_now(message: str, *, hint: str | None = None, code: int = 2) -> NoReturn:
    """As `fail`, through rich (messages may hold markup-like text: it is escaped), and
    exit at once with ``code``."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(f"error: {escape(message)}")
    if hint:
        err.print(f"hint: {escape(hint)}")
    raise typer.Exit(code)


def color(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def opened_store(target: str, *, file: Path | None, hint: str) -> "Iterator[audit.AuditStore]":
    """The audit store at ``target``, closed afterwards; when ``file`` is given and is not
    a file, an error with ``hint`` instead of a new, empty log."""
    from guardgraph import audit

    if file is not None and not file.is_file():
        fail_now(f"no audit log at {target}", hint=hint)
    try:
        store = audit.open_store(target)
    except GuardgraphError as exc:
        fail_now(str(exc))
    try:
        yield store
    finally:
        store.close()
