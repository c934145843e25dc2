"""The record contract, run against every audit store: each event kind's written schema is
checked on write, retries are idempotent by event id, a conflict is refused, a checkpoint
failure after the commit never makes a caller write twice, and read-only stores write
nothing."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from guardgraph.audit import (
    AuditLog,
    AuditStore,
    Event,
    EventKind,
    Signer,
    open_store,
    short_ids,
    verify_log,
)
from guardgraph.audit.events import (
    ActionExecuted,
    ActionProposed,
    ApprovalAnswered,
    ApprovalRequested,
    ErrorOccurred,
    ModelDeployed,
    ModelTrained,
    Payload,
    RouteDecided,
    SpecChanged,
    SpecLoaded,
    TaskReceived,
    ToolResult,
    UserMessage,
    VerdictReached,
)
from guardgraph.errors import (
    AuditCheckpointError,
    AuditConflictError,
    AuditPayloadError,
    AuditStoreError,
)

ONE_OF_EACH: tuple[Payload, ...] = (
    TaskReceived(task="Pay my rent", user="anna", labels=("pii",)),
    UserMessage(text="the IBAN is GB29", user="anna"),
    RouteDecided(target="payments", router="router", call_id="r1"),
    ActionProposed(tool="send_money", call_id="c1", agent="payments",
                   args={"recipient": "GB29", "amount": 12.5, "tags": ("a", "b")},
                   arg_sources={"recipient": ("rec-1",)}),
    VerdictReached(tool="send_money", call_id="c1", agent="payments", message="capped",
                   repair={"amount": 5000}, code=None, args={"amount": 7200}),
    ApprovalRequested(tool="send_money", call_id="c1", agent="payments", reason="new payee",
                      rules=("new_payee",), args_sha256="ab" * 32),
    ApprovalAnswered(tool="send_money", call_id="c1", approved=True, approver="alice",
                     reason="known"),
    ActionExecuted(tool="send_money", call_id="c1", agent="payments", args={"amount": 5000}),
    ToolResult(call_id="c1", tool="send_money", output={"ok": True, "ids": [1, 2]},
               trusted=False, untrusted_fields=("subject",)),
    ErrorOccurred(message="the guard timed out", error_type="TimeoutError", stage="guard",
                  tool="send_money", call_id="c2"),
    SpecLoaded(spec="banking", version=3, hash="cd" * 32, rules=("cap",)),
    SpecChanged(spec="banking", version=4, hash="ef" * 32, previous_version=3),
    ModelTrained(model="router", sha256="12" * 32, algorithm="ppo", metrics={"reward": 0.9}),
    ModelDeployed(model="router", sha256="12" * 32, passed=True, gate="regression"),
)


def _event(payload: Payload, **kw: Any) -> Event:
    verdict = ("repair", ("cap",)) if isinstance(payload, VerdictReached) else None
    return Event.of(payload, session="s1", actor="payments", verdict=verdict, **kw)


def test_every_kind_has_a_payload_type() -> None:
    assert {p.KIND for p in ONE_OF_EACH} == set(EventKind)


@pytest.mark.parametrize("payload", ONE_OF_EACH, ids=lambda p: p.KIND.value)
def test_each_kind_round_trips_through_the_store(store: AuditStore, payload: Payload) -> None:
    (rec,) = store.append([_event(payload)])
    (back,) = store.iter_records()
    assert back == rec and back.kind is payload.KIND
    assert back.typed_payload() == payload
    assert back.payload == payload.to_json()


BAD_PAYLOADS = [
    (EventKind.VERDICT, {"tool": "send_money"}, "needs field(s) call_id"),
    (EventKind.VERDICT, {"tool": 12, "call_id": "c"}, "field tool: expected str, got 12"),
    (EventKind.TASK_RECEIVED, {"text": "hi"}, "unknown field(s) 'text'"),
    (EventKind.ACTION_PROPOSED, {"tool": "t", "call_id": "c", "agent": "a",
                                 "args": {"x": float("nan")}}, "args.x: expected a finite"),
    (EventKind.ACTION_PROPOSED, {"tool": "t", "call_id": "c", "agent": "a",
                                 "args": {1: "x"}}, "expected string keys"),
    (EventKind.TOOL_RESULT, {"call_id": "c", "output": object()}, "expected a JSON value"),
    (EventKind.TOOL_RESULT, {"call_id": "c\ud800"}, "lone surrogate"),
    (EventKind.APPROVAL_ANSWERED, {"tool": "t", "call_id": "c", "approved": "yes",
                                   "approver": "a"}, "approved: expected bool"),
    (EventKind.TASK_RECEIVED, {"task": "t", "labels": "pii"}, "expected a list of strings"),
    (EventKind.ERROR, {"message": "m", "error_type": "E", "stage": "moon"}, "stage"),
]


@pytest.mark.parametrize(("kind", "payload", "message"), BAD_PAYLOADS,
                         ids=[f"{k.value}-{i}" for i, (k, _, _) in enumerate(BAD_PAYLOADS)])
def test_a_payload_off_its_schema_is_refused_and_nothing_is_written(
    store: AuditStore, kind: EventKind, payload: dict[str, Any], message: str
) -> None:
    good = _event(TaskReceived(task="t"))
    decision = "deny" if kind is EventKind.VERDICT else None
    bad = Event(kind=kind, session="s", actor="a", payload=payload, decision=decision)
    with pytest.raises(AuditPayloadError, match=re.escape(message)):
        store.append([good, bad])
    assert store.size() == 0
    assert store.append([good])[0].seq == 0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Event(kind=EventKind.VERDICT, session="s", actor="g", decision="maybe",
               payload={"tool": "t", "call_id": "c"}), "decision: expected one of allow"),
        (Event(kind=EventKind.VERDICT, session="s", actor="g",
               payload={"tool": "t", "call_id": "c"}), "decision: expected one of"),
        (Event(kind=EventKind.TOOL_RESULT, session="s", actor="g", decision="allow",
               payload={"call_id": "c"}), "are for verdict events"),
        (Event(kind=EventKind.TOOL_RESULT, session="s", actor=7,  # type: ignore[arg-type]
               payload={"call_id": "c"}), "actor: expected str"),
    ],
)
def test_record_fields_are_checked_too(store: AuditStore, event: Event, message: str) -> None:
    with pytest.raises(AuditPayloadError, match=message):
        store.append([event])
    assert store.size() == 0


def test_event_of_refuses_a_verdict_without_a_decision_and_a_decision_elsewhere() -> None:
    with pytest.raises(AuditPayloadError, match="needs verdict="):
        Event.of(VerdictReached(tool="t", call_id="c"), session="s", actor="g")
    with pytest.raises(AuditPayloadError, match="verdict= is for verdict events"):
        Event.of(ToolResult(call_id="c"), session="s", actor="g", verdict=("allow", ()))
    with pytest.raises(AuditPayloadError, match="expected a typed payload"):
        Event.of({"call_id": "c"}, session="s", actor="g")  # type: ignore[arg-type]


def test_values_that_lie_about_themselves_are_stored_as_what_they_are(
    store: AuditStore,
) -> None:
    class Sneaky(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    payload = ToolResult(call_id="c", output={"to": Sneaky("GB29"), "n": True})
    (rec,) = store.append([_event(payload)])
    assert type(rec.payload["output"]["to"]) is str and rec.payload["output"] == {
        "to": "GB29", "n": True}


def test_a_retry_with_the_same_event_id_returns_the_committed_record(store: AuditStore) -> None:
    seen: list[int] = []

    class Sink:
        def emit(self, record: Any) -> None:
            seen.append(record.seq)

    log = AuditLog(store, sinks=[Sink()])
    payload = ActionProposed(tool="send_money", call_id="c1", agent="p", args={"amount": 5})
    first = log.record(payload, session="t1", actor="p", event_id="t1/c1/proposed")
    again = log.record(payload, session="t1", actor="p", event_id="t1/c1/proposed")
    assert again == first and store.size() == 1
    assert seen == [0]  # a sink sees the record once, not once per retry


def test_another_event_under_a_used_event_id_is_a_conflict(store: AuditStore) -> None:
    log = AuditLog(store)
    log.record(ToolResult(call_id="c1", output=1), session="t1", actor="p", event_id="k")
    with pytest.raises(AuditConflictError, match="'k' is already used by record 0"):
        log.record(ToolResult(call_id="c1", output=2), session="t1", actor="p", event_id="k")
    with pytest.raises(AuditConflictError, match="earlier event of this batch"):
        log.record_many([_event(ToolResult(call_id="x", output=1), event_id="k2"),
                         _event(ToolResult(call_id="x", output=2), event_id="k2")])
    assert store.size() == 1


class _LostReply:
    """A store whose first append commits and then fails, as a connection that drops
    after COMMIT and before the reply does."""

    def __init__(self, inner: AuditStore) -> None:
        self.inner = inner
        self.failures = 1

    def append(self, events: Any) -> Any:
        records = self.inner.append(events)
        if self.failures:
            self.failures -= 1
            raise AuditStoreError("connection lost after the commit")
        return records

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_retry_after_a_lost_reply_commits_the_event_once(store: AuditStore) -> None:
    log = AuditLog(_LostReply(store))  # type: ignore[arg-type]
    payload = ActionExecuted(tool="send_money", call_id="c1", agent="p", args={"amount": 5})
    with pytest.raises(AuditStoreError, match="connection lost"):
        log.record(payload, session="t1", actor="p", event_id="t1/c1/executed")
    rec = log.record(payload, session="t1", actor="p", event_id="t1/c1/executed")
    assert store.size() == 1 and rec.seq == 0 and store.get_by_key("t1/c1/executed") == rec


class _FailingSigner:
    """Signs nothing: the checkpoint due after a commit fails."""

    def __init__(self) -> None:
        real = Signer.generate("example.org/log")
        self.name = real.name
        self.verifier = real.verifier

    def sign(self, checkpoint: Any) -> Any:
        raise OSError("the key's disk is gone")


def test_a_checkpoint_failure_after_the_commit_is_reported_with_the_records(
    store: AuditStore,
) -> None:
    log = AuditLog(store, signer=_FailingSigner(), checkpoint_every=2)  # type: ignore[arg-type]
    log.record(ToolResult(call_id="c0"), session="s", actor="p", event_id="e0")
    payload = ToolResult(call_id="c1", output="ok")
    with pytest.raises(AuditCheckpointError, match="are committed, but signing") as info:
        log.record(payload, session="s", actor="p", event_id="e1")
    (committed,) = info.value.records
    assert committed.seq == 1 and store.size() == 2 and log.checkpoint_failures == 1
    # the caller that retries anyway gets the same record, not a second one
    assert log.record(payload, session="s", actor="p", event_id="e1") == committed
    assert store.size() == 2


def test_a_read_only_store_refuses_writes(durable_target: str) -> None:
    s = open_store(durable_target)
    s.append([_event(TaskReceived(task="t"))])
    s.close()
    ro = open_store(durable_target, read_only=True)
    try:
        assert ro.size() == 1 and verify_log(ro).records == 1
        with pytest.raises(AuditStoreError):
            ro.append([_event(TaskReceived(task="u"))])
        assert ro.size() == 1
    finally:
        ro.close()


def test_read_only_refuses_what_is_not_an_audit_log(durable_target: str, tmp_path: Path
                                                    ) -> None:
    with pytest.raises(AuditStoreError, match=r"not an audit log|no audit log"):
        open_store(durable_target, read_only=True)
    if not durable_target.startswith("postgresql"):
        assert not Path(durable_target).exists()  # nothing was created
        other = tmp_path / "other.db"
        conn = sqlite3.connect(other)
        conn.execute("CREATE TABLE notes (x)")
        conn.commit()
        conn.close()
        before = hashlib.sha256(other.read_bytes()).hexdigest()
        with pytest.raises(AuditStoreError, match=r"not an audit log .*without the tables"):
            open_store(other, read_only=True)
        assert hashlib.sha256(other.read_bytes()).hexdigest() == before


def test_short_ids_are_unique_within_the_log(target: str) -> None:
    # Time-ordered ids: every id written within one second shares its first 8 digits.
    ids = iter(f"0193a4f2c81d{i:020x}" for i in range(40))
    s = open_store(target, id_factory=lambda: next(ids))
    try:
        recs = s.append([_event(ToolResult(call_id=f"c{i}")) for i in range(40)])
        shown = short_ids(s, [r.id for r in recs])
        assert len(set(shown.values())) == 40
        for rid, short in shown.items():
            assert s.ids_with_prefix(short, limit=2) == [rid] and len(short) >= 8
        assert s.ids_with_prefix("0193a4f2", limit=3) == [r.id for r in recs[:3]]
    finally:
        s.close()
