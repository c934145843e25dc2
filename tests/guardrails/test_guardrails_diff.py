"""guardgraph diff: per tool narrows / widens / changes / same, with witnesses."""

from __future__ import annotations

import json

from guardrails_helpers import load_spec

from guardgraph.guardrails import DiffStatus, SpecDiff, diff

HEAD = """spec t version {v}
enum Method = "otp" | "sms"
tool pay(amount: real, to: str)
tool verify(method: Method)
tool gone(x: int)
"""


def _diff(old_rules: str, new_rules: str, new_head: str = HEAD) -> SpecDiff:
    old = load_spec(HEAD.format(v=1) + old_rules)
    return diff(old, load_spec(new_head.format(v=2) + new_rules))


def _tool(d: SpecDiff, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in d.tools if t.tool == name)


def test_identical_versions_are_proved_the_same() -> None:
    rules = "rule cap:\n  on pay\n  require amount <= 100\n"
    d = _diff(rules, rules.replace("cap", "renamed"))
    assert d.same and all(t.status is DiffStatus.SAME for t in d.tools)
    assert "the versions agree" in d.render_human()


def test_widening_with_an_example_the_old_version_denied() -> None:
    d = _diff("rule cap:\n  on pay\n  require amount <= 100\n",
              "rule cap:\n  on pay\n  require amount <= 200\n")
    t = _tool(d, "pay")
    assert t.status is DiffStatus.WIDENS and not d.same
    assert t.newly_allowed and not t.newly_denied
    for w in t.newly_allowed:
        amount = dict(w.args)["amount"]
        assert 100 < amount <= 200  # type: ignore[operator]
    assert len({dict(w.args)["amount"] for w in t.newly_allowed}) == len(t.newly_allowed)


def test_narrowing_and_escalate_counts_as_not_allowed() -> None:
    d = _diff("", 'rule otp:\n  on verify\n  require method == "otp"\n  else escalate "sms"\n')
    t = _tool(d, "verify")
    assert t.status is DiffStatus.NARROWS
    assert [dict(w.args) for w in t.newly_denied] == [{"method": "sms"}]


def test_changes_both_ways_and_json_shape() -> None:
    d = _diff("rule a:\n  on pay\n  require amount <= 100\n",
              "rule a:\n  on pay\n  require amount >= 50\n")
    t = _tool(d, "pay")
    assert t.status is DiffStatus.CHANGES
    data = json.loads(d.to_json())
    pay = next(x for x in data["tools"] if x["tool"] == "pay")
    assert pay["status"] == "changes" and data["same"] is False
    assert pay["newly_allowed"][0]["args"]["amount"] > 100
    assert pay["newly_denied"][0]["args"]["amount"] < 50


def test_added_removed_tools_and_changed_signatures() -> None:
    new_head = HEAD.replace("tool gone(x: int)\n", "tool fresh(y: int)\n").replace(
        "tool pay(amount: real, to: str)", "tool pay(amount: real, to: str, note: str)"
    )
    d = _diff("", "", new_head)
    assert _tool(d, "gone").status is DiffStatus.REMOVED
    assert _tool(d, "fresh").status is DiffStatus.ADDED
    assert _tool(d, "pay").signature == "+note: str"
    assert _tool(d, "route").status is DiffStatus.SAME


def test_warn_rules_do_not_change_what_is_allowed() -> None:
    d = _diff("", "rule w:\n  on pay\n  require amount < 1\n  else warn \"big\"\n")
    assert d.same


def test_examples_for_earlier_call_values_stay_within_the_monitors_bound() -> None:
    old = ("spec shop version 1\ntool lookup_order(order_id: str) -> real\n"
           "tool refund(order_id: str, amount: real)\nrule a:\n  on refund\n"
           "  require amount < 100\n")
    new = old.replace("version 1", "version 2").replace(
        "require amount < 100", "require amount < 100 and order_id in lookup_order.order_id")
    text = diff(load_spec(old), load_spec(new)).render_human()
    assert "refund: narrows" in text
    assert "lookup_order.order_id = {" in text and "more values" not in text
