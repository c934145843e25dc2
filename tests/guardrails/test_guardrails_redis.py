"""RedisStore against the real server: several processes enforce one budget."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from redis_helpers import URL, key_prefix, redis_client

from guardgraph.guardrails import Action, Guard, Session

pytestmark = pytest.mark.redis

SPEC = """
spec r version 1
tool spend(amount: int)
rule budget:
  on spend
  require sum(spend.amount within 24h) + amount <= 2000
"""
NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from key_prefix()


def _guard(prefix: str) -> Guard:
    from guardgraph.guardrails import RedisStore

    return Guard.from_text(SPEC, store=RedisStore(url=URL, prefix=prefix))


def _spender(prefix: str, worker: int, queue: multiprocessing.Queue[list[int]]) -> None:
    guard = _guard(prefix)
    session = Session(id="budget", now=NOW)
    allowed = []
    for i in range(40):
        amount = 10 + (worker * 7 + i) % 13
        v = guard.check_and_commit(Action(tool="spend", args={"amount": amount},
                                          call_id=f"{worker}-{i}"), session)
        if v.allowed:
            allowed.append(amount)
        else:
            assert v.code == "GG400", v.message
    queue.put(allowed)


def test_four_processes_never_overspend_and_lose_nothing(prefix: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[int]] = ctx.Queue()
    procs = [ctx.Process(target=_spender, args=(prefix, w, queue)) for w in range(4)]
    for p in procs:
        p.start()
    allowed = [x for _ in procs for x in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    total = sum(allowed)
    assert 2000 - 23 < total <= 2000
    v = _guard(prefix).evaluate(Action(tool="spend", args={"amount": 2000}),
                             Session(id="budget", now=NOW))
    assert dict(v.failures[0].values)["sum(spend.amount within 24h)"] == total


def test_state_round_trips_through_redis(prefix: str) -> None:
    g = _guard(prefix)
    s = Session(id="rt", now=NOW)
    assert g.check_and_commit(Action(tool="spend", args={"amount": 1500}), s).allowed
    data = g.export_session("rt")
    other = _guard(prefix + "other:")
    other.restore_session(data)
    for amount in (499, 500, 501):
        probe = Action(tool="spend", args={"amount": amount}, call_id="probe")
        assert other.evaluate(probe, s) == g.evaluate(probe, s)
    assert not other.evaluate(Action(tool="spend", args={"amount": 501}), s).allowed


def test_read_only_check_does_not_write(prefix: str) -> None:
    client = redis_client()
    g = _guard(prefix)
    g.evaluate(Action(tool="spend", args={"amount": 1}), Session(id="ro", now=NOW))
    assert not list(client.scan_iter(f"{prefix}ro*"))  # type: ignore[attr-defined]


def test_replicas_agree_with_memory_through_compaction(prefix: str) -> None:
    from guardgraph.guardrails import RedisStore

    a = Guard.from_text(SPEC, store=RedisStore(url=URL, prefix=prefix, compact_after=5))
    b = Guard.from_text(SPEC, store=RedisStore(url=URL, prefix=prefix, compact_after=5))
    memory = Guard.from_text(SPEC)
    s = Session(id="c", now=NOW)
    for i in range(23):
        writer = a if i % 3 else b  # two replicas interleave, each compacting
        action = Action(tool="spend", args={"amount": 50 + i}, call_id=f"x{i}")
        assert writer.check_and_commit(action, s) == memory.check_and_commit(action, s)
    for amount in (1, 100, 900):
        probe = Action(tool="spend", args={"amount": amount}, call_id="probe")
        assert a.evaluate(probe, s) == b.evaluate(probe, s) == memory.evaluate(probe, s)
    client = redis_client()
    assert client.llen(f"{prefix}c:log") < 5  # type: ignore[attr-defined]
