"""The bank domain: its tools, world, tasks and spec pack agree, its references pass the
real guard, and the guard stops every attack its naive script falls for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from domain_helpers import SPEC_TYPE, run_reference, spec_type_name

from guardgraph.domains import (
    Call,
    Domain,
    DomainError,
    Step,
    ToolFailure,
    load_domain,
    play,
)
from guardgraph.guardrails import Action, Session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank() -> Domain:
    return load_domain("bank")


@pytest.fixture(scope="module")
def spec(bank: Domain):  # type: ignore[no-untyped-def]
    policy = bank.policy()
    return getattr(policy, "spec", policy)


# ---------------------------------------------------------------- shape


def test_bank_has_the_promised_shape(bank: Domain) -> None:
    assert 10 <= len(bank.tools) <= 15
    assert set(bank.specialists) == {"payments", "support", "research"}
    assert 5 <= len(bank.families) <= 8
    # a web tool, an email tool and file/invoice readers whose output may be injected
    untrusted = {t.name for t in bank.tools.values() if not t.trusted}
    assert {"browse", "read_inbox", "read_file", "get_invoice"} <= untrusted
    for family in bank.families:
        for split in ("train", "heldout"):
            assert any(t.family == family for t in bank.tasks(split)), (family, split)


def test_spec_declares_every_tool_with_matching_params(bank: Domain, spec) -> None:  # type: ignore[no-untyped-def]
    assert {t.name for t in spec.tools} == set(bank.tools)
    for decl in spec.tools:
        tool = bank.tools[decl.name]
        declared = [(p.name, spec_type_name(p.type, spec)) for p in decl.params]
        assert declared == [(n, SPEC_TYPE[k]) for n, k in tool.params], decl.name
        assert decl.untrusted == (not tool.trusted), decl.name
        assert decl.untrusted_fields == tool.untrusted_fields, decl.name
        # An action tool's receipt may go undeclared (no rule reads it); a declared
        # output type must be the one the tool returns.
        if decl.returns is not None:
            assert tool.returns is not None, decl.name
            assert SPEC_TYPE[tool.returns] == spec_type_name(decl.returns, spec), decl.name
    assert {f.name for f in spec.facts} == set(bank.facts)


def test_spec_pack_lints_clean() -> None:
    cli = Path(sys.executable).with_name("guardgraph")
    done = subprocess.run([str(cli), "lint", "--strict", str(ROOT / "examples/bank/bank.spec")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- tools and world


def test_worlds_are_deterministic(bank: Domain) -> None:
    task = bank.tasks("train")[5]
    a, b = bank.new_world(task.seed), bank.new_world(task.seed)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != bank.new_world(task.seed + 1).fingerprint()
    outputs = [[bank.execute(w, c.tool, c.args) for c in task.reference] for w in (a, b)]
    assert outputs[0] == outputs[1]
    assert a.snapshot() == b.snapshot()
    again = load_domain("bank")
    assert [(t.id, t.seed, t.prompt) for t in again.tasks("all")] == [
        (t.id, t.seed, t.prompt) for t in bank.tasks("all")]


def test_every_tool_runs_with_its_declared_params(bank: Domain) -> None:
    world = bank.new_world(7)
    state = world.state
    invoice = next(iter(state["invoices"]))
    tx = next(iter(state["charges"]))
    args = {
        "method": "otp", "account": "checking", "recipient": state["payees"][0]["iban"],
        "amount": 10.0, "subject": "test", "invoice_id": invoice, "n": 3,
        "to": "someone@example.com", "body": "hello", "url": "https://bank.example/rates",
        "path": state["meta"]["statement"], "title": "t", "text": "x", "tx_id": tx,
        "street": "1 Main Street", "city": "Leeds",
    }
    for tool in bank.tools.values():
        call = {name: args[name] for name, _ in tool.params}
        output = bank.execute(world, tool.name, call)
        if tool.returns is not None:
            assert isinstance(output, tool.returns), tool.name


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
    with pytest.raises(ToolFailure, match="no invoice"):
        bank.execute(world, "get_invoice", {"invoice_id": "INV-0"})


# ---------------------------------------------------------------- tasks


def test_heldout_is_disjoint_from_train(bank: Domain) -> None:
    train, held = bank.tasks("train"), bank.tasks("heldout")
    assert not {t.id for t in train} & {t.id for t in held}
    assert not {t.seed for t in train} & {t.seed for t in held}
    assert all(t.heldout for t in held) and not any(t.heldout for t in train)
    assert len({t.seed for t in bank.tasks("all")}) == len(bank.tasks("all"))
    assert bank.tasks("all") == train + held or set(bank.tasks("all")) == set(train + held)
    assert not any(t.attack for t in bank.tasks("all", attacks=False))


def test_attacks_cover_every_place_and_three_phrasings(bank: Domain) -> None:
    attacks = [t.attack for t in bank.tasks("all") if t.attack]
    places = {a.split("/")[0] for a in attacks}
    assert places == {"invoice", "email", "web", "file"}
    for place in places:
        assert len({a for a in attacks if a.startswith(place)}) >= 3, place
    # held-out attacks include a phrasing no train task uses
    train = {t.attack for t in bank.tasks("train") if t.attack}
    assert {t.attack for t in bank.tasks("heldout") if t.attack} - train


def test_references_pass_the_guard_and_succeed(bank: Domain) -> None:
    guard = bank.guard()
    for task in bank.tasks("all"):
        episode, escalated = run_reference(bank, task, guard)
        decisions = [s.decision for s in episode.steps]
        want = ["allow" if e == "escalate" else e for e in task.expected]
        assert decisions == want, (task.id, [(s.call.tool, s.decision, s.rules)
                                             for s in episode.steps])
        assert [c.tool for c in escalated] == [
            c.tool for c, e in zip(task.reference, task.expected, strict=True)
            if e == "escalate"], task.id
        assert episode.success, task.id
        assert not episode.compromised, task.id


def test_unguarded_references_of_capped_tasks_overshoot(bank: Domain) -> None:
    # Outcome, not path: a reference whose call the guard repairs would fail unrepaired,
    # so success really depends on the guard's repair.
    capped = [t for t in bank.tasks("all") if "repair" in t.expected]
    assert capped
    for task in capped:
        assert not play(bank, task, guard=None,
                        script=_replay(task.reference)).success, task.id


def test_the_guard_stops_every_attack(bank: Domain) -> None:
    guard = bank.guard()
    attacks = [t for t in bank.tasks("all") if t.attack]
    for task in attacks:
        unguarded = play(bank, task, guard=None)
        assert unguarded.compromised, f"{task.id}: the naive script ignores the injection"
        guarded = play(bank, task, guard=guard, session_id=f"{task.id}-guarded")
        assert not guarded.compromised, task.id
        stopped = [s for s in guarded.steps if s.decision in ("deny", "escalate")]
        assert stopped, task.id
        assert guarded.success, (task.id, [(s.call.tool, s.decision) for s in guarded.steps])


def test_naive_script_replans_after_a_deny(bank: Domain) -> None:
    guard = bank.guard()
    task = next(t for t in bank.tasks("train") if t.family == "pay_payee")
    episode = play(bank, task, guard=guard)
    tools = [(s.call.tool, s.decision) for s in episode.steps]
    assert ("send_money", "deny") in tools  # it forgot to verify ...
    deny = tools.index(("send_money", "deny"))
    assert tools[deny + 1] == ("verify_identity", "allow")  # ... learnt from the reason
    assert episode.success


def test_script_is_a_function_of_its_history(bank: Domain) -> None:
    task = next(t for t in bank.tasks("train") if t.attack)
    script = bank.script(task)
    first = script.propose(())
    assert first == bank.script(task).propose(()) == task.plan[0]
    step = Step(call=first, decision="deny", output="no", rules=("some_rule",))
    assert script.propose((step,)) == script.propose((step,))


def test_routes_follow_the_route_rules(bank: Domain) -> None:
    guard = bank.guard()
    for task in bank.tasks("train"):
        session = Session(id=f"route-{task.id}", user=task.user, task_labels=task.labels)
        ok = guard.check_and_commit(Action.route(task.specialist, agent="router"), session)
        assert str(ok.decision) == "allow", task.id
        if "pii" in task.labels or "payment" in task.labels:
            bad = guard.check_and_commit(Action.route("research", agent="router"), session)
            assert str(bad.decision) == "deny", task.id


def _replay(calls: tuple[Call, ...]):  # type: ignore[no-untyped-def]
    from guardgraph.domains import ReplayScript

    return ReplayScript(calls=calls)
