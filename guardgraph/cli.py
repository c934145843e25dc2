"""The `guardgraph` command: a thin composition of the public APIs.

Each verb lives in ``guardgraph/_cli/<area>.py`` and registers itself here. stdout carries
data, stderr carries messages; no Python traceback ever reaches the user.

Start-up stays light: the verb modules import only typer and the standard library at
module level; a verb imports the spec front end, Z3, the guard or the audit log (and rich)
when it runs, so `guardgraph lint` never loads the audit log or OpenTelemetry.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from guardgraph._cli import audit as _audit
from guardgraph._cli import audit_review as _audit_review
from guardgraph._cli import demo as _demo
from guardgraph._cli import explain as _explain
from guardgraph._cli import fmt as _fmt
from guardgraph._cli import guard as _guard
from guardgraph._cli import lint as _lint
from guardgraph._cli import train as _train
from guardgraph._cli import verify as _verify
from guardgraph._cli._help import Group

app = typer.Typer(
    name="guardgraph",
    help="Safety-verified agent orchestration: specs, guard and audit log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=Group,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("guardgraph")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from guardgraph import __version__ as number
        typer.echo(f"guardgraph {number}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Safety-verified agent orchestration: specs, guard and audit log."""


# One line per verb module: each module's `register(app)` adds its commands.

_fmt.register(app)
_lint.register(app)
_guard.register(app)
_demo.register(app)
_explain.register(app)
_verify.register(app)
_train.register(app)
_audit_review.register(_audit.audit_app)
app.add_typer(_audit.audit_app, name="audit")


def main() -> None:
    """Entry point: run the app; turn any escaped exception into a one-line error."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # the last line of defence: never show a traceback
        from itertools import pairwise

        from guardgraph._cli._console import fail

        args = sys.argv[1:]
        as_json = "--format=json" in args or ("--format", "json") in pairwise(args)
        fail(f"internal error: {type(exc).__name__}: {exc}",
             "this is a bug in guardgraph; please report it", as_json=as_json)
        raise SystemExit(70) from None


if __name__ == "__main__":
    main()
