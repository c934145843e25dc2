"""Queries: the store's indexed filter and the in-Python filter agree, on every backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from guardgraph.audit import AuditStore, open_store
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.audit.generate import generate_sessions, write_events
from guardgraph.audit.query import (
    RecordFilter,
    matches,
    parse_timestamp,
    query_records,
    record_as_json,
)
from guardgraph.errors import AuditError


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    AuditStore
]:
    target = "memory:" if request.param == "memory" else str(
        tmp_path_factory.mktemp("q") / "audit.db")
    s = open_store(target)
    write_events(s, generate_sessions(120, seed=9))
    yield s
    s.close()


def _filters(records: list[AuditRecord]) -> list[RecordFilter]:
    middle = parse_timestamp(records[len(records) // 2].timestamp)
    session = records[40].session
    return [
        RecordFilter(),
        RecordFilter(session=session),
        RecordFilter(agent="payments"),
        RecordFilter(tool="send_money"),
        RecordFilter(rule="no_injected_recipient"),
        RecordFilter(decision="deny"),
        RecordFilter(kind=EventKind.APPROVAL_ANSWERED),
        RecordFilter(decision="escalate", tool="send_money", agent="guard"),
        RecordFilter(since=middle),
        RecordFilter(until=middle),
        RecordFilter(since=middle, until=middle + timedelta(hours=1), tool="get_balance"),
        RecordFilter(decision="allow", limit=7),
        RecordFilter(session=session, limit=0),
    ]


def test_store_query_and_python_filter_agree(store: AuditStore) -> None:
    records = list(store.iter_records())
    for flt in _filters(records):
        expected = [r.id for r in records if matches(r, flt)][: flt.limit]
        assert [r.id for r in query_records(store, flt)] == expected, flt.describe()
        assert [r.id for r in query_records(records, flt)] == expected, flt.describe()
    assert any(matches(r, RecordFilter(rule="no_injected_recipient")) for r in records)


def test_since_is_inclusive_and_until_exclusive(store: AuditStore) -> None:
    records = list(store.iter_records())
    pivot = records[100]
    at = parse_timestamp(pivot.timestamp)
    assert pivot.id in {r.id for r in query_records(store, RecordFilter(since=at))}
    assert pivot.id not in {r.id for r in query_records(store, RecordFilter(until=at))}
    before = list(query_records(store, RecordFilter(until=at)))
    after = list(query_records(store, RecordFilter(since=at)))
    assert len(before) + len(after) == len(records)  # windows never double count


def test_filter_rejects_bad_values_with_a_clear_message() -> None:
    with pytest.raises(AuditError, match="limit >= 0"):
        RecordFilter(limit=-1)
    start, end = parse_timestamp("2026-05-02"), parse_timestamp("2026-05-01")
    with pytest.raises(AuditError, match="since <= until"):
        RecordFilter(since=start, until=end)
    with pytest.raises(ValueError, match=r"RFC 3339 --since.*'yesterday'"):
        parse_timestamp("yesterday", what="--since")


def test_naive_and_offset_times_mean_utc() -> None:
    assert parse_timestamp("2026-05-01T10:00:00") == parse_timestamp("2026-05-01T12:00:00+02:00")


def test_describe_names_the_set_fields() -> None:
    flt = RecordFilter(decision="deny", since=parse_timestamp("2026-05-01"))
    assert flt.describe() == "decision=deny since=2026-05-01T00:00:00+00:00"
    assert RecordFilter().describe() == "(all records)"


def test_record_as_json_is_json_and_keeps_every_field(store: AuditStore) -> None:
    record = next(query_records(store, RecordFilter(decision="repair")))
    data = json.loads(json.dumps(record_as_json(record)))
    assert data["id"] == record.id and data["hash"] == record.hash
    assert data["tool"] == "send_money" and data["decision"] == "repair"
    assert data["rule_ids"] == ["single_transfer_cap"]
    assert data["spec"]["name"] == "banking" and data["provenance"] == list(record.provenance)
    assert data["payload"]["repair"] == {"amount": 5000.0}


def test_query_on_a_sqlite_file_reopened(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    s = open_store(str(path))
    write_events(s, generate_sessions(10, seed=1))
    s.close()
    again = open_store(f"sqlite:///{path}")
    try:
        denied = list(query_records(again, RecordFilter(kind=EventKind.TASK_RECEIVED)))
        assert len(denied) == 10
    finally:
        again.close()


@pytest.mark.parametrize(
    "module",
    ["_semconv", "_timestamps", "generate", "provenance", "query", "_report_html",
     "_report_svg"],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"guardgraph.audit.{module}"))
    assert result.failed == 0 and result.attempted > 0
