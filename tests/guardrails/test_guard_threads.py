"""Z3 is used from many threads through one lock per policy (issue 10): the fallback
evaluator, repairs and monitor patterns, 16 threads at once, give the one-thread answers."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest

from guardgraph.guardrails import Action, Guard, Policy, Session

T0 = datetime(2026, 5, 1, tzinfo=UTC)
SPEC = """spec z version 1
tool pay(to: str, amount: int)
rule cap:
  on pay
  require amount <= 100
  repair amount
rule named:
  on pay
  require len(to) > 2 and startswith(to, "acct-")
rule few_big:
  on pay
  require count(pay where amount > 50 within 1h) < 1000
"""


def test_sixteen_threads_through_the_z3_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy.from_text(SPEC)
    programs = policy.runtime().programs
    # Force every rule through Z3: the fast path says "cannot decide" for each.
    prog = programs["pay"]
    monkeypatch.setitem(programs, "pay", dataclasses.replace(
        prog, fires=lambda env: [None] * len(prog.rules)))
    guard = Guard(policy)
    cases = [(to, amount) for to in ("acct-1", "x", "acct-22") for amount in (1, 80, 150)]

    def key(sid: str, to: str, amount: int, i: int) -> tuple[object, ...]:
        v = guard.check_and_commit(Action(tool="pay", args={"to": to, "amount": amount},
                                          call_id=f"{sid}-{i}"), Session(id=sid, now=T0))
        return (v.decision, v.rules, dict(v.repair or {}))

    expected = [key("solo", to, amount, i) for i, (to, amount) in enumerate(cases)]
    results: dict[int, list[tuple[object, ...]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def worker(n: int) -> None:
        try:
            start.wait()
            results[n] = [key(f"t{n}", to, amount, i) for i, (to, amount) in enumerate(cases)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert all(results[n] == expected for n in range(16))
    assert any(d == "repair" for d, _, _ in expected)  # repairs ran too (Optimize under lock)
