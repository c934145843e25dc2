"""`AuditLog.record`: a typed payload with its context, or a prebuilt Event alone."""

from __future__ import annotations

import pytest

from guardgraph.audit import AuditLog, Event, open_store
from guardgraph.audit.events import TaskReceived, VerdictReached


def test_a_typed_payload_needs_its_session_and_actor() -> None:
    log = AuditLog(open_store("memory:"))
    with pytest.raises(TypeError, match="needs session= and actor="):
        log.record(TaskReceived(task="t"))
    rec = log.record(TaskReceived(task="Pay my rent", user="anna"), session="t1",
                     actor="user:anna", at="2026-05-01T10:00:00.000000Z")
    assert rec.payload["task"] == "Pay my rent" and rec.timestamp == "2026-05-01T10:00:00.000000Z"


def test_a_prebuilt_event_takes_no_keywords() -> None:
    log = AuditLog(open_store("memory:"))
    event = Event.of(TaskReceived(task="t"), session="s", actor="u")
    with pytest.raises(TypeError, match=r"takes no keywords \(got session\)"):
        log.record(event, session="other")
    assert log.record(event).session == "s"


def test_a_verdict_carries_its_decision_rules_and_spec() -> None:
    log = AuditLog(open_store("memory:"))
    rec = log.record(VerdictReached(tool="send_money", call_id="c1", message="capped",
                                    repair={"amount": 5000}),
                     session="t1", actor="guard", verdict=("repair", ["cap"]),
                     spec=("banking", 3, "ab" * 32))
    assert (rec.decision, rec.rule_ids) == ("repair", ("cap",))
    assert (rec.spec_name, rec.spec_version, rec.spec_hash) == ("banking", 3, "ab" * 32)
    assert rec.tool == "send_money" and rec.to_json()["spec"]["version"] == 3
    assert rec.typed_payload().repair == {"amount": 5000}
