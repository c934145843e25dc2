"""`guardgraph check-trace`: replay recorded sessions through the guard.

Reads a JSON Lines trace (one session per line, DESIGN.md) as a stream, so memory stays
flat for any file size, and prints one verdict per tool call (and per routing decision).
A call that is not allowed (deny, escalate without approval) counts as not executed for
the rest of its session; a repaired call is executed with the repaired arguments.

Exit codes: 0 the trace was checked (whatever the verdicts); 2 bad input: a spec that
does not load, a malformed facts file (GG411) or trace line (GG410, with its line
number); 70 internal error.
"""

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

EXIT_BAD_INPUT = 2


def _lines(path: str) -> Iterator[tuple[int, str]]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin:
            stream.close()


def _error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def check_trace(
    trace: Annotated[str, typer.Argument(help="JSON Lines trace file, one session per line; "
                                              "`-` reads stdin.")],
    spec: Annotated[list[Path], typer.Option("--spec", help="Spec file (repeatable).")],
    facts: Annotated[Path | None, typer.Option("--facts", help="JSON object of fact values "
                                                               "for every session.")] = None,
    format: Annotated[str, typer.Option("--format", help="json (default) or table.")] = "json",
) -> None:
    """Check every tool call of recorded sessions against the specs."""
    from guardgraph.guardrails import Guard, GuardError, InMemoryStore
    from guardgraph.guardrails.guard import load_specs
    from guardgraph.guardrails.trace import (
        TraceError,
        TraceResult,
        TraceUserMessage,
        action_of,
        parse_trace_line,
        session_of,
    )
    from guardgraph.specs import render_human

    if format not in ("json", "table"):
        _error(f"--format must be json or table, got {format!r}")
        raise typer.Exit(EXIT_BAD_INPUT)
    loaded = load_specs(*spec)
    if loaded.spec is None:
        color = "NO_COLOR" not in os.environ and sys.stderr.isatty()
        sys.stderr.write(render_human(loaded.errors, loaded.sources, color=color) + "\n")
        _error("the spec did not load; no call was checked")
        raise typer.Exit(EXIT_BAD_INPUT)
    fact_values: dict[str, Any] = {}
    if facts is not None:
        try:
            fact_values = json.loads(facts.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            _error(f"GG411: {facts}: cannot read facts: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if not isinstance(fact_values, dict):
            _error(f"GG411: {facts}: expected a JSON object of fact values")
            raise typer.Exit(EXIT_BAD_INPUT)
    store = InMemoryStore()
    try:
        guard = Guard(loaded.spec, diagnostics=loaded.diagnostics, facts=fact_values, store=store)
    except GuardError as exc:
        _error(f"GG411: {facts}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out = sys.stdout
    if format == "table":
        out.write(f"{'SESSION':<12} {'CALL':<8} {'TOOL':<18} {'DECISION':<9} {'RULES':<24} "
                  "MESSAGE\n")
    try:
        for number, text in _lines(trace):
            try:
                line = parse_trace_line(text)
            except TraceError as exc:
                out.flush()
                _error(f"GG410: {trace}:{number}: malformed trace line: {exc}",
                       "each line is one session: {\"session\": ..., \"events\": [...]}")
                raise typer.Exit(EXIT_BAD_INPUT) from None
            sid = line.session
            for event in line.events:
                if isinstance(event, TraceUserMessage):
                    guard.user_message(sid, event.content)
                    continue
                if isinstance(event, TraceResult):
                    guard.record_result(sid, event.call_id, event.output, trusted=event.trusted)
                    continue
                action = action_of(event)
                session = session_of(line, event)
                tool = action.tool
                verdict = guard.check_and_commit(action, session)
                row = verdict.to_json(session=sid, call_id=event.id, tool=tool)
                if format == "json":
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    out.write(f"{_cell(sid, 12):<12} {_cell(event.id, 8):<8} "
                              f"{_cell(tool, 18):<18} {row['decision']!s:<9} "
                              f"{_cell(','.join(verdict.rules) or '-', 24):<24} "
                              f"{verdict.message}\n")
            store.drop(sid)  # one session per line: its state is not needed again
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other Unix tools do; point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:
        _error(f"{trace}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except UnicodeDecodeError as exc:
        _error(f"GG410: {trace}: not UTF-8 ({exc.reason})")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        guard.close()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("check-trace", epilog=(
        "Prints one JSON verdict per tool call: session, call_id, tool, decision "
        "(allow|deny|escalate|repair), rules, message, repair. A call that is not allowed "
        "is not executed for the rest of its session. Exit codes: 0 the trace was checked "
        "(whatever the verdicts); 2 a spec that does not load, a bad facts file (GG411) or "
        "a malformed trace line (GG410, with its line number); 70 internal error."))(check_trace)
