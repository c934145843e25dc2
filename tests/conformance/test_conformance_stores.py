"""The store contract, run against every audit store: memory, SQLite (WAL), PostgreSQL:
chaining, read-back, idempotent replay, queries, checkpoints, database constraints."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from guardgraph.audit import (
    AuditLog,
    AuditRecord,
    AuditStore,
    AuditVerificationError,
    Event,
    EventKind,
    Signer,
    open_store,
    verify_log,
)
from guardgraph.audit._canonical import GENESIS_HASH, record_hash
from guardgraph.errors import AuditStoreError


def ev(i: int, **kw) -> Event:
    base = dict(
        kind=EventKind.VERDICT, session=f"s{i % 3}", actor=("payments", "support")[i % 2],
        payload={"tool": ("send_money", "get_balance")[i % 2], "call_id": f"c{i}",
                 "args": {"amount": i}},
        decision=("allow", "deny")[i % 2], rule_ids=("cap",) if i % 2 else ("cap", "budget"),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id=f"{i:016x}",
    )
    base.update(kw)
    return Event(**base)


def test_append_chains_records_in_order(store: AuditStore) -> None:
    recs = store.append([ev(i) for i in range(5)])
    assert [r.seq for r in recs] == list(range(5))
    assert recs[0].prev_hash == GENESIS_HASH
    for a, b in itertools.pairwise(recs):
        assert b.prev_hash == a.hash
    assert all(record_hash(r) == r.hash for r in recs)
    assert store.size() == 5
    more = store.append([ev(5)])
    assert more[0].seq == 5 and more[0].prev_hash == recs[-1].hash


def test_records_read_back_equal_what_was_appended(store: AuditStore) -> None:
    recs = store.append([ev(i, provenance=(f"p{i}",), spec_name="banking", spec_version=3,
                            spec_hash="ab" * 32) for i in range(4)])
    assert store.get(recs[2].id) == recs[2]
    assert store.get("no-such-id") is None
    assert list(store.iter_records()) == recs
    assert list(store.iter_records(start=1, stop=3)) == recs[1:3]
    assert [r[0] for r in store.iter_raw(start=2)] == [2, 3]
    assert recs[0].timestamp == "2026-05-01T10:00:00.000000Z"
    assert recs[0].id == "rec-00000"


def test_empty_batch_writes_nothing(store: AuditStore) -> None:
    assert store.append([]) == []
    assert store.size() == 0


def test_idempotent_replay_never_duplicates(store: AuditStore) -> None:
    first = store.append([ev(0, idempotency_key="t1/c1/node/call1/verdict"), ev(1)])
    again = store.append([ev(0, idempotency_key="t1/c1/node/call1/verdict")])
    assert again[0] == first[0]
    assert store.size() == 2
    # the same key twice in one batch: one record, returned twice
    both = store.append([ev(2, idempotency_key="k2"), ev(3), ev(2, idempotency_key="k2")])
    assert both[0] == both[2] and both[1].seq == 3
    assert store.size() == 4
    assert store.get_by_key("k2") == both[0]
    assert store.get_by_key("nope") is None


@pytest.mark.parametrize(
    ("filters", "expect"),
    [
        ({"session": "s1"}, [1, 4]),
        ({"actor": "support"}, [1, 3, 5]),
        ({"kind": "verdict"}, [0, 1, 2, 3, 4, 5]),
        ({"kind": EventKind.ERROR}, []),
        ({"decision": "deny", "session": "s0"}, [3]),
        ({"rule": "budget"}, [0, 2, 4]),
        ({"rule": "budg"}, []),
        ({"tool": "get_balance"}, [1, 3, 5]),
        ({"since": "2026-05-01T10:00:02.000000Z", "until": "2026-05-01T10:00:04.000000Z"},
         [2, 3]),
        ({"limit": 2}, [0, 1]),
    ],
)
def test_query_filters(store: AuditStore, filters: dict, expect: list[int]) -> None:
    store.append([ev(i) for i in range(6)])
    assert [r.seq for r in store.query(**filters)] == expect


def test_query_rejects_an_unknown_kind(store: AuditStore) -> None:
    with pytest.raises(AuditStoreError, match="unknown event kind 'verdikt'"):
        list(store.query(kind="verdikt"))


def test_non_json_payload_is_refused_and_nothing_is_written(store: AuditStore) -> None:
    store.append([ev(0)])
    with pytest.raises(ValueError, match="expected a JSON value"):
        store.append([ev(1), ev(2, payload={"tool": "t", "call_id": "c",
                                            "args": {"x": object()}})])
    assert store.size() == 1
    assert store.append([ev(3)])[0].seq == 1


def test_checkpoints_are_stored_once_per_size(store: AuditStore) -> None:
    signer = Signer.generate("example.org/log")
    log = AuditLog(store, signer=signer, checkpoint_every=0)
    log.record_many([ev(i) for i in range(3)])
    cp = log.checkpoint()
    assert cp.size == 3 and store.get_checkpoint(3) == cp and store.get_checkpoint() == cp
    assert log.checkpoint() == cp  # same size: the stored one, never a second signature
    assert store.checkpoints() == [cp]
    assert store.get_checkpoint(2) is None
    forged = signer.sign(type(cp.checkpoint)(origin=cp.origin, size=3, root_hash=b"\0" * 32))
    with pytest.raises(AuditVerificationError, match="another root"):
        store.add_checkpoint(forged)


def test_verify_log_passes_on_an_honest_log(store: AuditStore) -> None:
    signer = Signer.generate("example.org/log")
    log = AuditLog(store, signer=signer, checkpoint_every=4)
    for i in range(10):
        log.record(ev(i))
    report = verify_log(store, public_keys=[signer.verifier], unsigned_tail_ok=True)
    assert report.records == 10 and report.checkpoints == 2
    assert report.signed_by == ("example.org/log",) and report.unsigned_tail == 2
    # with a pinned key, records no signed checkpoint covers fail unless accepted
    with pytest.raises(AuditVerificationError, match="not covered by a signed") as info:
        verify_log(store, public_keys=[signer.verifier])
    assert info.value.code == "GG506"
    log.checkpoint()
    assert verify_log(store, public_keys=[signer.verifier]).unsigned_tail == 0


def test_stored_nodes_give_the_same_root_as_the_records(store: AuditStore) -> None:
    from guardgraph.audit._merkle import leaf_of_record_hash, root_from_leaves

    recs = store.append([ev(i) for i in range(13)])
    log = AuditLog(store)
    for n in (1, 5, 8, 13):
        leaves = [leaf_of_record_hash(r.hash) for r in recs[:n]]
        assert log.root_at(n) == root_from_leaves(leaves)


def test_unknown_option_is_named(target: str) -> None:
    with pytest.raises(AuditStoreError, match=r"unknown option.*colour"):
        open_store(target, colour="red")


def test_a_reopened_store_continues_the_chain(durable_target: str) -> None:
    target = durable_target
    s = open_store(target)
    first = s.append([ev(0), ev(1)])
    s.close()
    s = open_store(target)
    nxt = s.append([ev(2)])[0]
    assert nxt.seq == 2 and nxt.prev_hash == first[1].hash
    assert verify_log(s).records == 3
    s.close()


_TAMPERING = (
    "UPDATE gg_records SET actor = 'x'", "DELETE FROM gg_records",
    "INSERT INTO gg_records SELECT seq + 5, seq + 4, id || 'x', hash, body, session, actor,"
    " kind, decision, tool, rules, ts, NULL FROM gg_records WHERE seq = 1",
    "UPDATE gg_checkpoints SET note = 'x'", "DELETE FROM gg_checkpoints",
    "UPDATE gg_nodes SET hash = hash", "DELETE FROM gg_nodes",
)


def test_the_database_refuses_updates_deletes_and_gaps(durable_target: str) -> None:
    """Records, Merkle nodes and checkpoints: no UPDATE, no DELETE (SQLite and PostgreSQL
    triggers), no TRUNCATE (PostgreSQL statement triggers), no gap in the sequence."""
    target = durable_target
    s = open_store(target)
    s.append([ev(0), ev(1)])
    AuditLog(s, signer=Signer.generate("example.org/log")).checkpoint()
    s.close()
    if target.startswith("postgresql"):
        import psycopg

        from guardgraph.audit._postgres import _split_target

        url, schema = _split_target(target, None)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            for sql in (*_TAMPERING, "TRUNCATE gg_records CASCADE",
                        "TRUNCATE gg_checkpoints", "TRUNCATE gg_nodes", "TRUNCATE gg_head",
                        "DELETE FROM gg_head"):
                with pytest.raises(psycopg.Error, match=r"append-only|violates"):
                    conn.execute(sql)
    else:
        conn = sqlite3.connect(target)
        conn.execute("PRAGMA foreign_keys=ON")
        for sql in _TAMPERING:
            with pytest.raises(sqlite3.Error):
                conn.execute(sql)
        conn.close()
    s = open_store(target)
    assert verify_log(s).records == 2 and len(s.checkpoints()) == 1
    s.close()


def test_open_store_rejects_unknown_schemes(tmp_path: Path) -> None:
    with pytest.raises(AuditStoreError, match="unknown audit store 'mysql://x'"):
        open_store("mysql://x")
    with pytest.raises(AuditStoreError, match="is a directory"):
        open_store(tmp_path)


def test_records_are_frozen_values(store: AuditStore) -> None:
    rec = store.append([ev(0)])[0]
    assert isinstance(rec, AuditRecord)
    with pytest.raises(AttributeError):
        rec.seq = 5  # type: ignore[misc]


def test_the_postgres_suite_fails_rather_than_skips_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import _audit_pg

    monkeypatch.setattr(_audit_pg, "_CANDIDATES", ("postgresql://nobody@127.0.0.1:1/none",))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the PostgreSQL tests must run"):
        _audit_pg.postgres_url()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server"):
        _audit_pg.postgres_url()


def test_a_replayed_langgraph_node_returns_the_recorded_verdict(store: AuditStore) -> None:
    from guardgraph.audit._canonical import idempotency_key

    log = AuditLog(store)
    key = idempotency_key(thread="t1", checkpoint="c7", task="tools", tool_call="call_1",
                          phase="verdict")
    first = log.record(ev(0, idempotency_key=key))
    replay = log.record(ev(0, idempotency_key=key))  # the node ran again on resume
    assert replay == first and store.size() == 1


def test_record_returns_only_after_the_commit_is_visible_to_others(durable_target: str) -> None:
    writer = AuditLog(open_store(durable_target))
    reader = open_store(durable_target)
    try:
        for i in range(5):
            rec = writer.record(ev(i))
            # write-ahead: once record() returns, any other connection sees the record
            assert reader.get(rec.id) == rec
    finally:
        reader.close()
        writer.close()


def test_sinks_see_each_committed_record_once_and_cannot_break_the_log(
    store: AuditStore,
) -> None:
    seen: list[int] = []

    class Sink:
        def emit(self, record: AuditRecord) -> None:
            seen.append(record.seq)

    class Broken:
        def emit(self, record: AuditRecord) -> None:
            raise RuntimeError("collector down")

    log = AuditLog(store, sinks=[Sink(), Broken()])
    log.record_many([ev(i) for i in range(3)])
    log.record(ev(3))
    assert seen == [0, 1, 2, 3]
    assert log.sink_errors == 4 and store.size() == 4


def test_a_bad_event_is_refused_and_the_log_goes_on(store: AuditStore) -> None:
    log = AuditLog(store)
    with pytest.raises(ValueError, match="unknown field"):
        log.record(ev(0, payload={"bad": {1, 2}}))
    assert log.record(ev(1)).seq == 0


def test_a_closed_log_refuses_records(store: AuditStore) -> None:
    log = AuditLog(store)
    log.close()
    with pytest.raises(AuditStoreError, match="closed"):
        log.record(ev(0))
