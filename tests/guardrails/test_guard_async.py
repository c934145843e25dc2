"""The async twins: the sync core in a worker thread — same verdicts, no blocked loop."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from guardgraph.guardrails import Action, Guard, Policy, Session, Verdict

T0 = datetime(2026, 5, 1, tzinfo=UTC)
SPEC = """spec a version 1
tool pay(to: str, amount: int)
tool login(method: str)
fact trusted: set[str]
rule cap:
  on pay
  require amount <= 50
  repair amount
rule budget:
  on pay
  require sum(pay.amount within 1h) + amount <= 120
rule logged_in:
  on pay
  require once(login within 30m)
rule trusted_only:
  on pay
  when to not in trusted
  require approved
  else escalate "untrusted payee"
"""
POLICY = Policy.from_text(SPEC)


def _core(v: Verdict) -> tuple[object, ...]:
    sub = v.subject
    return (v.decision, v.rules, v.code, v.message, dict(v.repair or {}),
            None if sub is None else (sub.call_id, dict(sub.args), sub.at))


def _history(seed: int) -> list[tuple[Action, Session]]:
    rnd = random.Random(seed)
    out = []
    minute = 0.0
    for i in range(40):
        minute += rnd.choice([0, 0.5, 3, 20])
        sid = rnd.choice(["s1", "s2"])
        if rnd.random() < 0.25:
            action = Action(tool="login", args={"method": "otp"}, call_id=f"l{i}")
        else:
            action = Action(tool="pay", call_id=rnd.choice([f"p{i}", "dup"]),
                            args={"to": rnd.choice(["alice", "eve"]),
                                  "amount": rnd.choice([5, 30, 60, 200])})
        out.append((action, Session(id=sid, now=T0 + timedelta(minutes=minute))))
    return out


def test_sync_and_async_give_identical_verdicts_on_the_same_histories() -> None:
    for seed in range(5):
        history = _history(seed)
        sync = Guard(POLICY, facts={"trusted": {"alice"}})
        sync_out = [_core(sync.check_and_commit(a, s)) for a, s in history]
        sync_probe = [_core(v) for v in sync.check_many([a for a, _ in history[:8]],
                                                        history[-1][1])]

        async def run(history: list[tuple[Action, Session]],
                      ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            guard = Guard(POLICY, facts={"trusted": {"alice"}})
            out = []
            for i, (a, s) in enumerate(history):
                if i % 2:
                    out.append(_core(await guard.acheck_and_commit(a, s)))
                else:  # evaluate, then commit: the same as the atomic pair here
                    v = await guard.aevaluate(a, s)
                    out.append(_core(await guard.acommit(v)))
            probe = await guard.acheck_many([a for a, _ in history[:8]], history[-1][1])
            return out, [_core(v) for v in probe]

        async_out, async_probe = asyncio.run(run(history))
        assert async_out == sync_out, seed
        assert async_probe == sync_probe, seed


def test_a_slow_provider_does_not_block_the_event_loop() -> None:
    def slow(_: Session) -> object:
        time.sleep(0.3)
        return {"alice"}

    guard = Guard(POLICY, facts={"trusted": slow})

    async def run() -> tuple[int, Verdict]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        verdict = await guard.aevaluate(
            Action(tool="pay", args={"to": "alice", "amount": 1}), Session(id="x", now=T0))
        done.set()
        await task
        return ticks, verdict

    ticks, verdict = asyncio.run(run())
    assert ticks >= 10, ticks  # the loop kept running while the provider slept
    assert verdict.rules == ("logged_in",)
    guard.close()


def test_async_history_helpers() -> None:
    async def run() -> bool:
        guard = Guard(POLICY, facts={"trusted": {"alice"}})
        s = Session(id="h", now=T0)
        v = await guard.acheck_and_commit(Action(tool="login", args={"method": "otp"},
                                                 call_id="c1"), s)
        await guard.auser_message("h", "pay alice")
        known = await guard.arecord_result("h", "c1", None)
        unknown = await guard.arecord_result("h", "nope", None)
        return v.allowed and known and not unknown

    assert asyncio.run(run())
