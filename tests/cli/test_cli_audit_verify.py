"""`guardgraph audit verify|prove|check-proof|checkpoint`: exit 0 ok, 1 verification
failed (naming the first bad record), 2 usage or I/O error; never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.audit import Event, EventKind, log_files, open_log
from guardgraph.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "audit.db"
    with open_log(path, checkpoint_every=10) as log:
        for i in range(25):
            log.record(Event(kind=EventKind.VERDICT, session=f"s{i % 3}", actor="payments",
                             payload={"tool": "send_money", "call_id": f"c{i}",
                                      "args": {"amount": i}},
                             decision="allow", rule_ids=("cap",)))
    return str(path)


def test_verify_an_honest_log(db: str) -> None:
    code, out, _ = _run("audit", "verify", db)
    assert code == 0
    assert out.startswith("ok: 25 records, 3 checkpoints, root ")
    code, out, _ = _run("audit", "verify", db, "--format", "json", "--deep")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["records"] == 25 and doc["signatures_checked"]


def test_verify_names_the_first_edited_record(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER gg_records_no_update")
    conn.execute("UPDATE gg_records SET body = replace(body, 'payments', 'mallory')"
                 " WHERE seq = 13")
    conn.close()
    code, _, err = _run("audit", "verify", db)
    assert code == 1
    assert err.startswith("error[GG502]: record 13 (")
    assert "does not match its hash" in err
    code, out, _ = _run("audit", "verify", db, "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["code"] == "GG502" and doc["seq"] == 13


def test_verify_with_a_foreign_key_fails(db: str, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    open_log(other).close()
    code, _, err = _run("audit", "verify", db, "--public-key", str(log_files(other).public_key))
    assert code == 1 and "GG504" in err


def test_verify_usage_errors_exit_2(db: str, tmp_path: Path) -> None:
    code, _, err = _run("audit", "verify", str(tmp_path / "missing.db"))
    assert code == 2 and "no audit log at" in err
    log_files(db).public_key.unlink()
    code, _, err = _run("audit", "verify", db)
    assert code == 2 and "no public key" in err and "hint:" in err
    code, out, _ = _run("audit", "verify", db, "--skip-signatures")
    assert code == 0 and "signatures not checked" in out
    code, _, err = _run("audit", "verify", db, "--public-key", "garbage")
    assert code == 2 and "cannot read public key" in err


def test_prove_and_check_an_inclusion_proof(db: str, tmp_path: Path) -> None:
    proof = tmp_path / "proof.json"
    code, _, err = _run("audit", "prove", db, "7", "--out", str(proof))
    assert code == 0, err
    pub = str(log_files(db).public_key)
    code, out, _ = _run("audit", "check-proof", str(proof), "--public-key", pub)
    assert code == 0 and out.startswith("ok: record 7 (") and "of 25 records" in out
    code, out, _ = _run("audit", "prove", db, "7", "--size", "10")
    assert code == 0 and json.loads(out)["tree_size"] == 10
    # a corrupted proof is rejected with exit 1
    doc = json.loads(proof.read_text())
    doc["record"]["payload"]["args"]["amount"] = 1000
    proof.write_text(json.dumps(doc))
    code, _, err = _run("audit", "check-proof", str(proof), "--public-key", pub)
    assert code == 1 and "GG502" in err
    doc["path"] = doc["path"][:-1]
    proof.write_text(json.dumps(doc))
    code, out, _ = _run("audit", "check-proof", str(proof), "--public-key", pub,
                        "--format", "json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_prove_and_check_a_consistency_proof(db: str, tmp_path: Path) -> None:
    proof = tmp_path / "c.json"
    code, _, err = _run("audit", "prove", db, "--consistency", "10", "20", "-o", str(proof))
    assert code == 0, err
    code, out, _ = _run("audit", "check-proof", str(proof), "--public-key",
                        str(log_files(db).public_key), "--format", "json")
    assert code == 0 and json.loads(out) == {
        "ok": True, "type": "consistency", "old_size": 10, "new_size": 20,
        "root_hash": json.loads(out)["root_hash"]}


def test_prove_usage_errors_exit_2(db: str, tmp_path: Path) -> None:
    code, _, err = _run("audit", "prove", db)
    assert code == 2 and "either RECORD_ID or --consistency" in err
    code, _, err = _run("audit", "prove", db, "no-such-record")
    assert code == 2 and "no record with id, prefix or sequence number 'no-such-record'" in err
    code, _, err = _run("audit", "prove", db, "3", "--size", "7")
    assert code == 2 and "no signed checkpoint of size 7" in err
    code, _, err = _run("audit", "check-proof", str(tmp_path / "nope.json"), "--public-key", "x")
    assert code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = _run("audit", "check-proof", str(bad), "--public-key",
                        str(log_files(db).public_key))
    assert code == 2 and "is not JSON" in err
    code, _, err = _run("audit", "check-proof", str(bad))
    assert code == 2 and "public key" in err


def test_checkpoint_signs_the_current_head(db: str) -> None:
    with open_log(db, checkpoint_every=0) as log:
        log.record(Event(kind=EventKind.ERROR, session="s", actor="a",
                         payload={"message": "boom", "error_type": "RuntimeError"}))
        log.close(checkpoint=False)
    code, out, _ = _run("audit", "checkpoint", db)
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "26" and lines[3] == "" and lines[4].startswith("\u2014 ")
    code, out, _ = _run("audit", "verify", db)
    assert code == 0 and "4 checkpoints" in out


@pytest.mark.postgres
def test_checkpoint_and_verify_a_postgres_log(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "audit"))
    from _audit_pg import fresh_schema, postgres_url

    from guardgraph.audit import AuditLog, Signer, open_store

    signer = Signer.generate("example.org/pg")
    key = tmp_path / "pg.key"
    key.write_text(signer.skey())
    with fresh_schema(postgres_url()) as url:
        log = AuditLog(open_store(url))
        log.record_many([Event(kind=EventKind.TOOL_RESULT, session="s", actor="a",
                               payload={"call_id": f"c{i}", "output": i}) for i in range(7)])
        log.close()
        code, _, err = _run("audit", "checkpoint", url)
        assert code == 2 and "--key" in err
        code, out, _ = _run("audit", "checkpoint", url, "--key", str(key))
        assert code == 0 and out.splitlines()[1] == "7"
        code, out, _ = _run("audit", "verify", url, "--public-key", signer.verifier.vkey())
        assert code == 0 and out.startswith("ok: 7 records, 1 checkpoint,")


def test_checkpoint_refuses_to_make_up_a_new_key_for_a_signed_log(db: str) -> None:
    log_files(db).key.unlink()
    code, _, err = _run("audit", "checkpoint", db)
    assert code == 2 and "its key" in err and "is missing" in err
    assert not log_files(db).key.exists()
