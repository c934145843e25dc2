"""Provenance trees: from an outcome back to the task, through untrusted inputs."""

from __future__ import annotations

import pytest

from guardgraph.audit import AuditStore, open_store
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.provenance import node_label, provenance_json, trace_provenance
from guardgraph.errors import AuditError


@pytest.fixture(scope="module")
def store() -> AuditStore:
    s = open_store("memory:")
    write_events(s, generate_sessions(150, seed=21))
    return s


def _first(store: AuditStore, pred: object) -> AuditRecord:
    return next(r for r in store.iter_records() if pred(r))  # type: ignore[operator]


def test_a_rejected_injected_payment_traces_back_to_the_untrusted_file(
    store: AuditStore,
) -> None:
    answer = _first(store, lambda r: r.kind is EventKind.APPROVAL_ANSWERED
                    and "no_injected_recipient" in str(store.get(r.provenance[0]).payload))
    tree = trace_provenance(store.get, answer.id)
    kinds = [n.record.kind for n in tree.walk() if n.record is not None]
    assert kinds[:4] == [EventKind.APPROVAL_ANSWERED, EventKind.APPROVAL_REQUESTED,
                         EventKind.VERDICT, EventKind.ACTION_PROPOSED]
    assert EventKind.TASK_RECEIVED in kinds and EventKind.ROUTE_DECIDED in kinds
    untrusted = [n.record for n in tree.walk() if n.record is not None
                 and n.record.payload.get("trusted") is False]
    assert untrusted and untrusted[0].payload["tool"] in {"read_file", "recent_transactions"}
    # The route is reached twice (via the proposal and via the read_file call): shown once.
    repeats = [n for n in tree.walk() if n.repeat]
    assert repeats and all(not n.parents for n in repeats)
    distinct = tree.records()
    assert [r.seq for r in distinct] == sorted(r.seq for r in distinct)
    assert len({r.id for r in distinct}) == len(distinct)


def test_labels_say_what_happened(store: AuditStore) -> None:
    repair = _first(store, lambda r: r.decision == "repair")
    label = node_label(trace_provenance(store.get, repair.id))
    assert label.startswith("verdict REPAIR send_money [single_transfer_cap]")
    assert "single transfers are capped at 5000" in label


def test_json_tree_nests_derives_from(store: AuditStore) -> None:
    result = _first(store, lambda r: r.kind is EventKind.TOOL_RESULT)
    data = provenance_json(trace_provenance(store.get, result.id))
    assert data["id"] == result.id and data["kind"] == "tool_result"
    executed = data["derives_from"][0]
    assert executed["kind"] == "action_executed"
    assert {p["kind"] for p in executed["derives_from"]} == {"action_proposed", "verdict"}


def test_unknown_record_is_an_error_naming_it(store: AuditStore) -> None:
    with pytest.raises(AuditError, match="no record with id 'nope'"):
        trace_provenance(store.get, "nope")


def test_dangling_link_becomes_a_missing_node() -> None:
    s = open_store("memory:")
    (record,) = s.append([Event(kind=EventKind.VERDICT, session="s", actor="guard",
                                payload={"tool": "send_money", "call_id": "c1"},
                                provenance=("gone",), decision="deny")])
    tree = trace_provenance(s.get, record.id)
    (missing,) = tree.parents
    assert missing.record is None and node_label(missing) == "gone (missing from the log)"
    assert provenance_json(tree)["derives_from"] == [{"id": "gone", "missing": True}]


def test_max_depth_truncates(store: AuditStore) -> None:
    result = _first(store, lambda r: r.kind is EventKind.TOOL_RESULT)
    tree = trace_provenance(store.get, result.id, max_depth=2)
    assert tree.parents[0].truncated and not tree.parents[0].parents
    assert provenance_json(tree)["derives_from"][0]["truncated"] is True
    with pytest.raises(ValueError, match="max_depth"):
        trace_provenance(store.get, result.id, max_depth=0)
