"""Guard latency, throughput and peers, measured side by side in one run (issue 4).

    .venv/bin/python benchmarks/guard_latency.py [--checks 20000] [--sizes 10,1000,100000]
        [--no-redis] [--no-invariant] [--out benchmarks/results/guard.md]

Measures, with a generated 100-rule spec (argument limits, windowed aggregates, temporal,
provenance, string and approval rules over 10 tools):
1. per-check latency p50/p99 at 10 / 1,000 / 100,000 prior events in the session
   (median of 3 interleaved rounds);
2. checks/s of one process; check-and-commit/s of 4 processes sharing a Redis store;
3. the naive baseline: a fresh ``z3.Solver`` per action (given the same monitor values,
   so the baseline pays only for Z3), and the ratio;
4. the invariant-ai analyzer on the same rule and traces at 0/20/200/2,000 prior calls,
   installed into its own venv in a temp dir (reported honestly when it cannot install);
5. a 10-step plan with symbolic amounts checked by `Guard.check_plan`;
6. `Guard.check_many` over K = 16 and 64 candidate actions (a learner's action mask) against
   K separate `evaluate` calls on the same session, in the same run; `check_and_commit`;
   and the async twins (`aevaluate`, `acheck_and_commit`) awaited one at a time.
Results are printed as markdown and written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import z3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardgraph.guardrails import Action, Guard, Policy, Session, Symbolic
from guardgraph.guardrails._check import Checker, read_context
from guardgraph.guardrails._program import z3_assignment
from guardgraph.guardrails._session_state import Codec, write_blob

T0 = datetime(2026, 5, 1, tzinfo=UTC)
TOOLS = 10


def spec_text() -> str:
    """10 payment-like tools with 10 rules each: 100 rules."""
    out = ["spec bench version 1",
           "tool verify(method: str)",
           "tool fetch(url: str) -> str untrusted",
           "fact trusted: set[str]"]
    for k in range(TOOLS):
        t = f"pay{k}"
        out.append(f"tool {t}(recipient: str, amount: real, memo: str, count: int)")
        out += [
            f"rule {t}_cap:\n  on {t}\n  require 0 < amount and amount <= {5000 + k}\n"
            "  repair amount",
            f"rule {t}_count:\n  on {t}\n  require count >= 1 and count <= 100",
            f"rule {t}_budget:\n  on {t}\n  require sum({t}.amount within 24h) + amount "
            "<= 1000000000",
            f"rule {t}_rate:\n  on {t}\n  require count({t} within 1h) < 100000",
            f"rule {t}_big:\n  on {t}\n  require amount <= 1000 or "
            f"count({t} where amount > 1000 within 24h) < 50",
            f"rule {t}_verified:\n  on {t}\n  require once(verify where method == \"otp\" "
            "within 1h)",
            f"rule {t}_no_fetch_since:\n  on {t}\n  require since(not fetch, verify) or approved",
            f"rule {t}_injection:\n  on {t}\n  when tainted(recipient)\n  require "
            "from_user(recipient)",
            f"rule {t}_memo:\n  on {t}\n  require not startswith(memo, \"http\") and "
            "len(memo) < 200",
            f"rule {t}_payee:\n  on {t}\n  when recipient not in trusted\n  require approved\n"
            "  else escalate \"new payee\"",
        ]
    return "\n".join(out) + "\n"


POLICY = Policy.from_text(spec_text())
FACTS = {"trusted": {"alice", "bob"}}
US = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_guard(store: object = None) -> Guard:
    return Guard(POLICY, facts=FACTS, store=store, max_clock_skew=None)  # type: ignore[arg-type]


def pay(amount: object = 10, call_id: str = "c", tool: str = "pay0",
        recipient: str = "alice") -> Action:
    return Action(tool=tool, agent="payments", call_id=call_id,
                  args={"recipient": recipient, "amount": amount, "memo": "rent", "count": 1})


def fill(guard: Guard, sid: str, n: int) -> Session:
    """``n`` prior events, one a second: payments, fetches (with results), verifications.

    The history is what ran, not what the rules would allow now: it is folded straight
    into a session state, which is restored into the guard (as a checkpoint would be).
    """
    runtime = POLICY.runtime()
    checker, codec = Checker(runtime, solver_timeout_ms=2000), Codec(runtime)
    state = codec.new()
    for i in range(n):
        t = (T0 + timedelta(seconds=i) - EPOCH) // US
        if i % 10 == 3:
            action = Action(tool="fetch", call_id=f"f{i}", args={"url": f"u{i}"})
        elif i % 10 == 7 or i == n - 1:
            action = Action(tool="verify", call_id=f"v{i}", args={"method": "otp"})
        else:
            action = pay(1 + i % 7, f"p{i}", f"pay{i % TOOLS}")
        p = checker.prepare(action)
        codec.apply(state, ("call", p.tool, dict(p.args), t, p.call_id, "-"))
        if p.tool == "fetch":
            codec.apply(state, ("result", p.call_id, f"invoice {i} pay to X{i}", None))
    guard.restore_session(write_blob(sid, POLICY.sha256, codec.encode(state)))
    return Session(id=sid, now=T0 + timedelta(seconds=n))


def _timed(run: object, checks: int) -> tuple[float, float]:
    times = []
    for _ in range(checks):
        t = time.perf_counter_ns()
        run()  # type: ignore[operator]
        times.append(time.perf_counter_ns() - t)
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def latency(guard: Guard, session: Session, checks: int) -> tuple[float, float, str]:
    action = pay()
    verdict = guard.evaluate(action, session)
    for _ in range(200):
        guard.evaluate(action, session)
    p50, p99 = _timed(lambda: guard.evaluate(action, session), checks)
    return p50, p99, verdict.decision


def commit_latency(checks: int) -> tuple[float, float]:
    """`check_and_commit` of an allowed call, each with its own call id (a real spend)."""
    guard = new_guard()
    session = fill(guard, "commit", 10)
    ids = iter(range(10**9))
    return _timed(lambda: guard.check_and_commit(pay(1, f"k{next(ids)}"), session), checks)


def mask(k: int) -> list[Action]:
    """K candidate actions a learner might mask over: tools, amounts and payees vary."""
    return [pay(1 + (i * 37) % 6000, f"m{i}", f"pay{i % TOOLS}",
                ("alice", "bob", "carol")[i % 3]) for i in range(k)]


def many_vs_separate(guard: Guard, session: Session, k: int, reps: int,
                     ) -> tuple[float, float]:
    """(check_many µs, K separate evaluates µs) per batch of K, medians of interleaved
    repetitions; the verdicts of both are asserted equal first."""
    actions = mask(k)
    assert list(guard.check_many(actions, session)) == [guard.evaluate(a, session)
                                                         for a in actions]
    batch, single = [], []
    for _ in range(reps):
        t = time.perf_counter_ns()
        guard.check_many(actions, session)
        batch.append(time.perf_counter_ns() - t)
        t = time.perf_counter_ns()
        for a in actions:
            guard.evaluate(a, session)
        single.append(time.perf_counter_ns() - t)
    return statistics.median(batch) / 1000, statistics.median(single) / 1000


def async_latency(checks: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50/p99 of `aevaluate` and of `acheck_and_commit`, awaited one at a time."""
    import asyncio

    guard = new_guard()
    session = fill(guard, "async", 10)

    async def run() -> tuple[tuple[float, float], tuple[float, float]]:
        out = []
        for kind in ("evaluate", "commit"):
            times = []
            for i in range(checks + 200):
                action = pay(1, f"a{i}") if kind == "commit" else pay()
                t = time.perf_counter_ns()
                if kind == "commit":
                    await guard.acheck_and_commit(action, session)
                else:
                    await guard.aevaluate(action, session)
                if i >= 200:
                    times.append(time.perf_counter_ns() - t)
            times.sort()
            out.append((times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000))
        return out[0], out[1]

    return asyncio.run(run())


def naive(guard: Guard, session: Session, reps: int) -> float:
    """A fresh Solver per action over the same rules and the same input values."""
    runtime = guard.policy.runtime()
    policy, prog = runtime.compiled, runtime.programs["pay0"]
    checker = Checker(runtime, solver_timeout_ms=2000)
    prepared = checker.prepare(pay())
    facts = {"fact:trusted": frozenset(FACTS["trusted"])}
    blob = guard.export_session(session.id)
    codec = Codec(runtime)
    from guardgraph.guardrails._session_state import read_blob

    state = codec.decode(read_blob(blob, POLICY.sha256)[1])
    now = (session.now - EPOCH) // US  # type: ignore[operator]
    env = checker._env(prog, prepared, prepared.args, "c", read_context(session, None), facts,
                       state, now, None)
    times = []
    for _ in range(reps):
        t = time.perf_counter_ns()
        solver = z3.Solver(ctx=policy.ctx)
        for const, value in z3_assignment(policy, prog.inputs, env):
            solver.add(const == value)
        indicators = []
        for rule in prog.rules:
            solver.add(z3.Implies(rule.indicator, z3.Implies(rule.applies, rule.require)))
            indicators.append(rule.indicator)
        assert solver.check(*indicators) == z3.sat
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1000


def throughput(guard: Guard, session: Session, trials: int = 5) -> tuple[float, float]:
    """(median, best) checks/s over one-second trials: the best trial is the one least
    disturbed by other processes on the machine, as timeit reports its minimum."""
    action, rates = pay(), []
    for _ in range(trials):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            for _ in range(100):
                guard.evaluate(action, session)
            n += 100
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def _redis_worker(prefix: str, sid: str, worker: int, ops: int,
                  q: multiprocessing.Queue[float]) -> None:
    from guardgraph.guardrails import RedisStore

    guard = new_guard(RedisStore(prefix=prefix))
    session = Session(id=sid, now=T0 + timedelta(seconds=10))
    start = time.perf_counter()
    for i in range(ops):  # each a real spend: its own call id
        v = guard.check_and_commit(pay(call_id=f"w{worker}-{i}"), session)
        assert v.allowed, v.message
    q.put(time.perf_counter() - start)


def redis_throughput(ops: int, *, shared: bool) -> float | str:
    """check-and-commit/s of 4 processes (own sessions, or one shared session)."""
    try:
        import redis

        redis.Redis().ping()
    except Exception as exc:
        return f"not measured: {type(exc).__name__}: {exc}"
    from guardgraph.guardrails import RedisStore

    prefix = f"guardgraph-bench:{os.getpid()}:{time.time_ns()}:"
    setup = new_guard(RedisStore(prefix=prefix))
    for sid in ["s"] if shared else [f"s{w}" for w in range(4)]:
        fill(setup, sid, 10)
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue[float] = ctx.Queue()
    procs = [ctx.Process(target=_redis_worker,
                         args=(prefix, "s" if shared else f"s{w}", w, ops, q))
             for w in range(4)]
    for p in procs:
        p.start()
    # Each worker times its own loop (not the interpreter start-up); the slowest one
    # bounds the wall time in which all 4 * ops checks were done.
    slowest = max(q.get(timeout=600) for _ in procs)
    for p in procs:
        p.join()
    client = redis.Redis()
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    return 4 * ops / slowest


INVARIANT_SCRIPT = r'''
import json, sys, time
from invariant.analyzer import LocalPolicy
CAP = """
raise "single transfer cap" if:
    (call: ToolCall)
    call is tool:send_money
    call.function.arguments.amount > 5000
"""
FLOW = CAP + """
raise "payee from untrusted content" if:
    (out: ToolOutput) -> (call: ToolCall)
    out is tool:read_file
    call is tool:send_money
    call.function.arguments.recipient in out.content
"""
out = {}
for label, text in (("cap", CAP), ("cap+flow", FLOW)):
    policy = LocalPolicy.from_string(text)
    for n in [int(x) for x in sys.argv[1].split(",")]:
        trace = []
        for i in range(n):
            if i % 2 == 0:
                trace.append({"role": "assistant", "content": None, "tool_calls": [{"id": f"r{i}",
                    "type": "function", "function": {"name": "read_file",
                    "arguments": {"path": f"f{i}"}}}]})
            else:
                trace.append({"role": "tool", "tool_call_id": f"r{i-1}",
                              "content": f"invoice {i} pay to X{i}"})
        call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type":
            "function", "function": {"name": "send_money", "arguments": {"recipient": "alice",
            "amount": 10, "memo": "rent"}}}]}
        reps = 20 if n <= 20 else 5 if n <= 200 else 1
        times = []
        try:
            for _ in range(reps):
                t = time.perf_counter()
                result = policy.analyze_pending(trace, [call])
                times.append(time.perf_counter() - t)
            assert not result.errors, result.errors
            times.sort()
            out[f"{label}:{n}"] = times[len(times) // 2] * 1e6
        except RuntimeError as exc:  # the analyzer's own evaluation limit
            out[f"{label}:{n}"] = str(exc).split("(")[0].strip()
print(json.dumps(out))
'''


def invariant(sizes: list[int]) -> tuple[dict[str, float | str] | None, str]:
    venv = Path(tempfile.gettempdir()) / "guardgraph-bench-invariant"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(py), "-c", "import invariant.analyzer"], capture_output=True)
    if probe.returncode != 0:
        inst = subprocess.run([str(py), "-m", "pip", "install", "-q", "invariant-ai"],
                              capture_output=True, text=True)
        if inst.returncode != 0:
            return None, "pip install invariant-ai failed: " + inst.stderr.strip()[-300:]
    ver = subprocess.run([str(py), "-m", "pip", "show", "invariant-ai"], capture_output=True,
                         text=True).stdout
    version = next((x.split(":")[1].strip() for x in ver.splitlines()
                    if x.startswith("Version")), "?")
    # The analyzer refuses traces past 100 evaluation steps by default (about 100 events);
    # the limit is raised so that the cost of longer sessions can be measured at all.
    env = {**os.environ, "INVARIANT_MAX_ITERATIONS": str(10**9)}
    run = subprocess.run([str(py), "-c", INVARIANT_SCRIPT, ",".join(map(str, sizes))],
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        return None, f"invariant-ai {version} ran but failed: {run.stderr.strip()[-400:]}"
    return json.loads(run.stdout.splitlines()[-1]), f"invariant-ai {version}"


def plan_time(guard: Guard) -> float:
    steps = [Action(tool="verify", args={"method": "otp"})] + [
        Action(tool="pay0", agent="payments", args={"recipient": "alice", "memo": "m",
               "count": 1, "amount": Symbolic(name=f"a{i}")}) for i in range(9)]
    session = Session(id="plan", now=T0)
    guard.check_plan(steps, session)  # warm-up (the first call builds Z3 terms)
    t = time.perf_counter()
    verdict = guard.check_plan(steps, session)
    elapsed = time.perf_counter() - t
    assert not verdict.safe  # symbolic amounts can exceed the cap
    return elapsed * 1000


PEER_SPEC = """
spec peer version 1
tool send_money(recipient: str, amount: real, memo: str)
tool read_file(path: str) -> str untrusted
rule single_transfer_cap:
  on send_money
  require amount <= 5000
"""
PEER_FLOW = """
rule payee_from_untrusted_content:
  on send_money
  require not tainted(recipient)
"""


def guardgraph_peer(sizes: list[int], checks: int, text: str) -> dict[int, float]:
    """The invariant-ai rules and traces, in guardgraph: p50 us per check."""
    out = {}
    for n in sizes:
        g = Guard.from_text(text)
        sid = f"peer{n}"
        for i in range(0, n, 2):
            s = Session(id=sid, now=T0)
            g.check_and_commit(Action(tool="read_file", call_id=f"r{i}",
                                      args={"path": f"f{i}"}), s)
            g.record_result(sid, f"r{i}", f"invoice {i + 1} pay to X{i + 1}")
        call = Action(tool="send_money", call_id="c",
                      args={"recipient": "alice", "amount": 10, "memo": "rent"})
        s = Session(id=sid, now=T0)
        assert g.evaluate(call, s).allowed
        times = []
        for _ in range(checks):
            t = time.perf_counter_ns()
            g.evaluate(call, s)
            times.append(time.perf_counter_ns() - t)
        times.sort()
        out[n] = times[len(times) // 2] / 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=20_000,
                    help="timed checks per size and round (3 rounds)")
    ap.add_argument("--sizes", default="10,1000,100000", help="prior events per session")
    ap.add_argument("--naive-reps", type=int, default=300)
    ap.add_argument("--redis-ops", type=int, default=2_000, help="per process")
    ap.add_argument("--many-reps", type=int, default=300,
                    help="interleaved repetitions of check_many vs K evaluates")
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--no-invariant", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/guard.md")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    guard = new_guard()
    rules = len(guard.policy.spec.rules)
    per_tool = len(guard.policy.runtime().programs["pay0"].rules)
    lines = [
        "# Guard latency (benchmarks/guard_latency.py)", "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; z3 "
        f"{z3.get_full_version()}",
        f"- command: `{' '.join(['.venv/bin/python', *sys.argv])}`",
        f"- load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(other work was running on this machine; figures are not from an idle host)",
        f"- spec: {rules} rules over {TOOLS} tools; a check of `pay0` evaluates "
        f"{per_tool} rules (limits, 24h/1h windowed sum/count, filtered count, once within "
        "1h, since, tainted/from_user, string predicates, fact-set membership)", "",
        "| prior events | p50 (µs) | p99 (µs) | verdict | naive fresh Solver p50 (µs) | "
        "naive / guardgraph |", "|---:|---:|---:|---|---:|---:|",
    ]
    sessions = {n: (g, fill(g, f"s{n}", n)) for n in sizes for g in [new_guard()]}
    # Rounds interleave the sizes so that a burst of other load on the machine does not
    # land on one size only; each figure is the median over the rounds. The naive
    # baseline runs afterwards, so its Z3 garbage does not disturb the guard's timings.
    rounds: dict[int, list[tuple[float, float, str]]] = {n: [] for n in sizes}
    for _ in range(3):
        for n, (g, session) in sessions.items():
            rounds[n].append(latency(g, session, a.checks))
    for n, (g, session) in sessions.items():
        p50 = statistics.median(r[0] for r in rounds[n])
        p99 = statistics.median(r[1] for r in rounds[n])
        nv = naive(g, session, a.naive_reps)
        lines.append(f"| {n:,} | {p50:.1f} | {p99:.1f} | {rounds[n][0][2]} | {nv:.0f} | "
                     f"{nv / p50:.0f}x |")
        print(lines[-1], flush=True)
    first_session = sessions[sizes[0]]
    median_rate, best_rate = throughput(*first_session)
    lines += ["", f"- throughput, one process, `evaluate` (10 prior events): **{best_rate:,.0f} "
              f"checks/s** best of 5 one-second trials (median {median_rate:,.0f})"]
    c50, c99 = commit_latency(a.checks)
    lines.append(f"- `check_and_commit` of an allowed call (in memory, 10 prior events, each "
                 f"call its own id): p50 **{c50:.1f} µs**, p99 {c99:.1f} µs")
    (e50, e99), (k50, k99) = async_latency(a.checks // 4)
    lines.append(f"- async twins, awaited one at a time (the sync core in a worker thread): "
                 f"`aevaluate` p50 **{e50:.0f} µs** (p99 {e99:.0f}), `acheck_and_commit` p50 "
                 f"**{k50:.0f} µs** (p99 {k99:.0f})")
    lines += ["", "| `check_many` K | prior events | one `check_many` (µs) | K `evaluate` "
              "(µs) | per action (µs) | ratio |", "|---:|---:|---:|---:|---:|---:|"]
    for k in (16, 64):
        for n in (sizes[0], sizes[-1]):
            g, session = sessions[n]
            batch, single = many_vs_separate(g, session, k, a.many_reps)
            lines.append(f"| {k} | {n:,} | {batch:,.0f} | {single:,.0f} | {batch / k:.1f} | "
                         f"{single / batch:.2f}x |")
            print(lines[-1], flush=True)
    if not a.no_redis:
        own = redis_throughput(a.redis_ops, shared=False)
        shared = redis_throughput(a.redis_ops // 4, shared=True)
        fmt = lambda x: f"**{x:,.0f} check-and-commits/s**" if isinstance(x, float) else x  # noqa: E731
        lines += [f"- Redis store (local server), 4 processes, own sessions: {fmt(own)}",
                  f"- Redis store, 4 processes, one shared session and budget (optimistic "
                  f"WATCH/MULTI, retried under contention): {fmt(shared)}"]
    plan_ms = plan_time(new_guard())
    lines.append(f"- `check_plan`, 10 steps (verify + 9 payments with symbolic amounts), "
                 f"{per_tool} rules per step: **{plan_ms:.0f} ms**")
    if not a.no_invariant:
        peer_sizes = [0, 20, 200, 2000]
        theirs, note = invariant(peer_sizes)
        lines += ["", "## Peer: invariant-ai analyzer (same rules, same traces)", "",
                  f"- peer: {note}, its local analyzer `LocalPolicy.analyze_pending(past, "
                  "[call])`, which re-analyses the past events with each new call; its "
                  "default limit of 100 evaluation steps (refusing ~100-event sessions) was "
                  "raised via INVARIANT_MAX_ITERATIONS so that longer sessions run at all",
                  "- traces: alternating read_file calls and untrusted outputs, then one "
                  "send_money call; guardgraph checks the same call against the same session",
                  "- rules: `cap` = amount <= 5000; `cap+flow` adds \"payee taken from a "
                  "read_file output\" (invariant: `(out: ToolOutput) -> (call: ToolCall)` "
                  "with `recipient in out.content`; guardgraph: `not tainted(recipient)`)", "",
                  "| rules | prior events | invariant-ai p50 (µs) | guardgraph p50 (µs) | "
                  "ratio |", "|---|---:|---:|---:|---:|"]
        for label, text in (("cap", PEER_SPEC), ("cap+flow", PEER_SPEC + PEER_FLOW)):
            ours = guardgraph_peer(peer_sizes, 5000, text)
            for n in peer_sizes:
                peer = theirs.get(f"{label}:{n}") if theirs is not None else None
                if isinstance(peer, float | int):
                    lines.append(f"| {label} | {n:,} | {peer:,.0f} | {ours[n]:.1f} | "
                                 f"{peer / ours[n]:,.0f}x |")
                else:
                    lines.append(f"| {label} | {n:,} | {peer or 'n/a'} | {ours[n]:.1f} | "
                                 "n/a |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
