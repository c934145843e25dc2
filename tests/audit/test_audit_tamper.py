"""Every single-record mutation class, rollback, fork and re-signing are detected, and
verification names the first bad record with the right GG5xx code."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from guardgraph.audit import (
    AuditVerificationError,
    Event,
    EventKind,
    SignedCheckpoint,
    Signer,
    load_verifier,
    log_files,
    open_log,
    open_store,
    verify_log,
)
from guardgraph.audit._canonical import canonical_json
from guardgraph.audit._checkpoint import Checkpoint

N = 20


def _event(i: int) -> Event:
    return Event(kind=EventKind.ACTION_PROPOSED, session=f"s{i % 4}", actor="payments",
                 payload={"tool": "send_money", "call_id": f"c{i}", "agent": "payments",
                          "args": {"amount": 100 + i}})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with open_log(path, checkpoint_every=5) as log:
        for i in range(N):
            log.record(_event(i))
    return path


def _verify(db: Path, **kw) -> AuditVerificationError:
    key = load_verifier(str(log_files(db).public_key))
    store = open_store(db)
    try:
        with pytest.raises(AuditVerificationError) as info:
            verify_log(store, public_keys=[key], **kw)
    finally:
        store.close()
    return info.value


def _sql(db: Path, *statements: str, params: tuple = ()) -> None:
    """Tamper as whoever holds the file would: the append-only triggers dropped first."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints=ON")  # the gapless CHECK, too
    for trig in ("gg_records_no_update", "gg_records_no_delete", "gg_nodes_no_update",
                 "gg_nodes_no_delete", "gg_checkpoints_no_update", "gg_checkpoints_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trig}")
    for sql in statements:
        conn.execute(sql, params if "?" in sql else ())
    conn.close()


def _body(db: Path, seq: int) -> dict:
    conn = sqlite3.connect(db)
    (body,) = conn.execute("SELECT body FROM gg_records WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return json.loads(body)


def _put(db: Path, seq: int, fields: dict, *, rehash: bool) -> str:
    body = canonical_json(fields)
    import hashlib

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS gg_records_no_update")
    if rehash:
        h = hashlib.sha256(body).hexdigest()
        conn.execute("UPDATE gg_records SET body = ?, hash = ? WHERE seq = ?", (body, h, seq))
    else:
        conn.execute("UPDATE gg_records SET body = ? WHERE seq = ?", (body, seq))
        (h,) = conn.execute("SELECT hash FROM gg_records WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    return h


def test_the_honest_log_verifies(db: Path) -> None:
    key = load_verifier(str(log_files(db).public_key))
    store = open_store(db)
    report = verify_log(store, public_keys=[key], deep=True)
    assert report.records == N and report.checkpoints == 4 and report.unsigned_tail == 0
    store.close()


def test_edit_is_detected_at_the_edited_record(db: Path) -> None:
    fields = _body(db, 7)
    fields["payload"]["args"]["amount"] = 99999
    _put(db, 7, fields, rehash=False)
    err = _verify(db)
    assert (err.code, err.seq, err.record_id) == ("GG502", 7, fields["id"])


def test_edit_with_a_fresh_hash_breaks_the_chain_at_the_next_record(db: Path) -> None:
    fields = _body(db, 7)
    fields["actor"] = "mallory"
    _put(db, 7, fields, rehash=True)
    err = _verify(db)
    assert (err.code, err.seq) == ("GG501", 8)


def test_rechaining_the_whole_tail_contradicts_the_signed_tree_heads(db: Path) -> None:
    fields = _body(db, 7)
    fields["payload"]["args"]["amount"] = 1
    prev = _put(db, 7, fields, rehash=True)
    for seq in range(8, N):
        f = _body(db, seq)
        f["prev_hash"] = prev
        prev = _put(db, seq, f, rehash=True)
    err = _verify(db)
    assert err.code == "GG503" and err.seq == 7  # located through the stored leaves


def test_deleting_a_record_in_the_middle_leaves_a_gap(db: Path) -> None:
    _sql(db, "PRAGMA foreign_keys=OFF", "DELETE FROM gg_records WHERE seq = 11")
    err = _verify(db)
    assert (err.code, err.seq) == ("GG507", 11)


def test_deleting_the_last_record_contradicts_the_checkpoint(db: Path) -> None:
    _sql(db, "DELETE FROM gg_records WHERE seq = 19")
    err = _verify(db)
    assert (err.code, err.seq) == ("GG505", 19)
    assert "removed from the end" in err.reason


def test_inserting_a_record_shifts_the_sequence(db: Path) -> None:
    _sql(
        db,
        "PRAGMA foreign_keys=OFF",
        "UPDATE gg_records SET seq = seq + 1000 WHERE seq >= 5",
        "UPDATE gg_records SET seq = seq - 999 WHERE seq >= 1000",
        "INSERT INTO gg_records SELECT 5, 4, 'forged', hash, body, session, actor, kind,"
        " decision, tool, rules, ts, NULL FROM gg_records WHERE seq = 4",
    )
    err = _verify(db)
    assert (err.code, err.seq) == ("GG507", 5)


def test_reordering_two_records_is_detected(db: Path) -> None:
    _sql(
        db,
        "PRAGMA foreign_keys=OFF",
        "UPDATE gg_records SET seq = 1000 WHERE seq = 3",
        "UPDATE gg_records SET seq = 3 WHERE seq = 4",
        "UPDATE gg_records SET seq = 4 WHERE seq = 1000",
    )
    err = _verify(db)
    assert (err.code, err.seq) == ("GG507", 3)


def test_rollback_to_an_earlier_copy_is_detected_by_the_witness(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with open_log(path, checkpoint_every=5) as log:
        for i in range(10):
            log.record(_event(i))
        shutil.copy(path, tmp_path / "early.db")  # WAL content is checkpointed at close
    early = tmp_path / "early.db"
    with open_log(path, checkpoint_every=5) as log:
        for i in range(10, 20):
            log.record(_event(i))
    witness = SignedCheckpoint.parse(log_files(path).witness.read_text())
    assert witness.size == 20
    # the attacker restores the earlier database; the earlier copy alone looks fine
    shutil.copy(early, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    err = _verify(path, trusted_checkpoints=[witness])
    assert err.code == "GG505" and "removed from the end" in err.reason
    # and the log refuses to sign a head that contradicts what it signed before
    log = open_log(path)
    with pytest.raises(AuditVerificationError, match="rolled back"):
        log.checkpoint()
    log.close(checkpoint=False)


def test_a_fork_two_heads_of_one_size_is_detected(db: Path) -> None:
    signer = Signer.parse(log_files(db).key.read_text())
    other_root = Checkpoint(origin=signer.name, size=10, root_hash=b"\x01" * 32)
    err = _verify(db, trusted_checkpoints=[signer.sign(other_root)])
    assert err.code == "GG505" and "fork" in err.reason


def test_rewriting_history_and_resigning_with_another_key_is_detected(
    db: Path, tmp_path: Path
) -> None:
    store = open_store(db)
    records = list(store.iter_records())
    store.close()
    forged_db = tmp_path / "forged.db"
    with open_log(forged_db, checkpoint_every=5) as log:
        for r in records:
            payload = dict(r.payload, args={"amount": 1}) if r.seq == 3 else r.payload
            log.record(Event(kind=r.kind, session=r.session, actor=r.actor, payload=payload,
                             id=r.id, timestamp=r.timestamp))
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(forged_db, db)
    err = _verify(db)
    assert err.code == "GG504" and "trusted key" in err.reason


def test_a_bit_flip_in_a_stored_signature_is_detected(db: Path) -> None:
    conn = sqlite3.connect(db)
    (note,) = conn.execute("SELECT note FROM gg_checkpoints WHERE size = 10").fetchone()
    conn.close()
    cp = SignedCheckpoint.parse(note)
    sig = cp.signatures[0]
    flipped = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    bad = SignedCheckpoint(checkpoint=cp.checkpoint,
                           signatures=(type(sig)(name=sig.name, key_id=sig.key_id,
                                                 signature=flipped),))
    _sql(db, "DELETE FROM gg_checkpoints WHERE size = 10")
    _sql(db, "INSERT INTO gg_checkpoints (size, note) VALUES (10, ?)", params=(bad.note,))
    err = _verify(db)
    assert err.code == "GG504"


def test_tampered_merkle_nodes_are_detected(db: Path) -> None:
    _sql(db, "UPDATE gg_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 4")
    err = _verify(db)  # node (2, 4) is part of the current frontier of 20 leaves
    assert err.code == "GG503"
    _sql(db, "UPDATE gg_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 0")
    err = _verify(db, deep=True)
    assert err.code == "GG503"


def test_a_malformed_body_is_refused(db: Path) -> None:
    import hashlib

    body = b'{"not":"a record"}'
    _sql(db, "UPDATE gg_records SET body = ?, hash = ? WHERE seq = 2",
         params=(body, hashlib.sha256(body).hexdigest()))
    err = _verify(db)
    assert (err.code, err.seq) == ("GG502", 2)


def test_the_log_refuses_to_sign_a_rewritten_history(db: Path) -> None:
    from guardgraph.audit._merkle import Frontier, leaf_of_record_hash

    fields = _body(db, 12)
    fields["decision"] = "deny"
    prev = _put(db, 12, fields, rehash=True)
    for seq in range(13, N):
        f = _body(db, seq)
        f["prev_hash"] = prev
        prev = _put(db, seq, f, rehash=True)
    # a thorough attacker also rebuilds the stored Merkle nodes from the new records
    conn = sqlite3.connect(db, isolation_level=None)
    hashes = [h for (h,) in conn.execute("SELECT hash FROM gg_records ORDER BY seq")]
    tree, nodes = Frontier(), []
    for h in hashes:
        tree.append(leaf_of_record_hash(h), nodes)
    conn.execute("DROP TRIGGER gg_nodes_no_update")
    conn.execute("DROP TRIGGER gg_nodes_no_delete")
    conn.execute("DELETE FROM gg_nodes")
    conn.executemany("INSERT INTO gg_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
    conn.close()
    assert _verify(db).code == "GG503"
    log = open_log(db)
    with pytest.raises(AuditVerificationError, match="does not extend") as info:
        log.checkpoint()
    assert info.value.code == "GG505"
    log.close(checkpoint=False)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("statements", "code", "seq"),
    [
        (["UPDATE gg_records SET body = body || '\\x20'::bytea WHERE seq = 6"], "GG502", 6),
        (["DELETE FROM gg_records WHERE seq = 4"], "GG507", 4),
        (["UPDATE gg_records SET seq = seq + 100 WHERE seq IN (2, 3)",
          "UPDATE gg_records SET seq = 5 - (seq - 100) WHERE seq >= 100"], "GG507", 2),
        (["DELETE FROM gg_records WHERE seq = 9"], "GG505", 9),
    ],
)
def test_tampering_with_a_postgres_log_is_detected(statements, code, seq) -> None:
    import psycopg
    from _audit_pg import fresh_schema, postgres_url

    from guardgraph.audit import AuditLog
    from guardgraph.audit._postgres import _split_target

    signer = Signer.generate("example.org/pg")
    with fresh_schema(postgres_url()) as url:
        with AuditLog(open_store(url), signer=signer, checkpoint_every=5) as log:
            for i in range(10):
                log.record(_event(i))
        base, schema = _split_target(url, None)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute("ALTER TABLE gg_records DISABLE TRIGGER ALL")  # what an owner can do
            conn.execute("ALTER TABLE gg_records DROP CONSTRAINT gg_records_check")
            conn.execute("ALTER TABLE gg_records DROP CONSTRAINT gg_records_prev_seq_fkey")
            for sql in statements:
                conn.execute(sql)
        store = open_store(url)
        try:
            with pytest.raises(AuditVerificationError) as info:
                verify_log(store, public_keys=[signer.verifier])
        finally:
            store.close()
        assert (info.value.code, info.value.seq) == (code, seq)
