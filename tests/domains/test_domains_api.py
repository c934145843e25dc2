"""The helpers hosts build on: bound tools, the guard session of a task, pickling."""

from __future__ import annotations

import inspect
import pickle

import pytest

from guardgraph.domains import Call, Domain, Step, load_domain


@pytest.fixture(scope="module")
def bank() -> Domain:
    return load_domain("bank")


def test_bound_tools_are_plain_keyword_functions(bank: Domain) -> None:
    world = bank.new_world(11)
    tools = bank.bind(world)
    assert list(tools) == list(bank.tools)
    pay = tools["send_money"]
    assert pay.__name__ == "send_money" and pay.__doc__ == bank.tools["send_money"].description
    sig = inspect.signature(pay)
    assert [(p.name, p.annotation, p.kind) for p in sig.parameters.values()] == [
        ("recipient", str, inspect.Parameter.KEYWORD_ONLY),
        ("amount", float, inspect.Parameter.KEYWORD_ONLY),
        ("subject", str, inspect.Parameter.KEYWORD_ONLY)]
    before = world.state["accounts"]["checking"]
    pay(recipient="GB29NWBK60161331926819", amount=25, subject="x")
    assert world.state["accounts"]["checking"] == before - 25


def test_bound_tools_make_langchain_tools(bank: Domain) -> None:
    from langchain_core.tools import StructuredTool

    tool = StructuredTool.from_function(bank.bind(bank.new_world(2))["get_balance"])
    assert tool.name == "get_balance" and set(tool.args) == {"account"}
    assert isinstance(tool.invoke({"account": "savings"}), float)


def test_the_session_of_a_task(bank: Domain) -> None:
    task = next(t for t in bank.tasks("train") if "pii" in t.labels)
    session = bank.session(task, session_id="thread-1")
    assert (session.id, session.user, session.task_kind) == ("thread-1", task.user,
                                                             task.family)
    assert session.task_labels == task.labels
    assert session.now == bank.new_world(task.seed).now


def test_domains_pickle_by_folder(bank: Domain) -> None:
    again = pickle.loads(pickle.dumps(bank))
    assert again.name == "bank" and again.folder == bank.folder
    task = bank.tasks("heldout")[3]
    assert again.task(task.id).reference == task.reference
    assert again.new_world(task.seed).fingerprint() == bank.new_world(task.seed).fingerprint()


def test_values_are_frozen(bank: Domain) -> None:
    call = Call(tool="t", args={"a": 1})
    with pytest.raises(TypeError):
        call.args["a"] = 2  # type: ignore[index]
    assert Step(call=call, decision="repair").executed
    assert not Step(call=call, decision="rejected").executed
    task = bank.tasks()[0]
    with pytest.raises(AttributeError):
        task.seed = 3  # type: ignore[misc]
    world = bank.new_world(task.seed)
    copy = world.clone()
    copy.state["accounts"]["checking"] = 0.0
    assert world.fingerprint() != copy.fingerprint()
