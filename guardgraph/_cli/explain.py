"""`guardgraph explain CODE`: what a diagnostic or guard code means, with an example.

The example is run, not quoted: a spec example is loaded (and linted, for GG3xx), a guard
example's calls are checked by a real guard, and what guardgraph says is printed under
it. ``guardgraph explain --all --format markdown`` prints the whole reference, which is
docs/errors.md. Exit codes: 0 explained; 2 an unknown code.
"""

import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from guardgraph._cli._console import fail, printable

if TYPE_CHECKING:
    from guardgraph._cli._explanations import Example, Explanation

__all__ = ["register", "render_all", "run_example"]

_GROUPS = {"1": "GG1xx: syntax and files", "2": "GG2xx: names and types",
           "3": "GG3xx: static checks (lint)", "4": "GG4xx: guard verdicts and inputs",
           "5": "GG5xx: audit log verification"}
_NOW = datetime(2026, 5, 1, 10, tzinfo=UTC)  # examples are deterministic: a fixed clock


class ExplainFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"


def _call_text(tool: str, args: dict[str, object]) -> str:
    return f"{tool}(" + ", ".join(f"{k}={json.dumps(v)}" for k, v in args.items()) + ")"


def run_example(example: "Example") -> tuple[str, tuple[str, ...]]:
    """What guardgraph says about ``example``, and the codes it produced."""
    from guardgraph._cli._explanations import Kind

    if example.kind is Kind.OUTPUT:
        return example.text, tuple(re.findall(r"GG\d{3}", example.text))
    from guardgraph.specs import load_text, render_human

    loaded = load_text(example.text, path="example.spec")
    if example.kind is Kind.SPEC or loaded.spec is None:
        diags = list(loaded.diagnostics)
        return (render_human(diags, loaded.sources, color=False).rstrip("\n"),
                tuple(d.code for d in diags))
    if example.kind is Kind.LINT:
        from guardgraph.guardrails import lint

        diags = list(lint(loaded.spec))
        return (render_human(diags, loaded.sources, color=False).rstrip("\n"),
                tuple(d.code for d in diags))
    from guardgraph.guardrails import Action, Guard, Policy, Session

    guard = Guard(Policy.from_spec(loaded.spec), facts=json.loads(example.facts),
                  max_clock_skew=None)
    lines: list[str] = []
    codes: list[str] = []
    try:
        for tool, args_json, *more in example.calls:
            args = json.loads(args_json)
            options = json.loads(more[0]) if more else {}
            session = Session(id="example", now=_NOW + timedelta(minutes=options.get("minutes",
                                                                                      0)))
            if options.get("drop"):
                guard.drop_session(session.id)
                lines.append("drop the session's state")
            if "route" in options:
                action = Action.route(options["route"], agent="router",
                                      call_id=options.get("call_id", ""))
                shown = f"route to {options['route']!r}"
            else:
                action = Action(tool=tool, args=args, agent="payments",
                                call_id=options.get("call_id", ""))
                shown = _call_text(tool, args)
            if "call_id" in options:
                shown += f" as call {options['call_id']}"
            if "minutes" in options:
                shown += f" at {session.now:%H:%M}"
            verdict = guard.check_and_commit(action, session)
            lines.append(f"check {shown}")
            message = verdict.message.removeprefix(f"{verdict.code}: ")
            lines.append(f"  -> {verdict.decision}"
                         + (f" [{verdict.code}]" if verdict.code else "") + f": {message}")
            if verdict.code:
                codes.append(verdict.code)
    finally:
        guard.close()
    return "\n".join(lines), tuple(codes)


def _shown_input(example: "Example") -> str:
    text = example.text.rstrip("\n")
    if example.shown:
        head, _, _ = text.rpartition("\n")
        text = head + "\n  " + example.shown
    return text


def _indented(text: str) -> list[str]:
    return [("  " + line).rstrip() for line in text.splitlines()]


def _text(entry: "Explanation") -> str:
    from guardgraph._cli._explanations import Kind
    from guardgraph.specs import CODES

    code = CODES[entry.code]
    out = [f"{code.code} {code.name} ({code.severity}): {code.summary}", "",
           *textwrap.wrap(entry.means, 88), ""]
    said, _ = run_example(entry.example)
    if entry.example.kind is Kind.OUTPUT:
        out += ["Example (abridged):", *_indented(said)]
    else:
        out += ["Example:", *_indented(_shown_input(entry.example))]
        out += ["", "guardgraph says:", *_indented(said)]
    out += ["", *textwrap.wrap(f"Fix: {entry.fix}", 88)]
    return "\n".join(out)


def _markdown(entry: "Explanation") -> str:
    from guardgraph._cli._explanations import Kind
    from guardgraph.specs import CODES

    code = CODES[entry.code]
    said, _ = run_example(entry.example)
    out = [f"### {code.code} `{code.name}`", "", f"*{code.severity}* — {code.summary}.", "",
           entry.means, ""]
    if entry.example.kind is Kind.OUTPUT:
        out += ["Example (abridged):", "", "```console", said, "```"]
    else:
        out += ["```", _shown_input(entry.example), "```", "", "guardgraph says:", "",
                "```console", said, "```"]
    out += ["", f"**Fix:** {entry.fix}", ""]
    return "\n".join(out)


_MD_HEAD = """# Error codes

Every diagnostic guardgraph reports and every code a guard verdict carries, with what it
means, an example, and the fix. `guardgraph explain CODE` prints one entry; this page is
`guardgraph explain --all --format markdown`, and a test keeps the two identical, so every
example below was run and produced its code (entries marked *abridged* show a transcript
instead, where the input does not fit on a page: a log, a clock, a crash).

Codes never change meaning once published. Severity `error` fails `guardgraph lint`;
`warning` fails it only with `--strict`. GG1xx and GG2xx errors mean the spec did not load
(exit 2); GG4xx codes are verdicts, not failures of the command; GG5xx codes make
`guardgraph audit verify` exit 1.
"""


def render_all(fmt: ExplainFormat) -> str:
    """Every registered code's entry, grouped by hundred, in registry order."""
    from guardgraph._cli._explanations import EXPLANATIONS
    from guardgraph.specs import CODES

    parts: list[str] = [_MD_HEAD] if fmt is ExplainFormat.MARKDOWN else []
    group = ""
    for code in CODES:
        entry = EXPLANATIONS.get(code)
        if entry is None:  # registered a moment ago; tests/cli/test_cli_explain.py asks for it
            continue
        if code[2] != group:
            group = code[2]
            parts.append(f"## {_GROUPS[group]}\n" if fmt is ExplainFormat.MARKDOWN
                         else f"== {_GROUPS[group]}\n")
        parts.append(_markdown(entry) if fmt is ExplainFormat.MARKDOWN else _text(entry) + "\n")
    return "\n".join(parts).rstrip("\n") + "\n"


def explain(
    code: Annotated[str | None, typer.Argument(help="A code such as GG203 (or 203).",
                                               show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="Explain every code.")] = False,
    output: Annotated[ExplainFormat, typer.Option(
        "--format", help="text for the terminal, markdown for docs.",
        case_sensitive=False)] = ExplainFormat.TEXT,
) -> None:
    """Explain a GG1xx-GG5xx code: what it means, an example that produces it, the fix."""
    from guardgraph._cli._explanations import EXPLANATIONS
    from guardgraph.specs import CODES

    if every == (code is not None):
        raise fail("give one CODE, or --all", "guardgraph explain GG203")
    if every:
        typer.echo(printable(render_all(output)), nl=False)
        return
    assert code is not None
    wanted = code.strip().upper()
    wanted = wanted if wanted.startswith("GG") else f"GG{wanted}"
    if wanted not in CODES or wanted not in EXPLANATIONS:
        near = [c for c in CODES if c[:3] == wanted[:3]]  # the same hundred
        raise fail(f"unknown code {code!r}",
                   (f"codes near it: {', '.join(near)}; " if near else "")
                   + "`guardgraph explain --all` lists every code")
    entry = EXPLANATIONS[wanted]
    typer.echo(printable(_markdown(entry) if output is ExplainFormat.MARKDOWN
                         else _text(entry)))


def register(app: typer.Typer) -> None:
    """Add `guardgraph explain` to the app."""
    app.command("explain")(explain)
