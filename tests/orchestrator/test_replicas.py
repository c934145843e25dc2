"""Four replicas of one guarded graph against real PostgreSQL and Redis servers, one of
them killed mid-call: the shared budget is exact, every call runs at most once, and the
audit log verifies with every executed call in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
AUDIT_TESTS = HERE.parent / "audit"


def _redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
    except Exception as exc:
        why = f"no Redis server at 127.0.0.1:6379 ({type(exc).__name__}: {exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI=true: the Redis tests must run)")
        pytest.skip(why)
    return "redis://127.0.0.1:6379/0"


def _worker(env: dict[str, str], mode: str, effects: Path, slow: float,
            threads: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE / "_replica_worker.py"), mode,
                             str(effects), str(slow), *threads], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_four_replicas_one_killed_budget_exact_calls_at_most_once(tmp_path: Path) -> None:
    sys.path.insert(0, str(AUDIT_TESTS))
    import psycopg
    from _audit_pg import postgres_url

    from guardgraph.audit import open_log
    from guardgraph.orchestrator import open_backends

    pg = postgres_url()
    redis_url = _redis_url()
    schema = "gg_orch_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    graph_url = f"{pg}?options=-csearch_path%3D{schema}"
    audit_url = f"{pg}?schema={schema}_audit"
    key = tmp_path / "audit.key"
    env = dict(os.environ)
    env.update(PYTHONPATH=f"{HERE}{os.pathsep}{env.get('PYTHONPATH', '')}", GG_PG=graph_url,
               GG_AUDIT=audit_url, GG_KEY=str(key),
               GG_REDIS=f"{redis_url}?prefix=gg-test-{schema}:")
    effects = tmp_path / "effects.txt"
    try:
        with open_backends(checkpoints=graph_url, audit=audit_url, audit_key=key):
            pass  # tables created once, before the replicas start
        threads = [f"t{i}" for i in range(12)]
        slow = _worker(env, "run", effects, 60.0, threads[0:3])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the slow replica is inside its first call
            if effects.exists() and str(slow.pid) in effects.read_text():
                break
            if slow.poll() is not None:
                pytest.fail(f"the slow replica exited: {slow.communicate()[1][-3000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("the slow replica never reached its tool")
        fast = [_worker(env, "run", effects, 0.0, threads[3 + i::3]) for i in range(3)]
        time.sleep(1.0)  # the others are running when the slow one dies
        slow.send_signal(signal.SIGKILL)
        slow.wait(timeout=30)
        for proc in fast:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
        # A fresh replica finishes the dead one's threads from their checkpoints.
        recover = _worker(env, "recover", effects, 0.0, threads[0:3])
        _, err = recover.communicate(timeout=300)
        assert recover.returncode == 0, err[-3000:]
        lines = effects.read_text().splitlines()
        amounts = [float(line.split()[2]) for line in lines]
        # One daily budget of 10000 across all replicas: exactly three payments of 3000.
        assert sum(amounts) == 9000 and len(amounts) == 3, lines
        with open_log(audit_url, key_path=key) as log:
            log.checkpoint()
            report = log.verify()
            records = list(log.store.iter_records())
        assert report.records == len(records)
        executed = Counter(r.payload["call_id"] for r in records
                           if r.kind == "action_executed")
        assert all(n == 1 for n in executed.values())  # each call at most once
        assert len(executed) == 3
        paid = [r for r in records if r.kind == "verdict" and r.payload["tool"] == "send_money"]
        assert Counter(r.decision for r in paid) == {"allow": 3, "deny": 9}
        assert all(r.rule_ids == ("daily_budget",) for r in paid if r.decision == "deny")
    finally:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_audit" CASCADE')
        import redis

        client = redis.Redis.from_url(redis_url)
        for k in client.scan_iter(f"gg-test-{schema}:*"):
            client.delete(k)
