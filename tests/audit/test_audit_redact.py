"""Sensitive arguments: stored as HMAC-SHA256 keyed digests under a per-log key kept beside
the signing key; equal values still correlate; the redacted log still verifies and proves."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from guardgraph.audit import (
    AuditLog,
    Event,
    Signer,
    log_files,
    open_log,
    open_store,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.audit._redact import Redactor, redacted_matches, redaction_digest
from guardgraph.audit.events import ActionProposed, VerdictReached
from guardgraph.errors import AuditKeyError

SALT = b"s" * 32
IBAN = "GB29NWBK60161331926819"


def _proposal(recipient: str = IBAN) -> ActionProposed:
    return ActionProposed(tool="send_money", call_id="c1", agent="payments",
                          args={"recipient": recipient, "amount": 10})


def _raw(db: Path) -> bytes:
    wal = Path(str(db) + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_sensitive_arguments_are_stored_as_keyed_digests_only(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db) as log:
        rec = log.record(_proposal(), session="s1", actor="payments", sensitive=["recipient"])
        again = log.record(_proposal(), session="s2", actor="payments",
                           sensitive=["recipient"])
        verdict = log.record(
            VerdictReached(tool="send_money", call_id="c1", args={"recipient": IBAN},
                           repair={"recipient": IBAN, "amount": 5000}),
            session="s1", actor="guard", verdict=("repair", ("cap",)), sensitive=["recipient"])
    assert IBAN.encode() not in _raw(db)
    files = log_files(db)
    assert files.secret.parent == files.key.parent  # the digest key lives with the signing key
    assert stat.S_IMODE(files.secret.stat().st_mode) == 0o600
    key = bytes.fromhex(files.secret.read_text().strip())
    stored = rec.payload["args"]["recipient"]
    assert stored.startswith("hmac-sha256:") and redacted_matches(key, IBAN, stored)
    assert not redacted_matches(key, "GB00WRONG", stored)
    assert again.payload["args"]["recipient"] == stored  # equal values still correlate
    assert verdict.payload["repair"] == {"recipient": stored, "amount": 5000}
    assert rec.payload["args"]["amount"] == 10


def test_the_digest_key_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db) as log:
        first = log.record(_proposal(), session="s", actor="p", sensitive=["recipient"])
    with open_log(db) as log:
        second = log.record(_proposal(), session="s", actor="p", sensitive=["recipient"])
    assert first.payload["args"]["recipient"] == second.payload["args"]["recipient"]


def test_sensitive_in_clear_is_the_explicit_opt_out(tmp_path: Path) -> None:
    with open_log(tmp_path / "audit.db", sensitive_in_clear=True) as log:
        rec = log.record(_proposal(), session="s1", actor="payments", sensitive=["recipient"])
    assert rec.payload["args"]["recipient"] == IBAN
    assert not log_files(tmp_path / "audit.db").secret.exists()


def test_a_server_log_keeps_its_digest_key_beside_the_signing_key(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    files = log_files("postgresql://db.example/audit", key_path=key)
    assert {files.secret.parent, files.witness.parent, files.public_key.parent} == {key.parent}
    with pytest.raises(AuditKeyError, match="pass key_path="):
        log_files("postgresql://db.example/audit")


def test_the_redacted_log_verifies_and_proves_without_the_key(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db) as log:
        for i in range(5):
            log.record(_proposal(), session=f"s{i}", actor="p", sensitive=["recipient"])
        signer = log._signer
        assert signer is not None
    log_files(db).secret.unlink()  # the reviewer never gets the digest key
    store = open_store(db, read_only=True)
    assert verify_log(store, public_keys=[signer.verifier]).records == 5
    proof = AuditLog(store).prove_inclusion("3")
    verify_inclusion_proof(proof, verifiers=[signer.verifier])
    store.close()


def test_the_callers_payload_is_left_alone() -> None:
    log = AuditLog(open_store("memory:"), salt=SALT)
    event = Event.of(_proposal(), session="s", actor="p", sensitive=["recipient"])
    rec = log.record(event)
    assert event.payload["args"]["recipient"] == IBAN
    assert rec.payload["args"]["recipient"] == redaction_digest(SALT, IBAN)


def test_a_retried_sensitive_event_is_one_record() -> None:
    log = AuditLog(open_store("memory:"), salt=SALT)
    first = log.record(_proposal(), session="s", actor="p", event_id="s/c1/proposed",
                       sensitive=["recipient"])
    again = log.record(_proposal(), session="s", actor="p", event_id="s/c1/proposed",
                       sensitive=["recipient"])
    assert again == first and log.store.size() == 1


def test_redact_paths_digest_further_fields() -> None:
    log = AuditLog(open_store("memory:"), redact={"send_money": ["recipient"],
                                                  "*": ["args.note"]}, salt=SALT)
    rec = log.record(ActionProposed(tool="send_money", call_id="c", agent="p",
                                    args={"recipient": IBAN, "note": "rent"}),
                     session="s", actor="p")
    assert rec.payload["args"] == {"recipient": redaction_digest(SALT, IBAN),
                                   "note": redaction_digest(SALT, "rent")}


def test_same_value_same_digest_within_a_log_and_different_across_keys() -> None:
    a = Redactor({"*": ["v"]}, salt=SALT)
    b = Redactor({"*": ["v"]}, salt=b"t" * 32)
    assert a.apply({"v": [1, 2]}) == a.apply({"v": [1, 2]})
    assert a.apply({"v": 1}) != b.apply({"v": 1})


def test_replayed_redacted_payloads_are_not_hashed_twice() -> None:
    r = Redactor({"send_money": ["recipient"]}, salt=SALT)
    once = r.apply({"tool": "send_money", "args": {"recipient": IBAN}})
    assert r.apply(once) == once


def test_bad_redaction_settings_are_named() -> None:
    with pytest.raises(TypeError, match=r"redact\['send_money'\] must be a sequence"):
        Redactor({"send_money": "recipient"}, salt=SALT)
    with pytest.raises(AuditKeyError, match="at least 16 bytes"):
        Redactor({}, salt=b"short")


def test_a_missing_path_leaves_the_payload_unchanged() -> None:
    r = Redactor({"*": ["a.b.c", "zzz"]}, salt=SALT)
    payload = {"a": {"b": 1}, "args": {"x": 1}}
    assert r.apply(payload) is payload


def test_signer_key_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    open_log(db).close()
    assert stat.S_IMODE(log_files(db).key.stat().st_mode) == 0o600
    signer = Signer.parse(log_files(db).key.read_text())
    assert log_files(db).public_key.read_text().strip() == signer.verifier.vkey()


def test_open_log_refuses_to_make_up_a_new_key_for_a_signed_log(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db) as log:
        log.record(_proposal(), session="s", actor="p")
    log_files(db).key.unlink()
    with pytest.raises(AuditKeyError, match="signed before, but its key"):
        open_log(db)
