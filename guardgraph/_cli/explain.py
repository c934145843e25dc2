"""`guardgraph explain CODE`: what a diagnostic or guard code means, with an example."""

from typing import Annotated

import typer

__all__ = ["register"]


def explain(
    code: Annotated[str, typer.Argument(help="A code such as GG203.", show_default=False)],
) -> None:
    """Explain a GG1xx-GG5xx code."""
    from guardgraph.specs import CODES

    entry = CODES.get(code.upper())
    if entry is None:
        raise typer.Exit(2)
    typer.echo(f"{entry.code} ({entry.name}): {entry.summary}")


def register(app: typer.Typer) -> None:
    """Add `guardgraph explain` to the app."""
    app.command("explain")(explain)
