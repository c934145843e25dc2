"""The audit CLI on what is not a log, on logs nobody signed, and for readers at 80 columns:
reading verbs never write, "signed by nobody" never passes with a pinned key, a wiped log
is never signed, errors under a JSON format are JSON, short ids name one record."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.audit import (
    AuditLog,
    AuditVerificationError,
    Signer,
    log_files,
    open_log,
    open_store,
)
from guardgraph.audit.events import ToolResult, VerdictReached
from guardgraph.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "audit"))
from _audit_pg import fresh_schema, postgres_url

runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log(path: Path, n: int = 12, **options: object) -> None:
    with open_log(path, **options) as log:  # type: ignore[arg-type]
        for i in range(n):
            log.record(VerdictReached(tool="send_money", call_id=f"c{i}", agent="payments"),
                       session=f"s{i % 3}", actor="guard",
                       verdict=("deny" if i % 4 == 0 else "allow", ("cap",)))


@pytest.mark.parametrize("content", [b"", b"this is not a database" * 200],
                         ids=["empty", "garbage"])
@pytest.mark.parametrize("verb", ["verify", "query", "trace", "report", "prove"])
def test_reading_verbs_say_a_file_is_not_an_audit_log_and_leave_it_alone(
    tmp_path: Path, content: bytes, verb: str
) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    args = {"verify": ["--skip-signatures"], "trace": ["1"], "prove": ["1"],
            "report": [], "query": []}[verb]
    code, out, err = _run("audit", verb, str(path), *args)
    assert code == 2 and out == ""
    assert "is not an audit log" in err
    assert path.read_bytes() == content  # no schema, no journal mode written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_a_sqlite_database_of_something_else_is_not_written_to(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    before = _digest(path)
    for args in (["verify", "--skip-signatures"], ["query"], ["report", "--format", "md"]):
        code, _, err = _run("audit", args[0], str(path), *args[1:])
        assert code == 2 and "not an audit log" in err and "gg_records" in err
    assert _digest(path) == before


def test_errors_under_a_json_format_are_json(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"junk" * 100)
    code, out, err = _run("audit", "verify", str(path), "--format", "json")
    assert code == 2 and json.loads(err)["message"].endswith("is not an audit log (not a "
                                                             "SQLite database)")
    db = tmp_path / "audit.db"
    _log(db)
    code, out, err = _run("audit", "query", str(db), "--decision", "maybe", "--format", "jsonl")
    doc = json.loads(err)
    assert code == 2 and out == "" and doc["level"] == "error"
    assert "allow, deny, escalate, repair" in doc["message"]
    code, _, err = _run("audit", "check-proof", str(tmp_path / "none.json"), "--format", "json",
                        "--public-key", str(log_files(db).public_key))
    assert code == 2 and "cannot read" in json.loads(err)["message"]


def test_query_decision_must_be_one_of_the_four(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _log(db)
    code, out, err = _run("audit", "query", str(db), "--decision", "maybe")
    assert code == 2 and out == ""
    assert "unknown decision 'maybe'; expected one of allow, deny, escalate, repair" in err


def _unsigned(db: Path, n: int = 6) -> None:
    # Records appended, but the log never signed a checkpoint (a writer without its key).
    log = AuditLog(open_store(db))
    for i in range(n):
        log.record(ToolResult(call_id=f"c{i}"), session="s", actor="a")
    log.close()


def test_a_pinned_key_never_accepts_a_log_signed_by_nobody(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _unsigned(db)
    key = tmp_path / "reviewer.pub"
    key.write_text(Signer.generate("example.org/log").verifier.vkey())
    code, out, err = _run("audit", "verify", str(db), "--public-key", str(key))
    assert code == 1 and out == ""
    assert "error[GG506]" in err and "signed by nobody" in err
    # skipping signatures is the explicit way to check the chain alone, and says so
    code, out, _ = _run("audit", "verify", str(db), "--skip-signatures")
    assert code == 0 and "signed by nobody (signatures not checked)" in out


def test_removed_checkpoints_fail_verification(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _log(db, n=30, checkpoint_every=10)
    pub = str(log_files(db).public_key)
    assert _run("audit", "verify", str(db), "--public-key", pub)[0] == 0
    conn = sqlite3.connect(db, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM gg_checkpoints")
    conn.execute("DROP TRIGGER gg_checkpoints_no_delete")  # as whoever holds the file would
    conn.execute("DELETE FROM gg_checkpoints")
    conn.close()
    code, _, err = _run("audit", "verify", str(db), "--public-key", pub)
    assert code == 1 and "checkpoints were removed" in err  # the signer's witness says so
    log_files(db).witness.unlink()
    code, _, err = _run("audit", "verify", str(db), "--public-key", pub)
    assert code == 1 and "signed by nobody" in err


def test_an_unsigned_tail_fails_unless_accepted(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _log(db, n=10)
    _unsigned(db, n=3)  # three more records after the last checkpoint
    code, _, err = _run("audit", "verify", str(db))
    assert code == 1 and "the last 3 record(s) are not covered" in err
    code, out, err = _run("audit", "verify", str(db), "--allow-unsigned-tail")
    assert code == 0 and out.startswith("ok: 13 records")
    assert "the last 3 records are not yet covered" in err


def test_check_proof_help_says_what_it_needs() -> None:
    code, out, _ = _run("audit", "check-proof", "--help", env={"COLUMNS": "200"})
    assert code == 0
    assert "required" in out and "DB.pub beside a SQLite log" not in out
    assert "without the log" in out


def test_short_ids_are_unique_and_tables_fit_80_columns(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _log(db, n=40)  # time-ordered default ids: many share their first 8 digits
    code, out, _ = _run("audit", "query", str(db), env={"COLUMNS": "80"})
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 41 and all(len(line) <= 80 for line in lines)
    shown = [line.split()[-1] for line in lines[1:]]
    assert len(set(shown)) == 40
    store = open_store(db, read_only=True)
    try:
        for short in shown:
            assert len(store.ids_with_prefix(short, limit=2)) == 1
    finally:
        store.close()
    code, out, _ = _run("audit", "trace", str(db), shown[7])
    assert code == 0 and "verdict" in out


@pytest.mark.postgres
def test_a_wiped_postgres_log_is_never_signed(tmp_path: Path) -> None:
    import psycopg

    key = tmp_path / "audit.key"
    with fresh_schema(postgres_url()) as url:
        with open_log(url, key_path=key) as log:
            for i in range(5):
                log.record(ToolResult(call_id=f"c{i}"), session="s", actor="a")
        assert log_files(url, key_path=key).witness.is_file()  # the signer's own copy
        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(postgres_url(), autocommit=True) as conn:
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(f'TRUNCATE "{schema}".gg_records CASCADE')
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # the owner can still wipe it
        log = open_log(url, key_path=key)
        log.record(ToolResult(call_id="new"), session="s", actor="a")
        with pytest.raises(AuditVerificationError, match="rolled back"):
            log.checkpoint()
        log.close(checkpoint=False)
        code, _, err = _run("audit", "checkpoint", url, "--key", str(key))
        assert code == 1 and "refusing to sign" in err
