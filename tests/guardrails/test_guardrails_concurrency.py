"""One guard, many threads: check-and-commit of a budget is atomic (no lost update)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from guardgraph.guardrails import Action, Guard, Session

SPEC = """
spec c version 1
tool spend(amount: int)
rule budget:
  on spend
  require sum(spend.amount within 24h) + amount <= 1000
"""
S = Session(id="shared", now=datetime(2026, 5, 1, tzinfo=UTC))


def test_parallel_spends_never_exceed_the_budget_and_lose_nothing() -> None:
    guard = Guard.from_text(SPEC)
    allowed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(60):
            amount = 7 + (n + i) % 5
            v = guard.check_and_commit(Action(tool="spend", args={"amount": amount},
                                              call_id=f"{n}-{i}"), S)
            if v.allowed:
                with lock:
                    allowed.append(amount)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(allowed)
    assert total <= 1000
    assert total > 1000 - 11  # the budget was used up, not left half-spent
    # no lost update: the monitor's sum is exactly what was allowed
    v = guard.evaluate(Action(tool="spend", args={"amount": 1000}), S)
    (failure,) = v.failures
    assert dict(failure.values)["sum(spend.amount within 24h)"] == total


def test_sessions_are_independent_across_threads() -> None:
    guard = Guard.from_text(SPEC)
    results: dict[str, int] = {}

    def worker(sid: str) -> None:
        s = Session(id=sid, now=S.now)
        ok = sum(guard.check_and_commit(Action(tool="spend", args={"amount": 100}), s).allowed
                 for _ in range(15))
        results[sid] = ok

    threads = [threading.Thread(target=worker, args=(f"s{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {f"s{i}": 10 for i in range(6)}
