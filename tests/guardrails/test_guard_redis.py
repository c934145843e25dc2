"""RedisStore under failure (issue 11): expiry, drop, rewind, lost replies, corrupt and
malformed entries, and processes killed mid-run never reset or overspend a budget."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis_helpers import URL, key_prefix, redis_client

from guardgraph.guardrails import Action, Decision, Guard, Policy, Session, StoreError
from guardgraph.guardrails._store import decode_event

pytestmark = pytest.mark.redis

SPEC = """spec r version 1
tool spend(amount: int)
rule budget:
  on spend
  require sum(spend.amount within 24h) + amount <= 2000
"""
POLICY = Policy.from_text(SPEC)
NOW = datetime(2026, 5, 1, tzinfo=UTC)
S = Session(id="b", now=NOW)


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from key_prefix()


def _guard(prefix: str, **kw: Any) -> Guard:
    from guardgraph.guardrails import RedisStore

    return Guard(POLICY, store=RedisStore(url=URL, prefix=prefix, **kw), max_clock_skew=None)


def spend(amount: int, call_id: str = "") -> Action:
    return Action(tool="spend", args={"amount": amount}, call_id=call_id)


def _spent(g: Guard, s: Session = S) -> int:
    v = g.evaluate(spend(5000, "probe"), s)
    assert v.code == "GG400", v.message
    return int(dict(v.failures[0].values)["sum(spend.amount within 24h)"])


def test_expired_state_is_a_deny_until_restored_never_a_fresh_session(prefix: str) -> None:
    g = _guard(prefix, ttl_s=3600)
    assert g.check_and_commit(spend(1500, "a"), S).allowed
    blob = g.export_session("b")
    client = redis_client()
    client.delete(f"{prefix}b:log", f"{prefix}b:base")  # what a TTL expiry leaves
    for guard in (g, _guard(prefix)):  # this process, and one that never saw the session
        v = guard.check_and_commit(spend(1500, "c"), S)
        assert v.decision is Decision.DENY and v.code == "GG414", v.message
        assert "expired or lost" in v.message and "redis-cli" in v.message
    assert client.ttl(f"{prefix}b:seq") == -1  # the markers never expire
    g.restore_session(blob)
    assert _spent(_guard(prefix)) == 1500
    assert g.check_and_commit(spend(600, "d"), S).decision is Decision.DENY


def test_drop_closes_the_session_for_every_replica(prefix: str) -> None:
    g, other = _guard(prefix), _guard(prefix)
    assert g.check_and_commit(spend(1900, "a"), S).allowed
    blob = g.export_session("b")
    g.drop_session("b")
    for guard in (g, other):
        v = guard.check_and_commit(spend(1900, "b"), S)
        assert v.code == "GG414" and "dropped" in v.message
    other.restore_session(blob)
    assert _spent(g) == 1900


def test_a_rewound_server_is_detected_by_the_fencing_token(prefix: str) -> None:
    g = _guard(prefix)
    for i in range(3):
        assert g.check_and_commit(spend(600, f"s{i}"), S).allowed
    client = redis_client()
    # A failover to a replica that missed the last write: one entry and its count gone.
    client.rpop(f"{prefix}b:log")
    client.decr(f"{prefix}b:seq")
    v = g.check_and_commit(spend(600, "x"), S)
    assert v.decision is Decision.DENY and v.code == "GG414" and "rewound" in v.message


class _LosesReplies:
    """A redis client whose next ``lost`` transactions commit on the server but whose
    replies are lost (the connection drops after EXEC)."""

    def __init__(self, lost: int) -> None:
        import redis

        self._real = redis.Redis.from_url(URL)
        self._errors = redis.exceptions
        self.lost = lost

    def pipeline(self, transaction: bool = True) -> Any:
        if not transaction:  # reads: never lost
            return self._real.pipeline(transaction=False)
        outer = self
        real = self._real.pipeline()

        class Pipe:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def __enter__(self) -> Pipe:
                return self

            def __exit__(self, *exc: object) -> None:
                real.reset()

            def execute(self) -> Any:
                result = real.execute()
                if outer.lost > 0:
                    outer.lost -= 1
                    raise outer._errors.ConnectionError("reply lost")
                return result

        return Pipe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_lost_reply_is_resolved_by_call_id_on_retry(prefix: str) -> None:
    from guardgraph.guardrails import RedisStore

    g = Guard(POLICY, store=RedisStore(_LosesReplies(lost=2), prefix=prefix),
              max_clock_skew=None)
    v = g.check_and_commit(spend(700, "once"), S)
    assert v.allowed
    assert _spent(g) == 700 and _spent(_guard(prefix)) == 700  # committed exactly once
    assert redis_client().llen(f"{prefix}b:log") == 1


def test_a_corrupt_entry_denies_only_its_session_with_an_operator_hint(prefix: str) -> None:
    g = _guard(prefix)
    other = Session(id="other", now=NOW)
    assert g.check_and_commit(spend(10, "a"), S).allowed
    assert g.check_and_commit(spend(10, "a"), other).allowed
    client = redis_client()
    client.rpush(f"{prefix}b:log", b'["call","spend",{"d":{"amount":"ten"}}')  # truncated
    client.incr(f"{prefix}b:seq")
    fresh = _guard(prefix)
    v = fresh.check_and_commit(spend(10, "b"), S)
    assert v.decision is Decision.DENY and v.code == "GG414"
    assert f"redis-cli LRANGE '{prefix}b:log'" in v.message
    assert fresh.check_and_commit(spend(10, "b"), other).allowed


def test_malformed_events_are_refused_at_write_time(prefix: str) -> None:
    g = _guard(prefix)
    assert g.check_and_commit(spend(10, "a"), S).allowed
    with pytest.raises(StoreError):
        g.record_result("b", "a", {"x": object()})  # no replica could read it back
    with pytest.raises(StoreError):
        g.record_result("b", "a", float("nan"))
    assert redis_client().llen(f"{prefix}b:log") == 1
    assert g.check_and_commit(spend(10, "b"), S).allowed


def _spender(prefix: str, worker: int, rounds: int) -> None:
    guard = _guard(prefix)
    for i in range(rounds):
        v = guard.check_and_commit(spend(10 + (worker * 7 + i) % 13, f"{worker}-{i}"), S)
        assert v.executable or v.code == "GG400", v.message


@pytest.mark.slow
def test_processes_killed_mid_run_never_overspend(prefix: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_spender, args=(prefix, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    client = redis_client()
    deadline = time.monotonic() + 60
    while client.llen(f"{prefix}b:log") < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(procs[0].pid, signal.SIGKILL)  # type: ignore[arg-type]  # mid-transaction or not
    os.kill(procs[1].pid, signal.SIGKILL)  # type: ignore[arg-type]
    restarted = [ctx.Process(target=_spender, args=(prefix, w, 60)) for w in (10, 11)]
    for p in restarted:
        p.start()
    for p in procs[2:] + restarted:
        p.join(timeout=120)
        assert p.exitcode == 0
    # An independent recount of what was committed, from the raw log.
    entries = [decode_event(raw) for raw in client.lrange(f"{prefix}b:log", 0, -1)]
    total = sum(e[2]["amount"] for e in entries if e[0] == "call")
    ids = [e[4] for e in entries if e[0] == "call"]
    assert len(ids) == len(set(ids))  # nothing committed twice
    assert 2000 - 23 < total <= 2000  # zero overspend, and the budget was used up
    assert _spent(_guard(prefix)) == total
