"""Crash safety: a writer killed with SIGKILL mid-stream loses no record it reported as
written, and the log it leaves behind still verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from guardgraph.audit import (
    SignedCheckpoint,
    load_verifier,
    log_files,
    open_log,
    open_store,
    verify_log,
)

WRITER = textwrap.dedent(
    """
    import sys, threading
    from guardgraph.audit import AuditLog, Event, EventKind, Signer, open_log, open_store

    if sys.argv[1].startswith("postgresql://"):
        log = AuditLog(open_store(sys.argv[1]), signer=Signer.parse(sys.argv[3]),
                       checkpoint_every=25)
    else:
        log = open_log(sys.argv[1], checkpoint_every=25)
    out = threading.Lock()

    def write(worker):
        i = 0
        while True:
            rec = log.record(Event(kind=EventKind.TOOL_RESULT, session=f"w{worker}",
                                   actor="writer", payload={"call_id": f"{worker}-{i}",
                                                            "output": [worker, i]}))
            # reported only after record() returned, i.e. after the durable commit
            with out:
                sys.stdout.write(f"{rec.seq} {rec.id}\\n")
                sys.stdout.flush()
            i += 1

    threads = [threading.Thread(target=write, args=(w,), daemon=True)
               for w in range(int(sys.argv[2]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


def _run_and_kill(
    db: Path | str, workers: int, reported_before_kill: int, skey: str = ""
) -> dict[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(workers), skey],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    reported: dict[int, str] = {}
    try:
        while len(reported) < reported_before_kill:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the writer died early: {proc.stderr.read() if proc.stderr else ''}")
            seq, rid = line.split()
            reported[int(seq)] = rid
        os.kill(proc.pid, signal.SIGKILL)
        # lines already in the pipe were reported before the kill, too
        for line in proc.stdout:
            seq, rid = line.split()
            reported[int(seq)] = rid
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return reported


@pytest.mark.parametrize("workers", [1, 4])
def test_sigkill_loses_no_reported_record(tmp_path: Path, workers: int) -> None:
    db = tmp_path / "audit.db"
    open_log(db).close()  # create the key once, before writers race for it
    reported = _run_and_kill(db, workers, 300)
    store = open_store(db)
    try:
        for seq, rid in reported.items():
            rec = store.get(rid)
            assert rec is not None, f"record {seq} ({rid}) was reported written but is lost"
            assert rec.seq == seq
        witness = SignedCheckpoint.parse(log_files(db).witness.read_text())
        report = verify_log(store, public_keys=[load_verifier(str(log_files(db).public_key))],
                            trusted_checkpoints=[witness], unsigned_tail_ok=True)
        assert report.records >= len(reported)
        assert report.checkpoints >= 300 // 25 - 1
    finally:
        store.close()
    # the survivor's log goes on: a fresh writer continues the chain and signs it
    with open_log(db) as log:
        log.record_many([])
        assert log.checkpoint().size == report.records


@pytest.mark.postgres
def test_sigkill_loses_no_reported_record_on_postgres() -> None:
    from _audit_pg import fresh_schema, postgres_url

    from guardgraph.audit import Signer

    signer = Signer.generate("example.org/crash")
    with fresh_schema(postgres_url()) as url:
        open_store(url).close()
        reported = _run_and_kill(url, 4, 200, signer.skey())
        store = open_store(url)
        try:
            for seq, rid in reported.items():
                rec = store.get(rid)
                assert rec is not None and rec.seq == seq, f"record {seq} was lost"
            # a killed writer leaves records after its last checkpoint: accepted explicitly
            report = verify_log(store, public_keys=[signer.verifier], unsigned_tail_ok=True)
            assert report.records >= len(reported) and report.checkpoints >= 7
        finally:
            store.close()
