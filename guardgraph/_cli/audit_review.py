"""CLI verbs `guardgraph audit query|trace|report|generate`: review and sample audit logs.

Thin layers over ``guardgraph.audit``: stdout carries data (a table, JSON Lines, a tree, a
report), stderr carries messages; exit 0 on success, 1 when the log does not verify (report),
2 on bad input (unknown record, bad time, missing database).
"""

import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from guardgraph._cli._audit_store import opened_store
from guardgraph._cli._console import fail_now
from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:  # the audit log and rich are imported when a verb runs, not at start-up
    from rich.console import Console
    from rich.tree import Tree

    from guardgraph import audit

__all__ = ["register"]


class QueryFormat(StrEnum):
    TABLE = "table"
    JSONL = "jsonl"


class TraceFormat(StrEnum):
    TREE = "tree"
    JSON = "json"


class ReportFormat(StrEnum):
    HTML = "html"
    MD = "md"
    JSON = "json"


DbArg = Annotated[str, typer.Argument(help="Audit store: a SQLite path, sqlite:///PATH or "
                                           "postgresql://...", metavar="DB")]




def _store(target: str, *, must_exist: bool = True) -> "AbstractContextManager[audit.AuditStore]":
    checked = must_exist and "://" not in target and target != "memory:"
    return opened_store(
        target, file=Path(target.removeprefix("sqlite:///")) if checked else None,
        hint="create one with `guardgraph audit generate DB --sessions 100`")


def _stdout() -> "Console":
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    # Piped into a file or a pager: do not squeeze rows into rich's default 80 columns.
    return Console(highlight=False, width=160)


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from guardgraph import audit

    try:
        return audit.parse_timestamp(value)
    except ValueError as exc:
        fail_now(f"{option}: {exc}")


def _guarded(fn: Callable[[], None]) -> None:
    # Infrastructure and input errors become one clear line; never a traceback.
    try:
        fn()
    except GuardgraphError as exc:
        fail_now(str(exc))
    except BrokenPipeError:  # `... | head` closed stdout: not an error of ours
        sys.stderr.close()


def register(audit_app: typer.Typer) -> None:
    """Add the review commands to the `audit` group."""
    audit_app.command("query")(query)
    audit_app.command("trace")(trace)
    audit_app.command("report")(report)
    audit_app.command("generate")(generate)


def query(
    db: DbArg,
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only records by this actor/agent.")] = None,
    tool: Annotated[str | None, typer.Option(help="Only records about this tool.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only records naming this rule.")] = None,
    decision: Annotated[str | None, typer.Option(
        help="Only verdicts with this decision: allow, deny, escalate, repair.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this record kind (e.g. verdict).")] = None,
    since: Annotated[str | None, typer.Option(help="From this RFC 3339 time (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this RFC 3339 time.")] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="At most this many records.")] = None,
    fmt: Annotated[QueryFormat, typer.Option("--format", help="table or jsonl.")] = (
        QueryFormat.TABLE),
) -> None:
    """Filter the audit log; print a table or JSON Lines (one record per line)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from guardgraph import audit

    event_kind = None
    if kind is not None:
        try:
            event_kind = audit.EventKind(kind)
        except ValueError:
            fail_now(f"unknown record kind {kind!r}",
                  hint="one of " + ", ".join(k.value for k in audit.EventKind))
    try:
        flt = audit.RecordFilter(session=session, agent=agent, tool=tool, rule=rule,
                                 decision=decision, kind=event_kind,
                                 since=_time(since, "--since"), until=_time(until, "--until"),
                                 limit=limit)
    except GuardgraphError as exc:
        fail_now(str(exc))

    def run() -> None:
        with _store(db) as store:
            records = audit.query_records(store, flt)
            if fmt is QueryFormat.JSONL:
                out = sys.stdout
                for record in records:
                    out.write(json.dumps(audit.record_as_json(record), sort_keys=True) + "\n")
                return
            table = Table(show_lines=False, header_style="bold", box=None, pad_edge=False,
                          padding=(0, 1, 0, 0))
            for col in ("seq", "time", "session", "kind", "actor", "tool", "decision",
                        "rules", "id"):
                table.add_column(col, justify="right" if col == "seq" else "left",
                                 no_wrap=col != "rules", overflow="fold")
            count = 0
            for record in records:
                count += 1
                table.add_row(str(record.seq), record.timestamp[:19].replace("T", " "),
                              escape(record.session), record.kind.value, escape(record.actor),
                              escape(audit.record_tool(record) or ""), record.decision or "",
                              escape(", ".join(record.rule_ids)), record.id[:8])
            _stdout().print(table)
            Console(stderr=True, highlight=False).print(
                f"{count} record(s) matching {escape(flt.describe())}")

    _guarded(run)


def trace(
    db: DbArg,
    record_id: Annotated[str, typer.Argument(help="The outcome record's id.")],
    fmt: Annotated[TraceFormat, typer.Option("--format", help="tree or json.")] = (
        TraceFormat.TREE),
    max_depth: Annotated[int, typer.Option(min=1, help="Stop after this many levels.")] = 64,
) -> None:
    """Show the provenance tree of a record: what led to it, back to the task."""
    from guardgraph import audit

    def run() -> None:
        with _store(db) as store:
            root = audit.trace_provenance(store.get, _resolve(store, record_id),
                                          max_depth=max_depth)
        if fmt is TraceFormat.JSON:
            sys.stdout.write(json.dumps(audit.provenance_json(root), indent=2) + "\n")
            return
        _stdout().print(_rich_tree(root))

    _guarded(run)


def _resolve(store: "audit.AuditStore", ref: str) -> str:
    """A record named by its id, its sequence number, or a unique prefix of its id (the
    8 characters `audit query` shows)."""
    from guardgraph import audit

    if store.get(ref) is not None:
        return ref
    if ref.isdigit():
        for record in store.iter_records(start=int(ref), stop=int(ref) + 1):
            return record.id
    if len(ref) >= 4:
        found = [r.id for r in store.iter_records() if r.id.startswith(ref)]
        if len(found) > 1:
            raise audit.AuditError(f"id prefix {ref!r} is ambiguous: {len(found)} records")
        if found:
            return found[0]
    return ref  # trace_provenance names the missing record


def _rich_tree(root: "audit.ProvenanceNode") -> "Tree":
    from rich.markup import escape
    from rich.tree import Tree

    from guardgraph import audit

    def label(node: audit.ProvenanceNode) -> str:
        text = escape(audit.node_label(node))
        record = node.record
        if record is not None and record.decision in ("deny", "escalate", "repair"):
            text = f"[bold red]{text}[/]"
        elif record is not None and record.payload.get("trusted") is False:
            text = f"[bold yellow]{text}[/]"
        if node.repeat:
            text += " [dim](shown above)[/]"
        if node.truncated:
            text += " [dim](deeper history not shown)[/]"
        when = record.timestamp[11:19] if record is not None else ""
        return f"{text}  [dim]{when} {escape(node.record_id[:8])}[/]"

    tree = Tree(label(root))
    stack = [(tree, p) for p in reversed(root.parents)]
    while stack:
        parent, node = stack.pop()
        branch = parent.add(label(node))
        stack.extend((branch, p) for p in reversed(node.parents))
    return tree


def report(
    db: DbArg,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write here (default: stdout).", dir_okay=False)] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, md or json.")] = (
        ReportFormat.HTML),
    public_key: Annotated[list[Path] | None, typer.Option(
        "--public-key", help="Verifier key(s) for the signed checkpoints.")] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify", help="Skip chain and proof verification.")] = False,
    max_violations: Annotated[int | None, typer.Option(
        min=0, help="List at most this many violations in full (default: all).")] = None,
    title: Annotated[str, typer.Option(help="Report title.")] = "guardgraph audit report",
) -> None:
    """Render a self-contained compliance report (HTML, Markdown or JSON)."""
    from rich.console import Console
    from rich.markup import escape

    from guardgraph import audit

    def run() -> None:
        with _store(db) as store:
            verification = (audit.Verification(status=audit.VerificationStatus.NOT_CHECKED,
                                               detail="skipped (--no-verify)")
                            if no_verify else audit.verification_of(
                                store, public_keys=_verifiers(db, public_key or [])))
            data = audit.build_report(store.iter_records(), lookup=store.get,
                                      verification=verification,
                                      generated_at=datetime.now(UTC), title=title,
                                      source=db, max_violations=max_violations)
        if out is None:
            _write_report(data, fmt, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                _write_report(data, fmt, stream)
            Console(stderr=True, highlight=False).print(
                f"wrote {escape(str(out))}: {data.records:,} records, "
                f"{data.violations_total:,} violations, verification {verification.status}")
        if verification.status is audit.VerificationStatus.FAILED:
            fail_now(f"the log does not verify: {verification.detail}",
                  hint="the report's Integrity section names the first bad record", code=1)

    _guarded(run)


def _write_report(data: "audit.ReportData", fmt: ReportFormat, stream: TextIO) -> None:
    from guardgraph import audit

    if fmt is ReportFormat.HTML:
        audit.write_html(data, stream)
    elif fmt is ReportFormat.MD:
        stream.write(audit.render_markdown(data))
    else:
        json.dump(audit.report_as_json(data), stream, indent=2)
        stream.write("\n")


def _verifiers(db: str, paths: list[Path]) -> "list[audit.Verifier] | None":
    from guardgraph import audit
    from guardgraph.audit.log import key_paths

    # Without --public-key, a file log's own `<db>.pub` (written beside it) is used, as
    # `audit verify` does; with neither, signatures go unchecked and the report says so.
    if not paths and "://" not in db.replace("sqlite:///", "") and db != "memory:":
        beside = key_paths(db)[1]
        paths = [beside] if beside.is_file() else []
    return [audit.load_verifier(str(p)) for p in paths] or None


def generate(
    db: DbArg,
    sessions: Annotated[int, typer.Option(min=0, help="How many sessions.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same log.")] = 0,
    attack_rate: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of sessions that carry an attack.")] = 0.2,
    spec_change_every: Annotated[int, typer.Option(
        min=0, help="Bump the spec version every N sessions (0: never).")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Records per append.")] = 2000,
) -> None:
    """Write a seeded, realistic log of agent sessions (for demos, tests, benchmarks)."""
    from rich.console import Console
    from rich.markup import escape

    from guardgraph import audit

    def run() -> None:
        events = audit.generate_sessions(sessions, seed=seed, attack_rate=attack_rate,
                                         spec_change_every=spec_change_every)
        # Through the AuditLog, so the generated log is signed and checkpointed like a real
        # one and `audit verify` / `audit report` check it end to end.
        log = audit.open_log(db)
        try:
            written = audit.write_events(log, events, batch=batch)
            size = log.store.size()
        finally:
            log.close()
        Console(stderr=True, highlight=False).print(
            f"wrote {written:,} records ({sessions:,} sessions, seed {seed}) to "
            f"{escape(db)}; the log now holds {size:,}")

    _guarded(run)
