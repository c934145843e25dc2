"""What every domain promises (docs/internal/session-contracts.md, "guardgraph.domains"),
checked on each bundled domain: its spec pack declares its tools, worlds and tasks are
deterministic, held-out tasks are disjoint from train, every reference passes the real
guard and succeeds, and the guard stops every attack its naive script falls for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from domain_helpers import SPEC_TYPE, run_reference, spec_type_name

from guardgraph.domains import Domain, Step, Task, load_domain, play
from guardgraph.guardrails import Action, Session
from guardgraph.specs import ast

NAMES = ("bank", "devops")


@pytest.fixture(scope="module", params=NAMES)
def domain(request: pytest.FixtureRequest) -> Domain:
    return load_domain(request.param)


def _spec(domain: Domain) -> ast.Spec:
    return domain.policy().spec


def test_shape(domain: Domain) -> None:
    assert 10 <= len(domain.tools) <= 15
    assert len(domain.specialists) == 3
    assert 5 <= len(domain.families) <= 8
    assert any(not t.trusted for t in domain.tools.values())
    for family in domain.families:
        for split in ("train", "heldout"):
            assert any(t.family == family for t in domain.tasks(split)), (family, split)
    for task in domain.tasks("all"):
        for call in task.reference + task.plan:
            assert call.tool in domain.tools, (task.id, call.tool)
        assert task.prompt and task.user and task.specialist in domain.specialists
        assert task.template.format(**task.params) == task.prompt, task.id
    # one template per family: instances differ in their parameters only
    for family in domain.families:
        assert len({t.template for t in domain.tasks("all") if t.family == family}) == 1


def test_spec_declares_every_tool_with_matching_params(domain: Domain) -> None:
    spec = _spec(domain)
    assert {t.name for t in spec.tools} == set(domain.tools)
    for decl in spec.tools:
        tool = domain.tools[decl.name]
        declared = [(p.name, spec_type_name(p.type, spec)) for p in decl.params]
        assert declared == [(n, SPEC_TYPE[k]) for n, k in tool.params], decl.name
        assert decl.untrusted == (not tool.trusted), decl.name
        assert decl.untrusted_fields == tool.untrusted_fields, decl.name
        # An action tool's receipt may go undeclared (no rule reads it); a declared
        # output type must be the one the tool returns.
        if decl.returns is not None:
            assert tool.returns is not None, decl.name
            assert SPEC_TYPE[tool.returns] == spec_type_name(decl.returns, spec), decl.name
    assert {f.name for f in spec.facts} == set(domain.facts)


def test_spec_pack_lints_clean(domain: Domain) -> None:
    cli = Path(sys.executable).with_name("guardgraph")
    files = [str(p) for p in domain.folder.glob("*.spec")]
    done = subprocess.run([str(cli), "lint", "--strict", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_worlds_tasks_and_scripts_are_deterministic(domain: Domain) -> None:
    again = load_domain(domain.name)
    assert [(t.id, t.seed, t.prompt, t.reference) for t in again.tasks("all")] == [
        (t.id, t.seed, t.prompt, t.reference) for t in domain.tasks("all")]
    for task in domain.tasks("all")[::7]:
        a, b = domain.new_world(task.seed), again.new_world(task.seed)
        assert a.fingerprint() == b.fingerprint(), task.id
        outputs = [[domain.execute(w, c.tool, c.args) for c in task.reference]
                   for w in (a, b)]
        assert outputs[0] == outputs[1] and a.snapshot() == b.snapshot(), task.id
        steps = [play(d, task, guard=None).steps for d in (domain, again)]
        assert steps[0] == steps[1], task.id
    seeds = [t.seed for t in domain.tasks("all")]
    assert domain.new_world(seeds[0]).fingerprint() != domain.new_world(seeds[1]).fingerprint()


def test_heldout_is_disjoint_from_train(domain: Domain) -> None:
    train, held = domain.tasks("train"), domain.tasks("heldout")
    assert not {t.id for t in train} & {t.id for t in held}
    assert not {t.seed for t in train} & {t.seed for t in held}
    assert all(t.heldout for t in held) and not any(t.heldout for t in train)
    assert len({t.seed for t in domain.tasks("all")}) == len(domain.tasks("all"))
    assert set(domain.tasks("all")) == set(train) | set(held)
    assert not any(t.attack for t in domain.tasks("all", attacks=False))
    # other parameters too, not only other seeds
    def drawn(tasks: tuple[Task, ...]) -> set[str]:
        return {t.family + json.dumps(dict(t.params), sort_keys=True) for t in tasks
                if t.attack is None}

    assert not drawn(train) & drawn(held)


def test_attacks_come_in_three_phrasings_per_place(domain: Domain) -> None:
    attacks = [t.attack for t in domain.tasks("all") if t.attack]
    places = {a.split("/")[0] for a in attacks}
    assert len(places) >= 3
    for place in places:
        assert len({a for a in attacks if a.startswith(place + "/")}) >= 3, place
    train = {t.attack for t in domain.tasks("train") if t.attack}
    assert {t.attack for t in domain.tasks("heldout") if t.attack} - train


def test_references_pass_the_guard_and_succeed(domain: Domain) -> None:
    guard = domain.guard()
    for task in domain.tasks("all"):
        episode, escalated = run_reference(domain, task, guard)
        decisions = [s.decision for s in episode.steps]
        want = ["allow" if e == "escalate" else e for e in task.expected]
        assert decisions == want, (task.id, [(s.call.tool, s.decision, s.rules)
                                             for s in episode.steps])
        assert [c.tool for c in escalated] == [
            c.tool for c, e in zip(task.reference, task.expected, strict=True)
            if e == "escalate"], task.id
        assert episode.success and not episode.compromised, task.id


def test_the_guard_stops_every_attack(domain: Domain) -> None:
    guard = domain.guard()
    for task in (t for t in domain.tasks("all") if t.attack):
        unguarded = play(domain, task, guard=None)
        assert unguarded.compromised, f"{task.id}: the naive script ignores the injection"
        # A human who approves exactly what the reference needs, nothing else.
        guarded = play(domain, task, guard=guard, session_id=f"{task.id}/guarded",
                       approve=task.human_approves)
        assert not guarded.compromised, task.id
        legit = {c.key() for c in task.reference}
        stopped = [s for s in guarded.steps if s.decision in ("deny", "rejected")]
        assert stopped and all(s.call.key() not in legit for s in stopped), task.id
        assert guarded.success, (task.id, [(s.call.tool, s.decision) for s in guarded.steps])


def test_naive_scripts_succeed_under_the_guard(domain: Domain) -> None:
    # The demo's promise: with the guard (and a human approving the reference's
    # escalations), the naive specialist still gets every task done.
    guard = domain.guard()
    for task in domain.tasks("all", attacks=False):
        episode = play(domain, task, guard=guard, session_id=f"{task.id}/naive",
                       approve=task.human_approves)
        assert episode.success, (task.id, [(s.call.tool, s.decision, s.rules)
                                           for s in episode.steps])


def test_script_is_a_function_of_its_history(domain: Domain) -> None:
    task = next(t for t in domain.tasks("train") if t.attack)
    script = domain.script(task)
    first = script.propose(())
    assert first is not None and first == domain.script(task).propose(()) == task.plan[0]
    step = Step(call=first, decision="deny", output="no", rules=("some_rule",))
    assert script.propose((step,)) == script.propose((step,))


def test_each_task_may_be_routed_to_its_specialist(domain: Domain) -> None:
    guard = domain.guard()
    for task in domain.tasks("all"):
        session = Session(id=f"route/{task.id}", user=task.user, task_labels=task.labels,
                          task_kind=task.family)
        verdict = guard.check_and_commit(Action.route(task.specialist, agent="router"),
                                         session)
        assert str(verdict.decision) == "allow", (task.id, verdict.message)


# Arguments a specialist writes itself (free text, a page size); every other argument of a
# reference must be grounded in what the specialist can see.
FREE_TEXT = {"subject", "body", "text", "n"}


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_references_use_only_what_the_specialist_can_see(domain: Domain) -> None:
    # A learner fills argument slots from the prompt, the task's parameters, earlier
    # outputs and the spec's enums; a reference that needs anything else is unlearnable.
    spec = _spec(domain)
    enums = {v for e in spec.enums for v in e.values}
    for task in domain.tasks("all"):
        world = domain.new_world(task.seed)
        seen = [str(v) for v in _leaves(dict(task.params))]
        for call in task.reference:
            for name, value in call.args.items():
                if name in FREE_TEXT:
                    continue
                for leaf in _leaves(value):
                    text = str(leaf)
                    assert (text in task.prompt or text in enums
                            or any(text == s or (len(text) > 3 and text in s)
                                   for s in seen)), (task.id, call.tool, name, leaf)
            seen += [str(v) for v in _leaves(domain.execute(world, call.tool, call.args))]


def test_the_naive_script_reads_rules_from_the_message_alone(domain: Domain) -> None:
    # A host that passes only the guard's message (a ToolMessage's text, no rule ids)
    # gets the same re-plans as one that passes the verdict's rules.
    guard = domain.guard()
    for task in domain.tasks("train"):
        episode = play(domain, task, guard=guard, session_id=f"{task.id}/msg",
                       approve=task.human_approves)
        script = domain.script(task)
        bare = tuple(Step(call=s.call, decision=s.decision, output=s.output)
                     for s in episode.steps)
        for i in range(len(bare) + 1):
            assert script.propose(bare[:i]) == script.propose(episode.steps[:i]), (task.id, i)
