"""`guardgraph lint` and `guardgraph diff`: the static checks over spec files.

stdout carries the findings (or the diff); stderr carries the summary and errors.
lint exit codes: 0 no finding at error level (with ``--strict``: no warning either),
1 findings that fail, 2 a file cannot be read or the options are wrong.
diff exit codes: 0 the versions provably agree, 1 they differ (or the solver could not
decide for some tool), 2 a file cannot be read or does not load.
"""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guardgraph._cli._common import color, fail
from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:  # the spec front end and Z3 are imported when a verb runs
    from guardgraph.specs import Diagnostic
    from guardgraph.specs._loader import LoadResult

__all__ = ["register"]


class LintFormat(StrEnum):
    HUMAN = "human"
    CONCISE = "concise"
    JSON = "json"


class DiffFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


def _color() -> bool:
    return color(typer.get_text_stream("stdout"))


def _check_path(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise fail(f"{path}: no such file", "check the path")
    if p.is_dir():
        raise fail(f"{path}: is a directory", "pass the .spec files themselves")


def _load(path: str) -> "LoadResult":
    from guardgraph.specs._loader import load_file

    _check_path(path)
    return load_file(path)


def lint_command(
    files: Annotated[list[str], typer.Argument(help="Spec files to check.", show_default=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    output: Annotated[
        LintFormat, typer.Option("--format", help="Output format.", case_sensitive=False)
    ] = LintFormat.HUMAN,
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
    from guardgraph.guardrails.lint import lint as spec_lint
    from guardgraph.specs import Severity, render_concise, render_human, render_json

    diags: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for path in files:
        result = _load(path)
        sources.update(result.sources)
        diags.extend(result.diagnostics)
        if result.spec is None:
            continue
        try:
            diags.extend(spec_lint(result.spec, timeout_ms=timeout_ms, jobs=jobs))
        except GuardgraphError as exc:
            raise fail(f"{path}: {exc}") from None
    if output is LintFormat.JSON:
        typer.echo(render_json(diags), nl=False)
    elif output is LintFormat.CONCISE:
        typer.echo(render_concise(diags), nl=False)
    elif diags:
        typer.echo(render_human(diags, sources, color=_color()))
    errors = sum(d.level is Severity.ERROR for d in diags)
    warnings = sum(d.level is Severity.WARNING for d in diags)
    if output is not LintFormat.JSON:
        if diags:
            typer.echo(f"Found {errors} error(s) and {warnings} warning(s).", err=True)
        else:
            typer.echo(f"All checks passed ({len(files)} file(s)).", err=True)
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
    from guardgraph.guardrails.diff import diff as spec_diff
    from guardgraph.specs import render_human

    loaded = [_load(old), _load(new)]
    for load in loaded:
        if load.spec is None:
            typer.echo(render_human(load.diagnostics, load.sources, color=False), err=True)
            raise fail("the spec does not load; fix the errors above and run diff again")
    a, b = loaded[0].spec, loaded[1].spec
    assert a is not None and b is not None
    try:
        result = spec_diff(a, b, timeout_ms=timeout_ms, examples=examples)
    except GuardgraphError as exc:
        raise fail(str(exc)) from None
    typer.echo(result.to_json() if output is DiffFormat.JSON else result.render_human())
    if not result.same:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `lint` and `diff` to the app."""
    app.command("lint")(lint_command)
    app.command("diff")(diff_command)
