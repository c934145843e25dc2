"""`guardgraph demo`: the main job on embedded defaults, end to end, offline.

Part 1 runs a bank's customer operations (the bank domain: payments, support and research
specialists behind a router; web pages, emails, files and invoices that carry injected
instructions) as a guarded LangGraph graph: every task is a thread of the real LangGraph
runtime with SQLite checkpoints, every routing decision and tool call is checked by the
guard, escalations are interrupts answered from an approvals policy (or at the terminal
with ``--interactive``), every step is in a signed SQLite audit log. Part 2 lints the
example specs and replays their recorded traces through the guard. No network, no API
key, no server.
Exit codes: 0 done, 1 an attack got through or a spec has lint errors, 2 bad input.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from guardgraph._cli._console import console, fail, warn

if TYPE_CHECKING:
    from guardgraph._cli._demo_bank import CallRow, TaskRow

__all__ = ["register"]

EXIT_FINDINGS = 1
_WIDTH = 80  # the tables are laid out for 80 columns, whatever the terminal


def _examples_dir() -> Path | None:
    # An editable or source install keeps examples/ beside the package.
    candidate = Path(__file__).resolve().parents[2] / "examples"
    return candidate if candidate.is_dir() else None


def demo(
    examples: Annotated[Path | None, typer.Option(
        "--examples", help="Folder of example domains (default: the bundled examples/).")] = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Where the audit log and the checkpoints are written.")]
    = Path("guardgraph-demo"),
    approvals: Annotated[Path | None, typer.Option(
        "--approvals", help="Approvals policy (JSON) that answers escalations "
                            "(default: the built-in one).")] = None,
    interactive: Annotated[bool, typer.Option(
        "--interactive", help="Answer escalations at the terminal.")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Run only the first N bank tasks.")] = None,
) -> None:
    """Run a bank's agents as a guarded LangGraph graph, then replay the example traces."""
    from guardgraph._cli._demo_approvals import BUILT_IN, ask_terminal, load_policy_file
    from guardgraph._cli._demo_bank import run_bank
    from guardgraph._cli._demo_replay import replay_examples, trace_domains
    from guardgraph.audit import open_log

    root = examples or _examples_dir()
    if root is None or not root.is_dir():
        raise fail("no examples folder found",
                   "pass --examples DIR (e.g. the repository's examples/)")
    try:
        policy = load_policy_file(approvals) if approvals is not None else BUILT_IN
    except ValueError as exc:
        raise fail(str(exc), "see `guardgraph demo --help`") from None
    err = console(stderr=True)
    answer = policy.answer
    if interactive:
        if sys.stdin.isatty():
            def answer(request: Any) -> dict[str, Any]:
                return ask_terminal(request, err)
        else:
            warn("--interactive needs a terminal; escalations are answered by the "
                 f"approvals policy of {policy.approver}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("audit.db*"), *out.glob("graph.db*")]:
        stale.unlink()
    db = out / "audit.db"
    write = sys.stdout.write
    with open_log(db) as log:
        from guardgraph.domains import load_domain

        domain = load_domain("bank")
        tasks = list(domain.tasks("train", attacks=True))[:limit]
        write(f"== bank: {len(tasks)} tasks through LangGraph: router -> "
              f"{', '.join(domain.specialists)}\n")
        task_rows, call_rows = run_bank(out=out, log=log, tasks=tasks, answer=answer,
                                        progress=_progress(err))
        _render(task_rows, call_rows)
        attacks = [r for r in task_rows if r.attack]
        stopped = sum(not r.compromised for r in attacks)
        naive = sum(r.unguarded_compromised for r in attacks)
        write(f"attacks: {stopped} of {len(attacks)} stopped; without the guard, "
              f"{naive} succeed\n")
        ok = replay_examples(trace_domains(root), log, color=False)
        log.checkpoint()
        report = log.verify()
    write(f"== audit: {report.records} records in {db}; chain, Merkle tree and "
          f"{report.checkpoints} signed checkpoint(s) verified\n")
    write(f"next: guardgraph audit verify {db}\n")
    write(f"      guardgraph audit report {db} --out {out / 'report.html'}\n")
    if not ok or stopped < len(attacks):
        raise typer.Exit(EXIT_FINDINGS)


def _progress(err: Any) -> Any:
    """A progress line on a terminal's stderr; nothing when stderr is a file or a pipe."""
    live = err.is_terminal

    def show(i: int, n: int, task: str) -> None:
        if live:
            end = "\n" if i == n else "\r"
            sys.stderr.write(f"\r[{i}/{n}] {task:<48.48}{end}")
            sys.stderr.flush()
    return show


def _render(task_rows: list[TaskRow], call_rows: list[CallRow]) -> None:
    from rich import box
    from rich.table import Table

    out = console(width=_WIDTH)
    by_family: dict[tuple[str, str, bool], list[TaskRow]] = {}
    for row in task_rows:
        family = row.task.split("-")[0]
        by_family.setdefault((family, row.specialist, bool(row.attack)), []).append(row)
    table = Table(title="per task family (* with injected instructions)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1),
                  collapse_padding=True)
    for col, justify in (("family", "left"), ("agent", "left"), ("n", "right"),
                         ("allow", "right"), ("deny", "right"), ("esc+", "right"),
                         ("esc-", "right"), ("rep", "right"), ("done", "right"),
                         ("hit", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    totals: Counter[str] = Counter()
    for (family, agent, attacked), rows in by_family.items():
        counts: Counter[str] = Counter()
        for r in rows:
            counts.update(r.counts)
        totals.update(counts)
        table.add_row(family + ("*" if attacked else ""), agent, str(len(rows)),
                      str(counts["allow"]), str(counts["deny"]),
                      str(counts["escalate->approved"]), str(counts["escalate->rejected"]),
                      str(counts["repair"]), str(sum(r.success for r in rows)),
                      str(sum(r.compromised for r in rows)) if attacked else "-")
    out.print(table)
    why = Table(title="why (esc+: escalated and approved; esc-: escalated and rejected)",
                title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                padding=(0, 1), collapse_padding=True)
    why.add_column("calls", justify="right", no_wrap=True)
    why.add_column("tool", no_wrap=True)
    why.add_column("decision", no_wrap=True)
    why.add_column("rules: reason", overflow="fold")
    seen: Counter[tuple[str, str, str]] = Counter()
    for c in call_rows:
        decision = {"escalate->approved": "esc+", "escalate->rejected": "esc-"}.get(
            c.decision, c.decision)
        reason = c.why.split(": ", 1)[-1] if c.why.split(": ", 1)[0] in c.rules else c.why
        seen[(c.tool, decision, f"{', '.join(c.rules) or '-'}: {reason}")] += 1
    for (tool, decision, reason), n in seen.items():
        why.add_row(str(n), tool, decision, reason)
    out.print(why)
    sys.stdout.write(
        f"calls: {totals['allow']} allowed, {totals['deny']} denied, "
        f"{totals['escalate->approved'] + totals['escalate->rejected']} escalated "
        f"({totals['escalate->approved']} approved, {totals['escalate->rejected']} "
        f"rejected), {totals['repair']} repaired\n")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("demo")(demo)
