"""The demo's second part: lint the bundled example specs and replay their recorded traces
through the runtime guard, auditing every step through the orchestrator's record
functions (the same ones a running graph uses)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TraceDomain", "replay_examples", "trace_domains"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceDomain:
    name: str
    spec: Path
    traces: tuple[Path, ...]


def trace_domains(root: Path) -> list[TraceDomain]:
    """Example folders that carry recorded traces (NAME/NAME.spec and *.jsonl)."""
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        spec = folder / f"{folder.name}.spec"
        traces = tuple(sorted(folder.glob("*.jsonl")))
        if spec.is_file() and traces:
            found.append(TraceDomain(name=folder.name, spec=spec, traces=traces))
    return found


def replay_examples(domains: list[TraceDomain], log: Any, *, color: bool) -> bool:
    """Lint and replay each domain; print verdicts; False when a spec had lint errors."""
    from guardgraph.guardrails.lint import lint
    from guardgraph.specs import load_file, render_human

    ok = True
    write = sys.stdout.write
    for domain in domains:
        loaded = load_file(domain.spec)
        if loaded.spec is None:
            sys.stderr.write(render_human(loaded.diagnostics, loaded.sources, color=color) + "\n")
            ok = False
            continue
        spec = loaded.spec
        findings = lint(spec)
        write(f"== {domain.name}: spec {spec.name} version {spec.version}, "
              f"{len(spec.tools)} tools, {len(spec.rules)} rules, "
              f"{len(loaded.sources)} file(s)\n")
        if findings:
            sys.stderr.write(render_human(findings, loaded.sources, color=color) + "\n")
            ok = ok and not any(d.level == "error" for d in findings)
        else:
            write("lint: clean (Z3 found no dead, blocking, redundant or overlapping rule)\n")
        for trace in domain.traces:
            write(f"-- guard: {trace.parent.name}/{trace.name}\n")
            counts = _replay(trace, domain.spec, log)
            write("   " + ", ".join(f"{n} {d}" for d, n in sorted(counts.items())) + "\n")
    return ok


def _replay(trace: Path, spec_path: Path, log: Any) -> dict[str, int]:
    """Replay one trace file through a fresh guard, auditing each step; print verdicts."""
    import typer

    from guardgraph._cli._console import fail
    from guardgraph.guardrails import Guard
    from guardgraph.guardrails.trace import (
        TraceError,
        TraceResult,
        TraceRoute,
        TraceUserMessage,
        action_of,
        parse_trace_line,
        session_of,
    )
    from guardgraph.orchestrator import (
        record_execution,
        record_proposal,
        record_result,
        record_user_message,
        record_verdict,
    )

    guard = Guard.from_files(spec_path)
    counts: dict[str, int] = {}
    try:
        with trace.open(encoding="utf-8") as stream:
            for number, text in enumerate(stream, start=1):
                if not text.strip():
                    continue
                try:
                    line = parse_trace_line(text)
                except TraceError as exc:
                    raise fail(f"GG410: {trace}:{number}: malformed trace line: {exc}") \
                        from None
                sid = line.session
                last: str | None = None
                executed: dict[str, str | None] = {}
                for index, event in enumerate(line.events):
                    if isinstance(event, TraceUserMessage):
                        guard.user_message(sid, event.content)
                        last = record_user_message(log, session=sid, user=line.context.user,
                                                   text=event.content, message_id=f"m{index}")
                        continue
                    if isinstance(event, TraceResult):
                        guard.record_result(sid, event.call_id, event.output,
                                            trusted=event.trusted)
                        record_result(log, session=sid, agent="tool", tool="",
                                      call_id=event.call_id, output=event.output,
                                      trusted=event.trusted is not False,
                                      after=(executed.get(event.call_id),))
                        continue
                    tool = "route" if isinstance(event, TraceRoute) else event.tool
                    args = ({"target": event.target} if isinstance(event, TraceRoute)
                            else dict(event.args))
                    proposal = record_proposal(log, session=sid, agent=event.agent, tool=tool,
                                               call_id=event.id, args=args, after=(last,))
                    verdict = guard.check_and_commit(action_of(event), session_of(line, event))
                    decided = record_verdict(log, verdict, session=sid, agent=event.agent,
                                             tool=tool, call_id=event.id, after=(proposal,))
                    if verdict.executable and verdict.subject is not None:
                        executed[event.id] = record_execution(log, verdict, session=sid,
                                                              agent=event.agent,
                                                              after=(decided,))
                    _print_row(sid, event.id, tool, verdict, counts)
    except typer.Exit:
        raise
    finally:
        guard.close()
    return counts


def _print_row(sid: str, call_id: str, tool: str, verdict: Any, counts: dict[str, int]) -> None:
    from guardgraph.guardrails.verdict import json_value

    decision = str(verdict.decision)
    counts[decision] = counts.get(decision, 0) + 1
    rules = ",".join(verdict.rules) or "-"
    sys.stdout.write(f"   {sid:<18} {call_id:<4} {tool:<16} {decision:<9} {rules}\n")
    if verdict.repair:
        sys.stdout.write(f"   {'':<18} {'':<4} {'':<16} repaired to "
                         f"{json.dumps(json_value(verdict.repair))}\n")
