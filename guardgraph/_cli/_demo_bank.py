"""The demo's first part: a bank's customer operations as a guarded LangGraph graph.

Payments, support and research specialists (the bank domain's scripted, naive ones: they
follow instructions they read in tool outputs) sit behind a router; each task of the batch
is one thread of the real LangGraph runtime, with SQLite checkpoints and store, every step
audited. Escalations are interrupts, answered from the approvals policy or at the terminal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CallRow", "TaskRow", "run_bank"]

Answerer = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRow:
    """One guarded call of a task, as the table shows it."""

    task: str
    call_id: str
    tool: str
    decision: str  # allow, deny, escalate->approved, escalate->rejected, repair
    rules: tuple[str, ...]
    why: str


@dataclass(slots=True, kw_only=True)
class TaskRow:
    task: str
    specialist: str
    attack: str | None
    success: bool
    compromised: bool
    unguarded_compromised: bool
    counts: dict[str, int] = field(default_factory=dict)


class _Holder:
    """The task being run: the tools act on its world, the desks ask its script."""

    __slots__ = ("script", "task", "world")

    def __init__(self) -> None:
        self.task: Any = None
        self.world: Any = None
        self.script: Any = None


def _tools(domain: Any, holder: _Holder) -> list[Any]:
    from langchain_core.tools import StructuredTool
    from pydantic import create_model

    from guardgraph.domains import ToolFailure

    def make(dt: Any) -> Any:
        fields: dict[str, Any] = {n: (t, ...) for n, t in dt.params}
        schema = create_model(f"{dt.name}_args", **fields)

        def run(**kwargs: Any) -> tuple[str, Any]:
            try:
                out = domain.execute(holder.world, dt.name, kwargs)
            except ToolFailure as exc:
                out = f"error: {exc}"
            return (out if isinstance(out, str) else repr(out)), out

        return StructuredTool.from_function(func=run, name=dt.name,
                                            description=dt.description or dt.name,
                                            args_schema=schema,
                                            response_format="content_and_artifact")
    return [make(dt) for dt in domain.tools.values()]


class _Desk:
    """A specialist desk: it proposes the current task's scripted calls when the task is
    its own (the domains' `Script` protocol, fed the history of this desk)."""

    def __init__(self, name: str, holder: _Holder) -> None:
        self.name = name
        self.holder = holder

    def propose(self, history: Sequence[Any]) -> Any:
        from guardgraph.domains import Call, Step

        if self.holder.task is None or self.holder.task.specialist != self.name:
            return None
        steps = tuple(Step(call=Call(tool=s.call.tool, args=s.call.args),
                           decision=s.decision, output=s.output) for s in history)
        return self.holder.script.propose(steps)


def run_bank(*, out: Path, log: Any, tasks: Sequence[Any] | None, answer: Answerer,
             progress: Callable[[int, int, str], None]) -> tuple[list[TaskRow], list[CallRow]]:
    """Run the bank tasks through the guarded graph; the rows of the two tables."""
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.sqlite import SqliteStore
    from langgraph.types import Command

    from guardgraph.domains import load_domain, play
    from guardgraph.guardrails import Guard
    from guardgraph.orchestrator import AgentGraph, pending_approvals, user_task

    domain = load_domain("bank")
    batch = list(tasks) if tasks is not None else list(domain.tasks("train", attacks=True))
    holder = _Holder()
    tools = {t.name: t for t in _tools(domain, holder)}
    guard = Guard(domain.policy(), facts=dict(domain.facts))
    builder = AgentGraph().router(lambda state: holder.task.specialist)
    for name, names in domain.specialists.items():
        builder.add_specialist(name, _Desk(name, holder), tools=[tools[n] for n in names])
    db = out / "graph.db"
    saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
    store = SqliteStore(sqlite3.connect(db, check_same_thread=False, isolation_level=None))
    store.setup()

    def session(thread: str, state: Any, config: Mapping[str, Any]) -> Any:
        return domain.session(holder.task, session_id=thread)

    graph = builder.compile(guard=guard, audit=log, checkpointer=saver, store=store,
                            session=session)
    task_rows: list[TaskRow] = []
    call_rows: list[CallRow] = []
    for i, task in enumerate(batch, start=1):
        progress(i, len(batch), task.id)
        holder.task, holder.world, holder.script = task, domain.new_world(task.seed), \
            domain.script(task)
        cfg: Any = {"configurable": {"thread_id": task.id}}
        result = graph.invoke(user_task(task.prompt, user=task.user,
                                        labels=sorted(task.labels), kind=task.family), cfg)
        answers: dict[str, dict[str, Any]] = {}
        while pending := pending_approvals(result):
            resume = {p.interrupt_id: answer(p.request) for p in pending}
            for p in pending:
                answers[str(p.request["call_id"])] = {**resume[p.interrupt_id],
                                                      "rules": tuple(p.request["rules"])}
            result = graph.invoke(Command(resume=resume), cfg)
        row = TaskRow(task=task.id, specialist=task.specialist, attack=task.attack,
                      success=task.success(holder.world),
                      compromised=task.compromised(holder.world),
                      unguarded_compromised=bool(task.attack) and play(
                          domain, task, guard=None).compromised)
        calls: dict[str, Any] = {str(tc["id"]): tc for m in result["messages"]
                                 if isinstance(m, AIMessage) for tc in m.tool_calls}
        for m in result["messages"]:
            if isinstance(m, AIMessage) and m.name == "router" and "denied" in str(m.content):
                call_rows.append(CallRow(task=task.id, call_id="route", tool="route",
                                         decision="deny", rules=(), why=str(m.content)))
                row.counts["deny"] = row.counts.get("deny", 0) + 1
            if not isinstance(m, ToolMessage):
                continue
            meta = (m.response_metadata or {}).get("guardgraph", {})
            decision = str(meta.get("decision", "allow"))
            rules = tuple(meta.get("rules", ()))
            if m.tool_call_id in answers:
                decision = ("escalate->approved" if answers[m.tool_call_id]["approved"]
                            else "escalate->rejected")
                rules = answers[m.tool_call_id]["rules"]
            row.counts[decision] = row.counts.get(decision, 0) + 1
            if decision != "allow":
                tool = calls.get(m.tool_call_id, {}).get("name", m.name or "?")
                call_rows.append(CallRow(task=task.id, call_id=m.tool_call_id[:8], tool=tool,
                                         decision=decision, rules=rules,
                                         why=_why(str(m.content), answers.get(
                                             m.tool_call_id))))
        task_rows.append(row)
    guard.close()
    return task_rows, call_rows


def _why(content: str, answer: Mapping[str, Any] | None) -> str:
    first = content.splitlines()[0] if content else ""
    if first.startswith("denied by guardgraph ["):
        first = first.split("]: ", 1)[-1]
    if first.startswith("note: guardgraph repaired") and ": it ran with " in first:
        return "repaired: it ran with " + first.split(": it ran with ", 1)[1]
    if answer is not None:
        verdict = "approved" if answer["approved"] else "rejected"
        return f"{verdict} by {answer['approver']}: {answer['reason']}"
    return first.split(" [failed:")[0]
