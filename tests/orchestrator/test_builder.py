"""AgentGraph on LangGraph's real runtime: compile-time validation, routing under `on
route` rules, deny-and-replan, per-call tasks, parallel budgets, stale approvals, and
exactly-once across resume and replay."""

from __future__ import annotations

from typing import Any

import pytest
from _orch_support import KNOWN, Bank, Scripted, call
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardgraph.audit import open_log
from guardgraph.guardrails import Action, Guard, Session
from guardgraph.orchestrator import AgentGraph, GraphBuildError, pending_approvals, user_task

NEW = "NL91ABNA0417164300"


def _msgs(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


def _graph(bank: Bank, guard: Guard, payments: Any, *, route: Any = None, **kw: Any) -> Any:
    tools = {t.__name__: t for t in bank.tools()}
    builder = (AgentGraph()
               .add_specialist("payments", payments,
                               tools=[tools["send_money"], tools["get_balance"]])
               .add_specialist("research", Scripted("research", "nothing found"),
                               tools=[tools["read_email"]])
               .router(route or (lambda state: "payments")))
    return builder.compile(guard=guard, checkpointer=kw.pop("checkpointer", InMemorySaver()),
                           **kw)


def test_compile_refuses_unknown_tools_and_empty_specialists(bank: Bank, guard: Guard) -> None:
    def wire(amount: float) -> str:
        """Not in the spec."""
        return "x"

    with pytest.raises(GraphBuildError, match="wire"):
        AgentGraph().add_specialist("p", Scripted("p"), tools=[wire]).compile(guard=guard)
    with pytest.raises(GraphBuildError, match="no tools"):
        AgentGraph().add_specialist("p", Scripted("p"), tools=[]).compile(guard=guard)
    with pytest.raises(GraphBuildError, match="router"):
        (AgentGraph().add_specialist("a", Scripted("a"), tools=bank.tools()[:1])
         .add_specialist("b", Scripted("b"), tools=bank.tools()[:1]).compile(guard=guard))
    with pytest.raises(GraphBuildError, match="does not load"):
        AgentGraph().add_specialist("p", Scripted("p"), tools=bank.tools()[:1]).compile(
            guard="no/such/file.spec")


def test_durable_sync_writes_by_default(bank: Bank, guard: Guard) -> None:
    graph = _graph(bank, guard, Scripted("payments", "ok"))
    assert graph.config["configurable"]["__pregel_durability"] == "sync"


def test_allow_then_deny_and_replan(bank: Bank, guard: Guard) -> None:
    payments = Scripted("payments",
                        [call("send_money", {"recipient": KNOWN, "amount": 4000}, "c0")],
                        [call("send_money", {"recipient": KNOWN, "amount": 4000}, "c1")],
                        [call("send_money", {"recipient": KNOWN, "amount": 4000}, "c2")],
                        [call("send_money", {"recipient": KNOWN, "amount": 1000}, "c3")],
                        "paid 9000")
    out = _graph(bank, guard, payments).invoke(user_task("pay 12000", user="anna"),
                                               {"configurable": {"thread_id": "t"}})
    msgs = _msgs(out)
    assert msgs["c2"].status == "error" and "daily_budget" in str(msgs["c2"].content)
    assert msgs["c3"].status == "success"
    assert bank.sent == [(KNOWN, 4000), (KNOWN, 4000), (KNOWN, 1000)]
    assert out["messages"][-1].content == "paid 9000"


def test_route_rule_keeps_pii_tasks_inside(bank: Bank, guard: Guard) -> None:
    log = open_log("memory:")
    graph = _graph(bank, guard, Scripted("payments", "ok"), route=lambda s: "research",
                   audit=log)
    out = graph.invoke(user_task("my passport number is ...", labels=["pii"]),
                       {"configurable": {"thread_id": "t-pii"}})
    last = out["messages"][-1]
    assert isinstance(last, AIMessage) and "pii_stays_inside" in str(last.content)
    verdicts = [r for r in log.store.iter_records() if r.kind == "verdict"]
    assert verdicts and verdicts[0].decision == "deny" and verdicts[0].payload["tool"] == "route"
    out = graph.invoke(user_task("look this up"), {"configurable": {"thread_id": "t-ok"}})
    assert out["active_agent"] == "research"


def test_parallel_calls_of_one_turn_never_overspend(bank: Bank, guard: Guard) -> None:
    payments = Scripted("payments", [
        call("send_money", {"recipient": KNOWN, "amount": 4000}, f"p{i}") for i in range(4)])
    out = _graph(bank, guard, payments).invoke(user_task("pay four"),
                                               {"configurable": {"thread_id": "t-par"}})
    assert sum(a for _, a in bank.sent) == 8000 and len(bank.sent) == 2
    denied = [m for m in _msgs(out).values() if m.status == "error"]
    assert len(denied) == 2 and all("daily_budget" in str(m.content) for m in denied)


def test_approval_is_rechecked_against_the_budget_in_force(bank: Bank, guard: Guard) -> None:
    payments = Scripted("payments",
                        [call("send_money", {"recipient": NEW, "amount": 2000}, "c1")], "ok")
    graph = _graph(bank, guard, payments)
    cfg = {"configurable": {"thread_id": "t-stale"}}
    out = graph.invoke(user_task("pay the new landlord"), cfg)
    assert len(pending_approvals(out)) == 1
    # Meanwhile the session's budget is spent (another replica, another turn).
    for i, amount in enumerate((5000, 4000)):
        v = guard.check_and_commit(Action(tool="send_money", agent="payments",
                                          call_id=f"other{i}",
                                          args={"recipient": KNOWN, "amount": amount}),
                                   Session(id="t-stale"))
        assert v.executable
    out = graph.invoke(Command(resume={"approved": True, "approver": "carla",
                                       "reason": "ok"}), cfg)
    assert bank.sent == []
    assert "daily_budget" in str(_msgs(out)["c1"].content)


def test_resume_and_replay_run_each_allowed_call_once(bank: Bank, guard: Guard) -> None:
    payments = Scripted("payments",
                        [call("send_money", {"recipient": KNOWN, "amount": 10}, "a1"),
                         call("send_money", {"recipient": NEW, "amount": 20}, "a2")],
                        "ok")
    saver = InMemorySaver()
    graph = _graph(bank, guard, payments, checkpointer=saver)
    cfg = {"configurable": {"thread_id": "t-once"}}
    graph.invoke(user_task("pay two"), cfg)
    assert bank.sent == [(KNOWN, 10)]
    graph.invoke(Command(resume={"approved": True, "approver": "carla", "reason": "ok"}), cfg)
    assert sorted(bank.sent) == sorted([(KNOWN, 10), (NEW, 20)])
    # Replay every earlier checkpoint of the thread: no tool runs again.
    history = list(graph.get_state_history(cfg))
    for snapshot in history[1:]:
        graph.invoke(None, snapshot.config)
    assert sorted(bank.sent) == sorted([(KNOWN, 10), (NEW, 20)])


def test_a_failing_audit_log_denies_the_route(bank: Bank, guard: Guard) -> None:
    class FailingLog:
        def record(self, *a: Any, **k: Any) -> Any:
            raise OSError("disk full")

    payments = Scripted("payments",
                        [call("send_money", {"recipient": KNOWN, "amount": 10}, "c1")], "ok")
    graph = _graph(bank, guard, payments, audit=FailingLog())
    out = graph.invoke(user_task("pay"), {"configurable": {"thread_id": "t-fail"}})
    assert bank.sent == []
    assert "GG408" in str(out["messages"][-1].content)
    assert "disk full" in str(out["messages"][-1].content)


def test_a_failing_guard_denies_the_call(bank: Bank, guard: Guard) -> None:
    from langgraph.graph import START, MessagesState, StateGraph

    from guardgraph.orchestrator import GuardedToolNode

    class Exploding:
        """A guard whose store is down: every check raises."""

        def __init__(self, inner: Guard) -> None:
            self.inner = inner

        def check_and_commit(self, *a: Any, **k: Any) -> Any:
            raise ConnectionError("redis unreachable")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    g: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
    g.add_node("tools", GuardedToolNode(bank.tools(), guard=Exploding(guard), agent="payments"))
    g.add_edge(START, "tools")
    out = g.compile().invoke({"messages": [AIMessage(content="", tool_calls=[
        call("send_money", {"recipient": KNOWN, "amount": 10}, "c1")])]})
    msg = _msgs(out)["c1"]
    assert bank.sent == [] and msg.status == "error"
    assert "GG408" in str(msg.content) and "redis unreachable" in str(msg.content)
