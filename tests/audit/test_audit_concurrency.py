"""Concurrency: threads and processes appending at once (SQLite and PostgreSQL) produce one
valid chain with no lost and no duplicated record."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _audit_pg import fresh_schema, postgres_url

from guardgraph.audit import (
    AuditLog,
    AuditStore,
    Event,
    EventKind,
    Signer,
    open_log,
    open_store,
    verify_log,
)


def _event(worker: int, i: int) -> Event:
    return Event(kind=EventKind.TOOL_RESULT, session=f"w{worker}", actor=f"agent{worker}",
                 payload={"call_id": f"{worker}-{i}", "output": {"worker": worker, "i": i}})


def _check(store: AuditStore, workers: int, per: int, signer: Signer | None = None) -> None:
    seen = [(r.payload["output"]["worker"], r.payload["output"]["i"])
            for r in store.iter_records()]
    assert len(seen) == workers * per, "records were lost or duplicated"
    assert set(seen) == {(w, i) for w in range(workers) for i in range(per)}
    for w in range(workers):  # each writer's own order is kept
        mine = [i for ww, i in seen if ww == w]
        assert mine == sorted(mine)
    report = verify_log(store, public_keys=[signer.verifier] if signer else None)
    assert report.records == workers * per


def _threads(n: int, fn: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            fn(w)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


class _CountingStore:
    """Counts appends, to show that concurrent callers are group-committed."""

    def __init__(self, inner: AuditStore) -> None:
        self.inner = inner
        self.appends = 0

    def append(self, events):
        self.appends += 1
        return self.inner.append(events)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_threads_sharing_one_log_are_group_committed(tmp_path: Path, backend: str) -> None:
    target = "memory:" if backend == "memory" else str(tmp_path / "audit.db")
    store = _CountingStore(open_store(target))
    signer = Signer.generate("example.org/log")
    log = AuditLog(store, signer=signer, checkpoint_every=100)  # type: ignore[arg-type]
    per = 100
    _threads(8, lambda w: [log.record(_event(w, i)) for i in range(per)])
    _check(store.inner, 8, per, signer)
    if backend == "sqlite":  # a durable commit takes long enough for callers to queue
        assert store.appends < 8 * per  # several callers shared a commit
    log.close()


def test_threads_with_their_own_stores_on_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    open_log(db).close()
    per = 60

    def work(w: int) -> None:
        with open_log(db, checkpoint_every=20) as log:
            for i in range(per):
                log.record(_event(w, i))

    _threads(4, work)
    store = open_store(db)
    _check(store, 4, per)
    store.close()


PROC_WRITER = textwrap.dedent(
    """
    import sys
    from guardgraph.audit import AuditLog, Event, EventKind, Signer, open_store
    target, worker, per, skey = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    log = AuditLog(open_store(target), signer=Signer.parse(skey), checkpoint_every=25)
    for i in range(per):
        events = [Event(kind=EventKind.TOOL_RESULT, session=f"w{worker}", actor="p",
                        payload={"call_id": f"{worker}-{i}",
                                 "output": {"worker": worker, "i": i}})]
        log.record_many(events)
    log.close()
    """
)


def _processes(target: str, workers: int, per: int, signer: Signer) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", PROC_WRITER, target, str(w), str(per),
                          signer.skey()], stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


def test_processes_appending_to_one_sqlite_file(tmp_path: Path) -> None:
    db = str(tmp_path / "audit.db")
    open_store(db).close()
    signer = Signer.generate("example.org/log")
    _processes(db, 4, 80, signer)
    store = open_store(db)
    _check(store, 4, 80, signer)
    store.close()


@pytest.mark.postgres
def test_processes_appending_to_one_postgres_log() -> None:
    with fresh_schema(postgres_url()) as url:
        open_store(url).close()
        signer = Signer.generate("example.org/log")
        _processes(url, 4, 80, signer)
        store = open_store(url)
        _check(store, 4, 80, signer)
        assert len(store.checkpoints()) >= 4
        store.close()


@pytest.mark.postgres
def test_threads_appending_to_one_postgres_log() -> None:
    with fresh_schema(postgres_url()) as url:
        open_store(url).close()
        per = 50

        def work(w: int) -> None:
            with AuditLog(open_store(url)) as log:
                for i in range(per):
                    log.record(_event(w, i))

        _threads(4, work)
        store = open_store(url)
        _check(store, 4, per)
        store.close()


def test_one_bad_caller_does_not_fail_the_others_in_its_group() -> None:
    inner = open_store("memory:")
    gate = threading.Event()
    batches: list[int] = []

    class Gated:
        def append(self, events):
            batches.append(len(events))
            if len(batches) == 1:
                gate.wait(10)  # hold the first commit so the next callers queue up
            return inner.append(events)

        def __getattr__(self, name):
            return getattr(inner, name)

    log = AuditLog(Gated())  # type: ignore[arg-type]
    results: dict[str, object] = {}

    def call(name: str, payload: dict) -> None:
        try:
            results[name] = log.record(Event(kind=EventKind.ERROR, session="s", actor=name,
                                             payload=payload)).seq
        except ValueError as exc:
            results[name] = exc

    first = threading.Thread(target=call, args=("first", {"message": "0", "error_type": "E"}))
    first.start()
    while not batches:
        threading.Event().wait(0.001)
    others = [threading.Thread(target=call, args=(n, p)) for n, p in
              [("good1", {"message": "1", "error_type": "E"}),
               ("bad", {"message": "b", "error_type": "E", "x": 1}),
               ("good2", {"message": "2", "error_type": "E"})]]
    for t in others:
        t.start()
    while len(log._group._queue) < 3:  # all three are waiting for the held commit
        threading.Event().wait(0.001)
    gate.set()
    for t in [first, *others]:
        t.join()
    assert isinstance(results["bad"], ValueError)
    assert sorted(v for k, v in results.items() if k != "bad") == [0, 1, 2]
    assert batches[1] == 3  # the three queued callers were tried as one group first
    assert inner.size() == 3
