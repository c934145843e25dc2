"""`guardgraph fmt`: print, rewrite or check the canonical layout of spec files.

stdout carries data (the formatted text, the files that would change, or JSON); stderr
carries messages and diagnostics (as JSON too with ``--format json``). Exit codes: 0 done
(nothing to change, for ``--check``), 1 a file would change, 2 bad input: a file has
syntax errors, cannot be read, or the options are wrong.
"""

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guardgraph._cli._console import EXIT_BAD_INPUT, color, fail, printable

if TYPE_CHECKING:  # the spec front end is imported when the verb runs, not at start-up
    from guardgraph.specs import Diagnostic

__all__ = ["register"]


class OutputFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


class _Status(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"  # --check: would change; --write: rewritten; else: printed
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Result:
    path: str
    status: _Status
    text: str | None = None
    diagnostics: tuple["Diagnostic", ...] = ()


def _read(path: str, *, as_json: bool) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.exists():
        raise fail(f"{path}: no such file", "check the path, or pass - to read standard input",
                   as_json=as_json, path=path)
    if p.is_dir():
        raise fail(f"{path}: is a directory", "pass the .spec files themselves",
                   as_json=as_json, path=path)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                   as_json=as_json, path=path) from None
    except OSError as exc:
        raise fail(f"{path}: cannot read ({exc.strerror or exc})", as_json=as_json,
                   path=path) from None


def _write(path: str, text: str) -> None:
    """Replace the file atomically, so an interrupted run never leaves half a spec."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_one(path: str, source: str, *, write: bool, check: bool,
                as_json: bool) -> _Result:
    from guardgraph.specs import format_spec, parse

    spec, diags = parse(source, path=path)
    if spec is None:
        return _Result(path=path, status=_Status.ERROR, diagnostics=diags)
    text = format_spec(spec)
    if text == source:
        return _Result(path=path, status=_Status.UNCHANGED, text=text)
    if write and not check and path != "-":
        try:
            _write(path, text)
        except OSError as exc:
            raise fail(f"{path}: cannot write ({exc.strerror or exc})", as_json=as_json,
                       path=path) from None
    return _Result(path=path, status=_Status.CHANGED, text=text)


def fmt(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE", help="Spec files to format; - reads standard input."),
    ],
    write: Annotated[
        bool, typer.Option("--write", "-w", help="Rewrite the files in place.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 if any file would change."),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output for people or for programs.",
                               case_sensitive=False)
    ] = OutputFormat.HUMAN,
) -> None:
    """Format spec files in the canonical layout (prints them unless --write/--check)."""
    as_json = output is OutputFormat.JSON
    if write and check:
        raise fail("--write and --check cannot be combined", "use --check in CI, --write locally",
                   as_json=as_json)
    sources = {path: _read(path, as_json=as_json) for path in dict.fromkeys(files)}
    results = [_format_one(p, s, write=write, check=check, as_json=as_json)
               for p, s in sources.items()]
    failed = any(r.status is _Status.ERROR for r in results)
    changed = [r for r in results if r.status is _Status.CHANGED]
    if output is OutputFormat.JSON:
        _emit_json(results, write=write, check=check)
    else:
        _emit_human(results, sources, write=write, check=check)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)
    if check and changed:
        raise typer.Exit(1)


def _emit_json(results: list[_Result], *, write: bool, check: bool) -> None:
    from guardgraph.specs import render_json

    files: list[dict[str, object]] = []
    for r in results:
        entry: dict[str, object] = {"path": r.path, "status": r.status.value}
        if not write and not check and r.text is not None:
            entry["formatted"] = r.text
        files.append(entry)
    diags = json.loads(render_json(d for r in results for d in r.diagnostics))
    typer.echo(json.dumps({"files": files, "diagnostics": diags}, indent=2, ensure_ascii=False))


def _emit_human(
    results: list[_Result], sources: dict[str, str], *, write: bool, check: bool
) -> None:
    from guardgraph.specs import render_human

    colored = color(sys.stderr)
    for r in results:
        if r.diagnostics:
            typer.echo(render_human(r.diagnostics, sources, color=colored), err=True, nl=False)
        elif check and r.status is _Status.CHANGED:
            typer.echo(f"would reformat: {printable(r.path)}")
        elif write and r.status is _Status.CHANGED:
            typer.echo(f"reformatted: {printable(r.path)}", err=True)
        elif not write and not check and r.text is not None:
            typer.echo(r.text, nl=False)
    errors = sum(1 for r in results if r.status is _Status.ERROR)
    changed = sum(1 for r in results if r.status is _Status.CHANGED)
    unchanged = sum(1 for r in results if r.status is _Status.UNCHANGED)
    if check or write:
        verb = "would be reformatted" if check else "reformatted"
        parts = [f"{_files(changed)} {verb}", f"{_files(unchanged)} already formatted"]
        if errors:
            parts.append(f"{_files(errors)} with syntax errors")
        typer.echo(", ".join(parts), err=True)
    elif errors:
        typer.echo(f"{_files(errors)} with syntax errors; nothing printed for them", err=True)


def _files(n: int) -> str:
    return f"{n} file" + ("" if n == 1 else "s")


def register(app: typer.Typer) -> None:
    """Add `guardgraph fmt` to the app."""
    app.command(name="fmt")(fmt)
