"""`guardgraph check-trace`: replay recorded sessions through the guard.

Reads a JSON Lines trace (one session per line, docs/trace-format.md) as a stream, so
memory stays flat for any file size, and prints one verdict per tool call (and per
routing decision). The semantics — what counts as executed, what a ``tool_result`` after
an escalation means — are `guardgraph.guardrails.trace.Replay`'s. Things in the trace
that do not add up (a result for an unknown call, a call id used twice) are warnings on
stderr; the replay goes on.

Exit codes: 0 the trace was checked (whatever the verdicts); 2 bad input: a spec that
does not load, a malformed facts file (GG411) or trace line (GG410, with its line
number), a session id on two lines (both named); 70 internal error.
"""

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from guardgraph._cli._console import (
    color,
    fail,
    printable,
    safe_diagnostics,
    terminal_width,
    warn,
)

if TYPE_CHECKING:
    from guardgraph.guardrails.trace import ReplayStep

__all__ = ["register"]


class TraceFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


def _lines(path: str) -> Iterator[tuple[int, str]]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin:
            stream.close()


def _cell(text: str, width: int) -> str:
    text = printable(text, newlines=False)
    return text if len(text) <= width else text[: width - 1] + "…"


class _Table:
    """Rows that stay readable at 80 columns: fixed columns for the short fields, the
    rules wrapped in theirs, and the message on indented lines under the row."""

    def __init__(self, out: TextIO, width: int) -> None:
        self._out = out
        self._width = width
        self._rules = max(width - 52, 12)  # what the four fixed columns leave

    def header(self) -> None:
        self._out.write(f"{'SESSION':<18}{'CALL':<7}{'TOOL':<17}{'DECISION':<9} RULES\n")

    def row(self, step: "ReplayStep") -> None:
        v = step.verdict
        decision = str(v.decision)
        rules = textwrap.wrap(", ".join(printable(r, newlines=False) for r in v.rules) or "-",
                              self._rules, break_on_hyphens=False) or ["-"]
        head = (f"{_cell(step.session, 17):<18}{_cell(step.call_id, 6):<7}"
                f"{_cell(step.tool, 16):<17}{decision:<9} ")
        self._out.write(head + rules[0] + "\n")
        for more in rules[1:]:
            self._out.write(" " * len(head) + more + "\n")
        notes: list[str] = []
        if not v.executable or v.decision.value == "repair":
            notes.append(v.message)
        if step.approval is not None:
            a = step.final
            when = "after the escalation" if step.approved is not None else "in advance"
            notes.append(f"approved by {step.approval.approver} {when}: {a.decision}"
                         + (f" ({a.message})" if not a.allowed else ""))
        notes += [f"warning: {rule}: {message}" for rule, message in step.warnings]
        for note in notes:
            for text in textwrap.wrap(printable(note, newlines=False), self._width - 4,
                                      break_on_hyphens=False):
                self._out.write("    " + text + "\n")


def _load(spec: list[Path], *, as_json: bool) -> Any:
    from guardgraph.guardrails import SpecLoadError, load_policy
    from guardgraph.specs import render_human, render_json

    try:
        return load_policy(*spec)
    except SpecLoadError as exc:
        if exc.diagnostics:
            err = typer.get_text_stream("stderr")
            if as_json:
                err.write(render_json(exc.diagnostics))
            else:
                err.write(render_human(*safe_diagnostics(exc.diagnostics, exc.sources),
                                       color=color(err)) + "\n")
        raise fail(f"{exc}; no call was checked" if not exc.diagnostics
                   else "the spec did not load; no call was checked",
                   "fix the spec, then run check-trace again", as_json=as_json,
                   path=exc.path) from None


def _facts(facts: Path | None, *, as_json: bool) -> dict[str, Any]:
    if facts is None:
        return {}
    try:
        values = json.loads(facts.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"GG411: {facts}: cannot read facts: {exc}", as_json=as_json,
                   code="GG411") from None
    if not isinstance(values, dict):
        raise fail(f"GG411: {facts}: expected a JSON object of fact values", as_json=as_json,
                   code="GG411")
    return values


def check_trace(
    trace: Annotated[str, typer.Argument(help="JSON Lines trace file, one session per line; "
                                              "- reads standard input.", show_default=False)],
    spec: Annotated[list[Path], typer.Option("--spec", help="Spec file (repeatable: the "
                                             "files are one spec, as lint reads them).")],
    facts: Annotated[Path | None, typer.Option("--facts", help="JSON object of fact values "
                                                               "for every session.")] = None,
    output: Annotated[TraceFormat | None, typer.Option(
        "--format", help="json (the default): one verdict object per line, and errors and "
        "warnings as JSON objects on stderr when given explicitly; table: for people.",
        case_sensitive=False, show_default=False)] = None,
    continue_sessions: Annotated[bool, typer.Option(
        "--continue-sessions", help="A session id on a later line continues that session "
        "(default: an error naming both lines).")] = False,
) -> None:
    """Check every tool call of recorded sessions against the specs."""
    from guardgraph.guardrails import Guard, GuardError
    from guardgraph.guardrails.trace import Replay, ReplayStep, TraceError, parse_trace_line

    # Verdict lines are JSON unless a table is asked for; errors and warnings are JSON
    # only when --format json is explicit (a person running the default reads them).
    as_json = output is TraceFormat.JSON
    policy = _load(spec, as_json=as_json)
    fact_values = _facts(facts, as_json=as_json)
    try:
        # A recorded trace carries its own times: no bound against this machine's clock.
        guard = Guard(policy, facts=fact_values, max_clock_skew=None)
    except GuardError as exc:
        raise fail(f"GG411: {facts}: {exc}", as_json=as_json, code="GG411") from None
    out = sys.stdout
    table = _Table(out, terminal_width()) if output is TraceFormat.TABLE else None
    if table is not None:
        table.header()
    replay = Replay(guard, continue_sessions=continue_sessions)
    try:
        for number, text in _lines(trace):
            try:
                items = list(replay.line(number, parse_trace_line(text)))
            except TraceError as exc:
                out.flush()
                if exc.first_line:
                    raise fail(f"GG410: {trace}:{number}: {exc}",
                               f"pass --continue-sessions if line {number} continues the "
                               f"session of line {exc.first_line}", as_json=as_json,
                               code="GG410", line=number, first_line=exc.first_line
                               ) from None
                raise fail(f"GG410: {trace}:{number}: malformed trace line: {exc}",
                           "each line is one session: {\"session\": ..., \"events\": [...]}",
                           as_json=as_json, code="GG410", line=number) from None
            for item in items:
                if not isinstance(item, ReplayStep):
                    out.flush()
                    warn(f"{trace}:{item.line}: session {item.session!r}: {item.message}",
                         as_json=as_json, line=item.line, event=item.event,
                         session=item.session, call_id=item.call_id)
                elif table is not None:
                    table.row(item)
                else:
                    out.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other Unix tools do; point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:
        raise fail(f"{trace}: {exc.strerror or exc}", as_json=as_json) from None
    except UnicodeDecodeError as exc:
        raise fail(f"GG410: {trace}: not UTF-8 ({exc.reason})", as_json=as_json,
                   code="GG410") from None
    finally:
        guard.close()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("check-trace", epilog=(
        "Prints one JSON verdict per tool call: session, call_id, tool, decision "
        "(allow|deny|escalate|repair), rules, message, repair, code, warnings, approval. "
        "A call that is not allowed is not executed for the rest of its session; an "
        "escalated call followed by its tool_result was approved by a human. Exit codes: "
        "0 the trace was checked (whatever the verdicts); 2 a spec that does not load, a "
        "bad facts file (GG411), a malformed trace line (GG410, with its line number) or "
        "a session id on two lines; 70 internal error. See docs/trace-format.md."
    ))(check_trace)
