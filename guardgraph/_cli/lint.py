"""`guardgraph lint` and `guardgraph diff`: the static checks over spec files.

stdout carries the findings (or the diff); stderr carries the summary and errors (one
JSON object per error with ``--format json``).
lint exit codes: 0 no finding at error level (with ``--strict``: no warning either),
1 findings that fail, 2 bad input: a file cannot be read, does not parse or type-check,
or the options are wrong.
diff exit codes: 0 the versions provably agree, 1 they differ (or the solver could not
decide for some tool), 2 a file cannot be read or does not load.

Several files given to lint are one spec, combined exactly as ``check-trace --spec A
--spec B`` and the guard load them (as if one root file included them all), so a file
that only declares tools is linted with the rules that use them; ``--separate`` lints
each file as a spec of its own.
"""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guardgraph._cli._console import (
    EXIT_BAD_INPUT,
    color,
    fail,
    printable,
    safe_diagnostics,
)
from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:  # the spec front end and Z3 are imported when a verb runs
    from guardgraph.specs import Diagnostic, LoadResult

__all__ = ["load_together", "register"]


class LintFormat(StrEnum):
    HUMAN = "human"
    CONCISE = "concise"
    JSON = "json"


class DiffFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


def _color() -> bool:
    return color(typer.get_text_stream("stdout"))


def _check_path(path: str, *, as_json: bool) -> None:
    p = Path(path)
    if not p.exists():
        raise fail(f"{path}: no such file", "check the path", as_json=as_json, path=path)
    if p.is_dir():
        raise fail(f"{path}: is a directory", "pass the .spec files themselves",
                   as_json=as_json, path=path)


def _quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_together(paths: "list[str] | tuple[str, ...]") -> "LoadResult":
    """One spec from ``paths``: the file itself for one path; for several, a root that
    includes each in order — the guard's own way of combining spec files — with every
    location named by the path as given."""
    from guardgraph.specs import load_file, load_text

    if len(paths) == 1:
        return load_file(paths[0])
    root = "spec combined version 1\n" + "".join(f"include {_quote(p)}\n" for p in paths)
    return load_text(root, path="<combined>", base_dir="")


def lint_command(
    files: Annotated[list[str], typer.Argument(help="Spec files to check, as one spec.",
                                               show_default=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    output: Annotated[
        LintFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
    ] = LintFormat.HUMAN,
    separate: Annotated[
        bool, typer.Option("--separate", help="Lint each file as a spec of its own.")
    ] = False,
    timeout_ms: Annotated[
        int, typer.Option("--timeout", min=1, help="Solver time limit per question, in ms.")
    ] = 2000,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="Worker processes (default: one per CPU for "
                                          "specs of 200 rules or more)."),
    ] = None,
) -> None:
    """Find rules that never pass, never apply, block a tool, repeat or contradict each
    other, unreachable repairs and unused declarations; each with a concrete witness."""
    from guardgraph.guardrails import lint as spec_lint
    from guardgraph.specs import Severity, render_concise, render_human, render_json

    as_json = output is LintFormat.JSON
    for path in files:
        _check_path(path, as_json=as_json)
    groups = [[p] for p in dict.fromkeys(files)] if separate else [list(dict.fromkeys(files))]
    diags: list[Diagnostic] = []
    sources: dict[str, str] = {}
    loaded = True
    for group in groups:
        result = load_together(group)
        sources.update(result.sources)
        diags.extend(result.diagnostics)
        if result.spec is None:
            loaded = False
            continue
        try:
            diags.extend(spec_lint(result.spec, timeout_ms=timeout_ms, jobs=jobs))
        except GuardgraphError as exc:
            raise fail(f"{', '.join(group)}: {exc}", as_json=as_json) from None
    if as_json:
        typer.echo(render_json(diags), nl=False)
    elif output is LintFormat.CONCISE:
        typer.echo(render_concise(safe_diagnostics(diags, sources)[0]), nl=False)
    elif diags:
        typer.echo(render_human(*safe_diagnostics(diags, sources), color=_color()))
    errors = sum(d.level is Severity.ERROR for d in diags)
    warnings = sum(d.level is Severity.WARNING for d in diags)
    if not as_json:
        if diags:
            typer.echo(f"Found {errors} error(s) and {warnings} warning(s).", err=True)
        else:
            typer.echo(f"All checks passed ({len(files)} file(s)).", err=True)
    if not loaded:
        raise typer.Exit(EXIT_BAD_INPUT)  # a parse or type error: the input is bad
    if errors or (strict and warnings):
        raise typer.Exit(1)


def diff_command(
    old: Annotated[str, typer.Argument(help="The old version's spec file.", show_default=False)],
    new: Annotated[str, typer.Argument(help="The new version's spec file.", show_default=False)],
    output: Annotated[
        DiffFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
    ] = DiffFormat.HUMAN,
    timeout_ms: Annotated[
        int, typer.Option("--timeout", min=1, help="Solver time limit per question, in ms.")
    ] = 5000,
    examples: Annotated[
        int, typer.Option("--examples", min=1, help="Example actions per direction and tool.")
    ] = 3,
) -> None:
    """Per tool: does the new version narrow, widen or change what is allowed? With
    example actions each way, or a proof that the versions agree."""
    from guardgraph.guardrails import diff as spec_diff
    from guardgraph.specs import render_human, render_json

    as_json = output is DiffFormat.JSON
    loaded = []
    for path in (old, new):
        _check_path(path, as_json=as_json)
        loaded.append(load_together([path]))
    for load in loaded:
        if load.spec is None:
            if as_json:
                typer.echo(render_json(load.diagnostics), err=True, nl=False)
            else:
                typer.echo(render_human(*safe_diagnostics(load.diagnostics, load.sources),
                                        color=color(typer.get_text_stream("stderr"))),
                           err=True)
            raise fail("the spec does not load; fix the errors above and run diff again",
                       as_json=as_json)
    a, b = loaded[0].spec, loaded[1].spec
    assert a is not None and b is not None
    try:
        result = spec_diff(a, b, timeout_ms=timeout_ms, examples=examples)
    except GuardgraphError as exc:
        raise fail(str(exc), as_json=as_json) from None
    # A witness may hold any character the spec's strings allow: escape control ones.
    typer.echo(result.to_json() if as_json else printable(result.render_human()))
    if not result.same:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `lint` and `diff` to the app."""
    app.command("lint")(lint_command)
    app.command("diff")(diff_command)
