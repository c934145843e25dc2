"""`guardgraph audit query|trace|report|generate`: data on stdout, messages on stderr."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardgraph.audit import open_store
from guardgraph.cli import app

runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "audit.db"
    code, _, err = _run("audit", "generate", str(path), "--sessions", "120", "--seed", "7",
                        "--spec-change-every", "50")
    assert code == 0, err
    assert "wrote" in err and "120 sessions" in err
    return str(path)


def _jsonl(db: str, *filters: str) -> list[dict[str, object]]:
    code, out, err = _run("audit", "query", db, "--format", "jsonl", *filters)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_generate_writes_a_signed_verifiable_log(db: str) -> None:
    assert Path(db + ".pub").is_file()
    store = open_store(db)
    try:
        assert store.size() > 120 * 5 and store.checkpoints()
    finally:
        store.close()


def test_generate_is_reproducible(tmp_path: Path, db: str) -> None:
    other = tmp_path / "again.db"
    assert _run("audit", "generate", str(other), "--sessions", "120", "--seed", "7",
                "--spec-change-every", "50")[0] == 0
    assert [r["id"] for r in _jsonl(str(other))] == [r["id"] for r in _jsonl(db)]


def test_query_filters_combine(db: str) -> None:
    everything = _jsonl(db)
    denied = _jsonl(db, "--decision", "deny", "--tool", "send_money")
    assert denied and all(r["decision"] == "deny" and r["tool"] == "send_money"
                          for r in denied)
    assert len(denied) == sum(1 for r in everything
                              if r["decision"] == "deny" and r["tool"] == "send_money")
    session = str(everything[50]["session"])
    assert {r["session"] for r in _jsonl(db, "--session", session)} == {session}
    by_rule = _jsonl(db, "--rule", "no_injected_recipient", "--kind", "verdict")
    assert by_rule and all("no_injected_recipient" in r["rule_ids"] for r in by_rule)  # type: ignore[operator]
    assert {r["actor"] for r in _jsonl(db, "--agent", "research")} == {"research"}
    middle = str(everything[len(everything) // 2]["timestamp"])
    late = _jsonl(db, "--since", middle)
    early = _jsonl(db, "--until", middle)
    assert len(late) + len(early) == len(everything)
    assert len(_jsonl(db, "--limit", "3")) == 3


def test_query_table_is_readable(db: str) -> None:
    code, out, err = _run("audit", "query", db, "--decision", "repair", "--limit", "2",
                          env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert code == 0
    header, *rows = [line for line in out.splitlines() if line.strip()]
    assert header.split()[:4] == ["seq", "time", "session", "kind"]
    assert len(rows) == 2 and all("single_transfer_cap" in r for r in rows)
    assert "2 record(s) matching decision=repair limit=2" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--since", "yesterday"), "since: expected an RFC 3339"),
     (("--kind", "nap"), "unknown record kind 'nap'"),
     (("--since", "2026-05-02", "--until", "2026-05-01"), "since <= until")],
)
def test_query_bad_input_is_one_clear_line(db: str, args: tuple[str, ...], message: str) -> None:
    code, out, err = _run("audit", "query", db, *args)
    assert code == 2 and out == "" and message in err


def test_missing_database_is_named_with_a_hint(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    code, _, err = _run("audit", "query", str(missing))
    assert code == 2
    assert f"no audit log at {missing}" in err and "hint: create one" in err
    assert not missing.exists()  # reading never creates an empty log


def test_trace_tree_and_json(db: str) -> None:
    tainted = _jsonl(db, "--rule", "no_injected_recipient", "--kind", "verdict")[0]
    code, out, _ = _run("audit", "trace", db, str(tainted["id"]))
    assert code == 0
    assert out.splitlines()[0].startswith("verdict ESCALATE send_money")
    assert "(UNTRUSTED)" in out and "task_received" in out and "route_decided" in out
    code, out, _ = _run("audit", "trace", db, str(tainted["id"]), "--format", "json")
    tree = json.loads(out)
    assert tree["id"] == tainted["id"]
    assert tree["derives_from"][0]["kind"] == "action_proposed"


def test_trace_unknown_record(db: str) -> None:
    code, out, err = _run("audit", "trace", db, "no-such-id")
    assert code == 2 and out == ""
    assert "no record with id, prefix or sequence number 'no-such-id'" in err


def test_report_formats(db: str, tmp_path: Path) -> None:
    out_file = tmp_path / "report.html"
    code, _, err = _run("audit", "report", db, "--out", str(out_file))
    assert code == 0 and "verification verified" in err
    page = out_file.read_text(encoding="utf-8")
    assert 'data-testid="verification-status">verified<' in page
    code, md, _ = _run("audit", "report", db, "--format", "md")
    assert code == 0 and md.startswith("# guardgraph audit report") and "**verified**" in md
    code, text, _ = _run("audit", "report", db, "--format", "json", "--no-verify")
    data = json.loads(text)
    assert code == 0 and data["verification"]["status"] == "not_checked"
    assert data["records"] == len(_jsonl(db))
    assert data["decisions_total"] == len(_jsonl(db, "--kind", "verdict"))


def test_report_on_a_tampered_log_fails_and_names_the_record(db: str, tmp_path: Path) -> None:
    copy = tmp_path / "tampered.db"
    copy.write_bytes(Path(db).read_bytes())
    victim = _jsonl(db, "--decision", "deny", "--limit", "1")[0]
    con = sqlite3.connect(copy)
    with con:  # an attacker with file access can drop the append-only triggers
        con.execute("DROP TRIGGER gg_records_no_update")
        body = con.execute("SELECT body FROM gg_records WHERE id = ?",
                           (victim["id"],)).fetchone()[0]
        con.execute("UPDATE gg_records SET body = ? WHERE id = ?",
                    (bytes(body).replace(b'"deny"', b'"allow"'), victim["id"]))
    con.close()
    out_file = tmp_path / "tampered.html"
    code, _, err = _run("audit", "report", str(copy), "--out", str(out_file))
    assert code == 1 and "the log does not verify" in err
    page = out_file.read_text(encoding="utf-8")  # the report is still written, for review
    assert 'data-testid="verification-status">failed<' in page and str(victim["id"]) in page
