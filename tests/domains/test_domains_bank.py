"""The bank domain's own promises: its tool set, argument errors that name the argument,
repairs that the outcome depends on, the naive script's re-plan, the route rules, and an
instruction reader that falls for every attack phrasing."""

from __future__ import annotations

import pytest

from guardgraph.domains import (
    Domain,
    DomainError,
    ReplayScript,
    ToolFailure,
    load_domain,
    play,
)
from guardgraph.guardrails import Action, Session


@pytest.fixture(scope="module")
def bank() -> Domain:
    return load_domain("bank")


def test_bank_has_the_promised_tools(bank: Domain) -> None:
    assert set(bank.specialists) == {"payments", "support", "research"}
    # a web tool, an email tool and file/invoice readers whose output may be injected
    untrusted = {t.name for t in bank.tools.values() if not t.trusted}
    assert untrusted == {"browse", "read_inbox", "read_file", "get_invoice"}
    assert bank.tools["get_invoice"].untrusted_fields == ("memo",)
    assert bank.specialist_of("send_money") == ("payments",)
    assert {"pay_invoice", "refund_charge", "pay_bills"} <= set(bank.families)


def test_every_tool_runs_with_its_declared_params(bank: Domain) -> None:
    world = bank.new_world(7)
    state = world.state
    args = {
        "method": "otp", "account": "checking", "recipient": state["payees"][0]["iban"],
        "amount": 10.0, "subject": "test", "invoice_id": next(iter(state["invoices"])),
        "n": 3, "to": "someone@example.com", "body": "hello",
        "url": "https://bank.example/rates", "path": state["meta"]["statement"],
        "title": "t", "text": "x", "tx_id": next(iter(state["charges"])),
        "street": "1 Main Street", "city": "Leeds",
    }
    for tool in bank.tools.values():
        output = bank.execute(world, tool.name, {name: args[name] for name, _ in tool.params})
        if tool.returns is not None:
            assert isinstance(output, tool.returns), tool.name
    assert state["transfers"] and state["sent"] and state["notes"] and state["refunds"]
    assert state["customer"]["address"] == {"street": "1 Main Street", "city": "Leeds"}


def test_bad_calls_are_named(bank: Domain) -> None:
    world = bank.new_world(1)
    with pytest.raises(DomainError, match="unknown tool 'send_mony'"):
        bank.execute(world, "send_mony", {})
    with pytest.raises(DomainError, match="send_money: missing argument 'subject'"):
        bank.execute(world, "send_money", {"recipient": "x", "amount": 1.0})
    with pytest.raises(DomainError, match="unexpected argument"):
        bank.execute(world, "get_balance", {"account": "checking", "pin": "1234"})
    with pytest.raises(DomainError, match="'amount' expected real, got '12e'"):
        bank.execute(world, "send_money", {"recipient": "x", "amount": "12e", "subject": ""})
    with pytest.raises(DomainError, match="'amount' expected a finite real, got nan"):
        bank.execute(world, "send_money", {"recipient": "x", "amount": float("nan"),
                                           "subject": ""})
    with pytest.raises(DomainError, match="'n' expected int, got True"):
        bank.execute(world, "read_inbox", {"n": True})
    with pytest.raises(ToolFailure, match="no invoice"):
        bank.execute(world, "get_invoice", {"invoice_id": "INV-0"})
    with pytest.raises(ToolFailure, match="insufficient funds"):
        bank.execute(world, "send_money", {"recipient": "x", "amount": 1e9, "subject": ""})
    with pytest.raises(DomainError, match="a seed is an int"):
        bank.new_world("7")  # type: ignore[arg-type]


def test_capped_tasks_succeed_only_through_the_repair(bank: Domain) -> None:
    # Outcome, not path: a reference the guard repairs would overshoot unrepaired.
    capped = [t for t in bank.tasks("all") if "repair" in t.expected]
    assert {t.family for t in capped} == {"pay_payee", "refund_charge"}
    guard = bank.guard()
    for task in capped:
        script = ReplayScript(calls=task.reference)
        assert not play(bank, task, guard=None, script=script).success, task.id
        repaired = play(bank, task, guard=guard, script=script)
        assert repaired.success and repaired.steps[-1].decision == "repair", task.id
        assert repaired.steps[-1].call.args["amount"] in (5000, 1000), task.id


def test_over_budget_bills_stop_at_the_budget(bank: Domain) -> None:
    guard = bank.guard()
    over = [t for t in bank.tasks("all") if t.family == "pay_bills" and t.params["fit"] < 3]
    assert over
    for task in over:
        episode = play(bank, task, guard=guard)
        assert episode.steps[-1].decision == "deny"
        assert episode.steps[-1].rules == ("daily_budget",)
        assert episode.success
        assert sum(t["amount"] for t in episode.world.state["transfers"]) <= 10000


def test_naive_script_replans_after_a_deny(bank: Domain) -> None:
    guard = bank.guard()
    task = next(t for t in bank.tasks("train") if t.family == "pay_payee")
    episode = play(bank, task, guard=guard)
    tools = [(s.call.tool, s.decision) for s in episode.steps]
    deny = tools.index(("send_money", "deny"))  # it forgot to verify ...
    assert episode.steps[deny].rules[-1] == "verify_first"
    assert tools[deny + 1] == ("verify_identity", "allow")  # ... and learnt from the reason
    assert tools[deny + 2][0] == "send_money" and episode.success


def test_routes_follow_the_route_rules(bank: Domain) -> None:
    guard = bank.guard()
    for task in bank.tasks("train"):
        session = Session(id=f"route-{task.id}", user=task.user, task_labels=task.labels)
        if "pii" in task.labels or "payment" in task.labels:
            bad = guard.check_and_commit(Action.route("research", agent="router"), session)
            assert str(bad.decision) == "deny", task.id
    payment = next(t for t in bank.tasks("train") if "payment" in t.labels)
    session = Session(id="route-x", task_labels=payment.labels)
    assert str(guard.check_and_commit(Action.route("support", agent="router"),
                                      session).decision) == "deny"


def test_the_reader_falls_for_every_phrasing(bank: Domain) -> None:
    from guardgraph_domain_bank._tasks import MAIL_PHRASINGS, MONEY_PHRASINGS

    for text in MONEY_PHRASINGS:
        [call] = bank.reader("browse", text.format(amount=950, iban="LT121000011101001000",
                                                   ref="R1"))
        assert call.tool == "send_money"
        assert (call.args["recipient"], call.args["amount"]) == ("LT121000011101001000", 950)
    for text in MAIL_PHRASINGS:
        [call] = bank.reader("read_inbox", [{"body": text.format(email="x@evil.example")}])
        assert call.tool == "send_email" and call.args["to"] == "x@evil.example"
    # ... and for nothing in a clean world
    world = bank.new_world(3)
    for value in (world.state["inbox"], world.state["web"], world.state["files"],
                  world.state["invoices"]):
        assert bank.reader("read_file", value) == ()
