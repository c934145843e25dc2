"""Redaction: sensitive fields are stored as HMAC-SHA256 under a per-log salt, and the
redacted log still verifies and proves, without the personal data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from guardgraph.audit import (
    AuditLog,
    Event,
    EventKind,
    Signer,
    open_log,
    open_store,
    redacted_matches,
    redaction_digest,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.audit._redact import Redactor
from guardgraph.audit.log import key_paths

SALT = b"s" * 32
IBAN = "GB29NWBK60161331926819"


def _pay(**extra) -> Event:
    return Event(kind=EventKind.ACTION_PROPOSED, session="s1", actor="payments",
                 payload={"tool": "send_money", "args": {"recipient": IBAN, "amount": 10},
                          **extra})


def test_marked_fields_are_stored_as_salted_hashes_only(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db, redact={"send_money": ["recipient"], "*": ["user.email"]}) as log:
        rec = log.record(_pay(user={"email": "ann@example.org", "id": 7}))
        other = log.record(Event(kind=EventKind.TASK_RECEIVED, session="s1", actor="user",
                                 payload={"tool": "read_file", "recipient": "kept"}))
    raw = db.read_bytes() + Path(str(db) + "-wal").read_bytes() if Path(
        str(db) + "-wal").exists() else db.read_bytes()
    assert IBAN.encode() not in raw and b"ann@example.org" not in raw
    salt = key_paths(db)[2].read_bytes()
    salt = bytes.fromhex(salt.decode().strip())
    stored = rec.payload["args"]["recipient"]
    assert stored.startswith("hmac-sha256:")
    assert redacted_matches(salt, IBAN, stored)
    assert not redacted_matches(salt, "GB00WRONG", stored)
    assert rec.payload["user"] == {"email": redaction_digest(salt, "ann@example.org"), "id": 7}
    assert rec.payload["args"]["amount"] == 10
    assert other.payload["recipient"] == "kept"  # not a send_money event
    assert stat.S_IMODE(key_paths(db)[2].stat().st_mode) == 0o600


def test_the_redacted_log_verifies_and_proves_without_the_salt(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with open_log(db, redact={"send_money": ["recipient"]}) as log:
        for _ in range(5):
            log.record(_pay())
        signer = log._signer
        assert signer is not None
    key_paths(db)[2].unlink()  # the reviewer never gets the salt
    store = open_store(db)
    assert verify_log(store, public_keys=[signer.verifier]).records == 5
    proof = AuditLog(store).prove_inclusion("3")
    verify_inclusion_proof(proof, verifiers=[signer.verifier])
    store.close()


def test_the_callers_payload_is_left_alone() -> None:
    log = AuditLog(open_store("memory:"), redact={"send_money": ["recipient"]}, salt=SALT)
    event = _pay()
    rec = log.record(event)
    assert event.payload["args"]["recipient"] == IBAN
    assert rec.payload["args"]["recipient"] == redaction_digest(SALT, IBAN)


def test_same_value_same_digest_within_a_log_and_different_across_salts() -> None:
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
    from guardgraph.audit import AuditKeyError

    with pytest.raises(AuditKeyError, match="at least 16 bytes"):
        Redactor({}, salt=b"short")


def test_a_missing_path_leaves_the_payload_unchanged() -> None:
    r = Redactor({"*": ["a.b.c", "zzz"]}, salt=SALT)
    payload = {"a": {"b": 1}, "args": {"x": 1}}
    assert r.apply(payload) is payload


def test_signer_key_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    open_log(db).close()
    assert stat.S_IMODE(key_paths(db)[0].stat().st_mode) == 0o600
    signer = Signer.parse(key_paths(db)[0].read_text())
    assert key_paths(db)[1].read_text().strip() == signer.verifier.vkey()


def test_a_bare_parameter_name_covers_the_call_and_its_repair() -> None:
    r = Redactor({"send_money": ["recipient"]}, salt=SALT)
    out = r.apply({"tool": "send_money", "args": {"recipient": IBAN},
                   "repair": {"recipient": "GB00OTHER", "amount": 5000}})
    assert out["args"]["recipient"] == redaction_digest(SALT, IBAN)
    assert out["repair"] == {"recipient": redaction_digest(SALT, "GB00OTHER"), "amount": 5000}


def test_open_log_refuses_to_make_up_a_new_key_for_a_signed_log(tmp_path: Path) -> None:
    from guardgraph.audit import AuditKeyError

    db = tmp_path / "audit.db"
    with open_log(db) as log:
        log.record(_pay())
    key_paths(db)[0].unlink()
    with pytest.raises(AuditKeyError, match="signed before, but its key"):
        open_log(db)
