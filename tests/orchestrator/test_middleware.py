"""GuardMiddleware on langchain's create_agent and GuardedToolNode in a hand-built graph,
on LangGraph's real runtime: allow, deny, repair, escalate (approve, reject, several),
taint, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

from _orch_support import KNOWN, Bank, call, fake_model
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardgraph.audit import EventKind, open_log
from guardgraph.guardrails import Guard
from guardgraph.orchestrator import GuardMiddleware, pending_approvals


def _tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


def _agent(model: Any, bank: Bank, guard: Guard, **kw: Any) -> Any:
    return create_agent(model, bank.tools(), checkpointer=InMemorySaver(),
                        middleware=[GuardMiddleware(guard=guard, agent="payments", **kw)])


def test_allow_runs_the_tool_once(bank: Bank, guard: Guard) -> None:
    model = fake_model([call("send_money", {"recipient": KNOWN, "amount": 100}, "c1")], "done")
    agent = _agent(model, bank, guard)
    out = agent.invoke({"messages": [("user", "pay 100")]},
                       {"configurable": {"thread_id": "t1"}})
    assert bank.sent == [(KNOWN, 100)]
    msg = _tool_messages(out)["c1"]
    assert msg.status == "success" and "sent 100" in str(msg.content)
    assert msg.response_metadata["guardgraph"]["decision"] == "allow"


def test_deny_tells_rules_and_reason_and_does_not_run(bank: Bank, guard: Guard) -> None:
    model = fake_model([call("send_money", {"recipient": KNOWN, "amount": 9000.5},
                             "c1")], "ok")
    agent = create_agent(model, bank.tools(), checkpointer=InMemorySaver(),
                         middleware=[GuardMiddleware(guard=guard, agent="support")])
    out = agent.invoke({"messages": [("user", "pay")]}, {"configurable": {"thread_id": "t"}})
    msg = _tool_messages(out)["c1"]
    assert bank.sent == []
    assert msg.status == "error"
    assert "payments_only" in str(msg.content) and "only the payments agent" in str(msg.content)


def test_repair_runs_repaired_args_and_says_what_changed(bank: Bank, guard: Guard) -> None:
    model = fake_model([call("send_money", {"recipient": KNOWN, "amount": 7200}, "c1")], "ok")
    out = _agent(model, bank, guard).invoke({"messages": [("user", "pay 7200")]},
                                            {"configurable": {"thread_id": "t"}})
    assert bank.sent == [(KNOWN, 5000)]
    content = str(_tool_messages(out)["c1"].content)
    assert "repaired" in content and "amount=5000" in content and "cap" in content


def test_escalate_interrupts_and_approval_resumes(bank: Bank, guard: Guard) -> None:
    new = "NL91ABNA0417164300"
    model = fake_model([call("send_money", {"recipient": new, "amount": 40}, "c1")], "ok")
    agent = _agent(model, bank, guard)
    cfg = {"configurable": {"thread_id": "t-esc"}}
    out = agent.invoke({"messages": [("user", f"pay 40 to {new}")]}, cfg)
    pending = pending_approvals(out)
    assert len(pending) == 1 and bank.sent == []
    req = pending[0].request
    assert req["kind"] == "approval" and req["call_id"] == "c1" and req["tool"] == "send_money"
    assert req["rules"] == ["new_payee"] and req["agent"] == "payments"
    assert req["args"] == {"recipient": new, "amount": 40} and len(req["args_sha256"]) == 64
    out = agent.invoke(Command(resume={"approved": True, "approver": "carla",
                                       "reason": "known landlord"}), cfg)
    assert bank.sent == [(new, 40)]
    assert _tool_messages(out)["c1"].status == "success"


def test_rejection_names_approver_and_reason(bank: Bank, guard: Guard) -> None:
    new = "NL91ABNA0417164300"
    model = fake_model([call("send_money", {"recipient": new, "amount": 40}, "c1")], "ok")
    agent = _agent(model, bank, guard)
    cfg = {"configurable": {"thread_id": "t-rej"}}
    agent.invoke({"messages": [("user", "pay")]}, cfg)
    out = agent.invoke(Command(resume={"approved": False, "approver": "carla",
                                       "reason": "unknown payee"}), cfg)
    assert bank.sent == []
    assert _tool_messages(out)["c1"].content == "rejected by carla: unknown payee"


def test_several_pending_are_answered_per_action(bank: Bank, guard: Guard) -> None:
    a, b = "NL91ABNA0417164300", "DE89370400440532013000"
    model = fake_model([call("send_money", {"recipient": a, "amount": 10}, "c1"),
                        call("send_money", {"recipient": b, "amount": 20}, "c2"),
                        call("send_money", {"recipient": KNOWN, "amount": 30}, "c3")], "ok")
    agent = _agent(model, bank, guard)
    cfg = {"configurable": {"thread_id": "t-many"}}
    out = agent.invoke({"messages": [("user", "pay three")]}, cfg)
    pending = {p.request["call_id"]: p.interrupt_id for p in pending_approvals(out)}
    assert set(pending) == {"c1", "c2"}
    assert bank.sent == [(KNOWN, 30)]  # the allowed call of the turn ran already
    out = agent.invoke(Command(resume={
        pending["c1"]: {"approved": False, "approver": "carla", "reason": "no"},
        pending["c2"]: {"approved": True, "approver": "carla", "reason": "yes"}}), cfg)
    assert sorted(bank.sent) == sorted([(KNOWN, 30), (b, 20)])  # c3 did not run twice
    msgs = _tool_messages(out)
    assert msgs["c1"].content == "rejected by carla: no"
    assert msgs["c2"].status == "success" and msgs["c3"].status == "success"


def test_taint_blocks_a_payee_read_from_an_email(bank: Bank, guard: Guard) -> None:
    evil = "NL00EVIL0000000001"
    model = fake_model([call("read_email", {"folder": "inbox"}, "c1")],
                       [call("send_money", {"recipient": evil, "amount": 10}, "c2")], "ok")
    out = _agent(model, bank, guard).invoke({"messages": [("user", "pay my invoice")]},
                                            {"configurable": {"thread_id": "t-taint"}})
    msg = _tool_messages(out)["c2"]
    assert bank.sent == [] and "no_injected_recipient" in str(msg.content)


def test_async_agent_is_guarded_too(bank: Bank, guard: Guard) -> None:
    model = fake_model([call("send_money", {"recipient": KNOWN, "amount": 9000.5},
                             "c1")], "ok")
    agent = create_agent(model, bank.tools(), checkpointer=InMemorySaver(),
                         middleware=[GuardMiddleware(guard=guard, agent="support")])
    out = asyncio.run(agent.ainvoke({"messages": [("user", "pay")]},
                                    {"configurable": {"thread_id": "t-async"}}))
    assert bank.sent == [] and _tool_messages(out)["c1"].status == "error"


def test_every_step_is_one_audit_record(bank: Bank, guard: Guard) -> None:
    log = open_log("memory:")
    new = "NL91ABNA0417164300"
    model = fake_model([call("send_money", {"recipient": new, "amount": 40}, "c1")], "ok")
    agent = _agent(model, bank, guard, audit=log)
    cfg = {"configurable": {"thread_id": "t-audit"}}
    agent.invoke({"messages": [("user", "pay")]}, cfg)
    agent.invoke(Command(resume={"approved": True, "approver": "carla", "reason": "ok"}), cfg)
    kinds = [r.kind for r in log.store.iter_records()]
    assert kinds == [EventKind.USER_MESSAGE, EventKind.ACTION_PROPOSED, EventKind.VERDICT,
                     EventKind.APPROVAL_REQUESTED, EventKind.APPROVAL_ANSWERED,
                     EventKind.VERDICT, EventKind.ACTION_EXECUTED, EventKind.TOOL_RESULT]
    records = list(log.store.iter_records())
    assert records[2].decision == "escalate" and records[5].decision == "allow"
    assert records[4].actor == "human:carla" and records[2].spec_name == "pay"
    assert log.verify().records == 8


def test_async_escalation_interrupts_and_resumes_off_the_event_loop(bank: Bank,
                                                                      guard: Guard) -> None:
    # The guarded half runs in a worker thread under ainvoke; interrupt() raised there must
    # still pause the graph, and the approved call must run once on resume.
    new = "NL91ABNA0417164300"
    model = fake_model([call("send_money", {"recipient": new, "amount": 40}, "c1")], "ok")
    agent = _agent(model, bank, guard)
    cfg = {"configurable": {"thread_id": "t-async-approve"}}

    async def go() -> dict[str, Any]:
        first = await agent.ainvoke({"messages": [("user", "pay")]}, cfg)
        assert "__interrupt__" in first and bank.sent == []
        return await agent.ainvoke(
            Command(resume={"approved": True, "approver": "carla", "reason": "ok"}), cfg)

    out = asyncio.run(go())
    assert bank.sent == [(new, 40)]
    assert _tool_messages(out)["c1"].status == "success"
