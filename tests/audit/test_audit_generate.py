"""generate_sessions: seeded, realistic, with proper provenance and idempotency keys."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from guardgraph.audit import open_store
from guardgraph.audit.events import Event, EventKind
from guardgraph.audit.generate import generate_sessions, write_events


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(generate_sessions(300, seed=11, spec_change_every=100))


def test_same_seed_same_log_and_other_seed_other_log() -> None:
    first = list(generate_sessions(25, seed=5))
    assert first == list(generate_sessions(25, seed=5))
    other = list(generate_sessions(25, seed=6))
    assert [e.id for e in first] != [e.id for e in other]


def test_ids_and_idempotency_keys_are_unique_and_links_point_backwards(
    events: list[Event],
) -> None:
    ids = [e.id for e in events]
    keys = [e.idempotency_key for e in events]
    assert None not in ids and len(set(ids)) == len(ids)
    assert None not in keys and len(set(keys)) == len(keys)
    seen: set[str | None] = set()
    for e in events:
        assert set(e.provenance) <= seen, f"{e.kind} links to a later or unknown record"
        seen.add(e.id)


def test_timestamps_never_go_back(events: list[Event]) -> None:
    stamps = [e.timestamp for e in events]
    assert all(s is not None for s in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_each_link_has_the_right_shape(events: list[Event]) -> None:
    by_id = {e.id: e for e in events}
    checked = Counter[str]()
    for e in events:
        parents = [by_id[p] for p in e.provenance]
        call = e.payload.get("call_id")
        if e.kind is EventKind.TOOL_RESULT:  # a result derives from its executed call
            assert [(p.kind, p.payload["call_id"]) for p in parents] == [
                (EventKind.ACTION_EXECUTED, call)]
            checked["result"] += 1
        elif e.kind is EventKind.VERDICT:  # a verdict from its proposal
            assert [(p.kind, p.payload["call_id"]) for p in parents] == [
                (EventKind.ACTION_PROPOSED, call)]
            assert e.decision in {"allow", "deny", "escalate", "repair"}
            assert e.spec_name == "banking" and e.spec_hash
            checked["verdict"] += 1
        elif e.kind is EventKind.APPROVAL_ANSWERED:
            assert [p.kind for p in parents] == [EventKind.APPROVAL_REQUESTED]
            assert e.timestamp > parents[0].timestamp  # type: ignore[operator]
            assert e.actor.startswith("human:")
            checked["answer"] += 1
        elif e.kind is EventKind.ACTION_PROPOSED and e.payload.get("arg_sources"):
            # A payment derives from the untrusted result whose value it used.
            source = by_id[e.payload["arg_sources"]["recipient"][0]]
            assert source.id in e.provenance
            assert source.kind is EventKind.TOOL_RESULT and source.payload["trusted"] is False
            assert e.payload["args"]["recipient"] in str(source.payload["output"])
            checked["tainted payment"] += 1
    assert min(checked.values()) > 0 and len(checked) == 4, checked


def test_a_log_carries_every_kind_of_outcome(events: list[Event]) -> None:
    decisions = Counter(e.decision for e in events if e.kind is EventKind.VERDICT)
    assert {"allow", "deny", "escalate", "repair"} <= set(decisions)
    rules = {r for e in events for r in e.rule_ids}
    assert {"no_injected_recipient", "single_transfer_cap", "daily_budget",
            "payments_only", "new_payee_needs_approval"} <= rules
    answers = [e.payload["approved"] for e in events if e.kind is EventKind.APPROVAL_ANSWERED]
    assert True in answers and False in answers
    assert any(e.kind is EventKind.ERROR for e in events)
    versions = {e.spec_version for e in events if e.kind is EventKind.VERDICT}
    assert versions == {3, 4, 5}  # bumped every 100 sessions
    agents = {e.actor for e in events if e.kind is EventKind.ACTION_PROPOSED}
    assert {"payments", "support", "research", "router"} <= agents


def test_attack_rate_zero_has_no_injected_payments() -> None:
    calm = list(generate_sessions(80, seed=2, attack_rate=0.0))
    assert not any(e.payload.get("arg_sources") for e in calm)
    assert not any("payments_only" in e.rule_ids for e in calm)


def test_write_events_appends_in_batches_and_is_idempotent() -> None:
    store = open_store("memory:")
    first = write_events(store, generate_sessions(15, seed=3), batch=7)
    assert first == store.size() > 15 * 5
    write_events(store, generate_sessions(15, seed=3), batch=50)  # replay: same keys
    assert store.size() == first
    record = next(store.iter_records())
    assert record.kind is EventKind.SPEC_LOADED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_sessions": -1}, "n_sessions"), ({"attack_rate": 1.5}, "attack_rate"),
     ({"mean_gap_s": 0.0}, "mean_gap_s"), ({"start": datetime(2026, 5, 1)}, "aware")],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"n_sessions": 1, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        list(generate_sessions(**args))  # type: ignore[arg-type]


def test_start_sets_the_first_timestamp() -> None:
    first = next(generate_sessions(1, seed=0, start=datetime(2030, 1, 2, tzinfo=UTC)))
    assert first.timestamp == "2030-01-02T00:00:00.000000Z"
