"""CLI verbs `guardgraph audit query|trace|report|generate`: review and sample audit logs.

Thin layers over ``guardgraph.audit``: stdout carries data (a table, JSON Lines, a tree, a
report), stderr carries messages (one JSON object each under a JSON format); exit 0 on
success, 1 when the log does not verify (report), 2 on bad input (unknown record, bad
time, bad decision, a missing file or one that is not an audit log). The reading verbs
open the store read-only and never write into it.
"""

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guardgraph._cli._console import console, fail_now, printable, terminal_width
from guardgraph._cli.audit import is_file_db, read_store
from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:  # the audit log and rich are imported when a verb runs, not at start-up
    from rich.console import Console
    from rich.tree import Tree

    from guardgraph import audit

__all__ = ["register"]

_HINT = "create one with `guardgraph audit generate DB --sessions 100`"


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


def _stdout() -> "Console":
    # On a terminal (or with $COLUMNS) its width; piped into a file or a pager, wide
    # enough that rows are never squeezed.
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return console(width=terminal_width())
    return console(width=160)


def _guarded(fn: Callable[[], None], *, as_json: bool = False) -> None:
    # Infrastructure and input errors become one clear line (or JSON object); never a
    # traceback.
    try:
        fn()
    except GuardgraphError as exc:
        fail_now(str(exc), as_json=as_json)
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
        help="Only verdicts with this decision: allow, deny, escalate or repair.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this record kind (e.g. verdict).")] = None,
    since: Annotated[str | None, typer.Option(help="From this RFC 3339 time (inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this RFC 3339 time.")] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="At most this many records.")] = None,
    fmt: Annotated[QueryFormat, typer.Option("--format", help="table or jsonl.")] = (
        QueryFormat.TABLE),
) -> None:
    """Filter the audit log; print a table or JSON Lines (one record per line)."""
    from guardgraph import audit

    as_json = fmt is QueryFormat.JSONL
    try:
        flt = audit.RecordFilter(session=session, agent=agent, tool=tool, rule=rule,
                                 decision=decision, kind=kind,  # type: ignore[arg-type]
                                 since=since, until=until,  # type: ignore[arg-type]
                                 limit=limit)
    except GuardgraphError as exc:
        fail_now(str(exc), as_json=as_json)

    def run() -> None:
        with read_store(db, hint=_HINT, as_json=as_json) as store:
            records = audit.query_records(store, flt)
            if as_json:
                out = sys.stdout
                for record in records:
                    out.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
                return
            rows = list(records)
            shown = audit.short_ids(store, [r.id for r in rows])
        _print_table(rows, shown)
        console(stderr=True).print(f"{len(rows)} record(s) matching {flt.describe()}",
                                   markup=False)

    _guarded(run, as_json=as_json)


def _print_table(rows: "list[audit.AuditRecord]", shown: dict[str, str]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = _stdout()
    narrow = out.width < 120
    one_day = len({r.timestamp[:10] for r in rows}) <= 1
    table = Table(show_lines=False, header_style="bold", box=None, pad_edge=False,
                  padding=(0, 1, 0, 0))
    # At 80 columns the actor (the guard, for every verdict) gives way to the rest, and a
    # one-day log shows times only; no cell ever wraps onto a second line.
    columns = ["seq", "time", "session", "kind", *(() if narrow else ("actor",)), "tool",
               "decision", "rules", "id"]
    body = []
    for r in rows:
        when = r.timestamp[11:19] if (narrow and one_day) else r.timestamp[:19].replace("T", " ")
        body.append([str(r.seq), when, printable(r.session, newlines=False), r.kind.value,
                     *(() if narrow else (printable(r.actor, newlines=False),)),
                     printable(r.tool or "", newlines=False), r.decision or "",
                     printable(",".join(r.rule_ids), newlines=False), shown[r.id]])
    widths = [max([len(col), *(len(row[i]) for row in body)]) for i, col in enumerate(columns)]
    for col, width in zip(columns, widths, strict=True):
        # Short fixed columns keep their width; session, actor, tool and rules give way.
        fixed = col in ("seq", "time", "kind", "decision", "id")
        table.add_column(col, justify="right" if col == "seq" else "left", no_wrap=True,
                         overflow="ellipsis", min_width=width if fixed else min(width, 8))
    for cells in body:
        table.add_row(*(Text(c) for c in cells))  # Text: a "[" in a value is not markup
    out.print(table)


def trace(
    db: DbArg,
    record_id: Annotated[str, typer.Argument(
        help="The outcome record: its id, a unique id prefix or its sequence number.",
        metavar="RECORD")],
    fmt: Annotated[TraceFormat, typer.Option("--format", help="tree or json.")] = (
        TraceFormat.TREE),
    max_depth: Annotated[int, typer.Option(min=1, help="Stop after this many levels.")] = 64,
) -> None:
    """Show the provenance tree of a record: what led to it, back to the task."""
    from guardgraph import audit

    as_json = fmt is TraceFormat.JSON

    def run() -> None:
        with read_store(db, hint=_HINT, as_json=as_json) as store:
            root = audit.trace_provenance(store.get, audit.resolve_id(store, record_id),
                                          max_depth=max_depth)
            shown = audit.short_ids(store, [n.record_id for n in root.walk()
                                            if n.record is not None])
        if as_json:
            sys.stdout.write(json.dumps(root.to_json(), indent=2) + "\n")
            return
        _stdout().print(_rich_tree(root, shown), soft_wrap=False)  # a deep tree wraps

    _guarded(run, as_json=as_json)


def _rich_tree(root: "audit.ProvenanceNode", shown: dict[str, str]) -> "Tree":
    from rich.markup import escape
    from rich.tree import Tree

    def label(node: "audit.ProvenanceNode") -> str:
        text = escape(printable(node.label(), newlines=False))
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
        rid = shown.get(node.record_id, node.record_id)
        return f"{text}  [dim]{when} {escape(rid)}[/]"

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
        "--public-key", help="Verifier key(s) for the signed checkpoints (default: DB.pub "
        "beside a SQLite log).")] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify", help="Skip chain and proof verification.")] = False,
    max_violations: Annotated[int | None, typer.Option(
        min=0, help="List at most this many violations in full (default: all).")] = None,
    title: Annotated[str, typer.Option(help="Report title.")] = "guardgraph audit report",
) -> None:
    """Render a self-contained compliance report (HTML, Markdown or JSON)."""
    from guardgraph import audit

    as_json = fmt is ReportFormat.JSON

    def run() -> None:
        with read_store(db, hint=_HINT, as_json=as_json) as store:
            verification = (audit.Verification.skipped("skipped (--no-verify)")
                            if no_verify else audit.verification_of(
                                store, public_keys=_verifiers(db, public_key or [])))
            data = audit.build_report(store.iter_records(), lookup=store.get,
                                      verification=verification,
                                      generated_at=datetime.now(UTC), title=title,
                                      source=db, max_violations=max_violations)
        if out is None:
            audit.render_report(data, fmt.value, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                audit.render_report(data, fmt.value, stream)
            console(stderr=True).print(
                f"wrote {out}: {data.records:,} records, {data.violations_total:,} "
                f"violations, verification {verification.status}", markup=False)
        if verification.failed:
            fail_now(f"the log does not verify: {verification.detail}",
                     hint="the report's Integrity section names the first bad record", code=1,
                     as_json=as_json)

    _guarded(run, as_json=as_json)


def _verifiers(db: str, paths: list[Path]) -> "list[audit.Verifier] | None":
    from guardgraph import audit

    # Without --public-key, a file log's own `<db>.pub` (written beside it) is used, as
    # `audit verify` does; with neither, signatures go unchecked and the report says so.
    if not paths and is_file_db(db):
        beside = audit.log_files(db).public_key
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
        console(stderr=True).print(
            f"wrote {written:,} records ({sessions:,} sessions, seed {seed}) to "
            f"{db}; the log now holds {size:,}", markup=False)

    _guarded(run)
