"""`guardgraph demo`: the main job on embedded defaults, end to end, offline.

For each bundled example domain it lints the spec with Z3, replays the example traces
through the runtime guard, writes every proposal, verdict, execution and tool result to
a signed SQLite audit log (with provenance links), and verifies that log. No network, no
API key, no server.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class _Domain:
    name: str
    spec: Path
    traces: tuple[Path, ...]


def _examples_dir() -> Path | None:
    # An editable or source install keeps examples/ beside the package.
    candidate = Path(__file__).resolve().parents[2] / "examples"
    return candidate if candidate.is_dir() else None


def _domains(root: Path) -> list[_Domain]:
    domains = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        spec = folder / f"{folder.name}.spec"
        if spec.is_file():
            domains.append(_Domain(name=folder.name, spec=spec,
                                   traces=tuple(sorted(folder.glob("*.jsonl")))))
    return domains


def _error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def demo(
    examples: Annotated[Path | None, typer.Option(
        "--examples", help="Folder of example domains (default: the bundled examples/).")] = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Where the audit log is written.")] = Path("guardgraph-demo"),
) -> None:
    """Lint the example specs, replay their traces through the guard, audit and verify."""
    from guardgraph.audit import open_log
    from guardgraph.guardrails.lint import lint
    from guardgraph.specs import load_file, render_human

    root = examples or _examples_dir()
    if root is None or not root.is_dir():
        _error("no examples folder found", "pass --examples DIR (e.g. the repository's examples/)")
        raise typer.Exit(EXIT_BAD_INPUT)
    domains = _domains(root)
    if not domains:
        _error(f"{root}: no example domains (expected DIR/NAME/NAME.spec)")
        raise typer.Exit(EXIT_BAD_INPUT)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "audit.db"
    for stale in out.glob("audit.db*"):
        stale.unlink()
    color = "NO_COLOR" not in os.environ and sys.stderr.isatty()
    failed = False
    write = sys.stdout.write
    with open_log(db) as log:
        for domain in domains:
            loaded = load_file(domain.spec)
            if loaded.spec is None:
                rendered = render_human(loaded.diagnostics, loaded.sources, color=color)
                sys.stderr.write(rendered + "\n")
                failed = True
                continue
            spec = loaded.spec
            findings = lint(spec)
            write(f"== {domain.name}: spec {spec.name} version {spec.version}, "
                  f"{len(spec.tools)} tools, {len(spec.rules)} rules, "
                  f"{len(loaded.sources)} file(s)\n")
            if findings:
                sys.stderr.write(render_human(findings, loaded.sources, color=color) + "\n")
                failed = failed or any(d.level == "error" for d in findings)
            else:
                write("lint: clean (Z3 found no dead, blocking, redundant or overlapping rule)\n")
            for trace in domain.traces:
                write(f"-- guard: {trace.parent.name}/{trace.name}\n")
                counts = _replay(trace, domain.spec, log, spec)
                write("   " + ", ".join(f"{n} {d}" for d, n in sorted(counts.items())) + "\n")
        log.checkpoint()
        report = log.verify()
    write(f"== audit: {report.records} records in {db}; chain, Merkle tree and "
          f"{report.checkpoints} signed checkpoint(s) verified\n")
    write(f"   root {report.root_hash}\n")
    write(f"next: guardgraph audit report {db} --out report.html\n")
    if failed:
        raise typer.Exit(EXIT_FINDINGS)


def _replay(trace: Path, spec_path: Path, log: Any, spec: Any) -> dict[str, int]:
    """Replay one trace file through a fresh guard, auditing each step; print verdicts."""
    from guardgraph.audit import Event, EventKind
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

    guard = Guard.from_files(spec_path)
    counts: dict[str, int] = {}
    spec_fields = {"spec_name": spec.name, "spec_version": spec.version,
                   "spec_hash": spec.content_hash}
    try:
        with trace.open(encoding="utf-8") as stream:
            for number, text in enumerate(stream, start=1):
                if not text.strip():
                    continue
                try:
                    line = parse_trace_line(text)
                except TraceError as exc:
                    _error(f"GG410: {trace}:{number}: malformed trace line: {exc}")
                    raise typer.Exit(EXIT_BAD_INPUT) from None
                sid, ctx = line.session, line.context
                last_user: str | None = None
                executed: dict[str, str] = {}
                for event in line.events:
                    if isinstance(event, TraceUserMessage):
                        guard.user_message(sid, event.content)
                        last_user = log.record(Event(
                            kind=EventKind.TASK_RECEIVED, session=sid, actor=f"user:{ctx.user}",
                            payload={"text": event.content})).id
                        continue
                    if isinstance(event, TraceResult):
                        guard.record_result(sid, event.call_id, event.output,
                                            trusted=event.trusted)
                        log.record(Event(
                            kind=EventKind.TOOL_RESULT, session=sid, actor="tool",
                            payload={"call_id": event.call_id, "output": event.output,
                                     "trusted": event.trusted},
                            provenance=tuple(x for x in [executed.get(event.call_id)] if x)))
                        continue
                    action = action_of(event)
                    session = session_of(line, event)
                    tool = action.tool
                    args = ({"target": event.target} if isinstance(event, TraceRoute)
                            else dict(event.args))
                    proposal = log.record(Event(
                        kind=EventKind.ACTION_PROPOSED, session=sid, actor=event.agent,
                        payload={"tool": tool, "call_id": event.id, "args": args},
                        provenance=tuple(x for x in [last_user] if x)))
                    verdict = guard.check_and_commit(action, session)
                    row = verdict.to_json(session=sid, call_id=event.id, tool=tool)
                    decided = log.record(Event(
                        kind=EventKind.VERDICT, session=sid, actor="guard",
                        payload={"tool": tool, "call_id": event.id, "message": verdict.message,
                                 "repair": row["repair"], "args": args},
                        decision=str(verdict.decision), rule_ids=tuple(verdict.rules),
                        provenance=(proposal.id,), **spec_fields))
                    fixed = row["repair"] if isinstance(row["repair"], dict) else {}
                    if str(verdict.decision) in ("allow", "repair"):
                        executed[event.id] = log.record(Event(
                            kind=EventKind.ACTION_EXECUTED, session=sid, actor=event.agent,
                            payload={"tool": tool, "call_id": event.id,
                                     "args": {**args, **fixed}},
                            provenance=(decided.id,))).id
                    counts[str(verdict.decision)] = counts.get(str(verdict.decision), 0) + 1
                    rules = ",".join(verdict.rules) or "-"
                    sys.stdout.write(f"   {sid:<18} {event.id:<4} {tool:<16} "
                                     f"{verdict.decision!s:<9} {rules}\n")
                    if row["repair"]:
                        sys.stdout.write(f"   {'':<18} {'':<4} {'':<16} repaired to "
                                         f"{json.dumps(row['repair'])}\n")
    finally:
        guard.close()
    return counts


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("demo")(demo)
