"""Audit log throughput, verification and proof times, with baselines in the same run (issue 5).

    .venv/bin/python benchmarks/audit_throughput.py [--records 1000000] [--append 100000]
        [--batch 1000] [--threads 8] [--baseline 2000] [--postgres URL | --no-postgres]
        [--out benchmarks/results/audit.md]

Measures:
1. append throughput with hashing, chaining and Merkle nodes, on SQLite (WAL,
   synchronous=FULL) and PostgreSQL: ``AuditLog.record_many`` in batches, and ``record``
   from several threads (group commit); baseline: one commit per record;
2. ``verify_log`` over a log of ``--records`` records (chain, Merkle tree heads, Ed25519
   signatures); ``--deep`` verification (every body parsed, every stored node compared);
3. inclusion proof generation at ``--records`` records, from stored nodes, and its offline
   verification; baseline: the naive proof that reads every leaf and recomputes the tree.
Results are printed as markdown and written to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardgraph.audit import (
    AuditLog,
    Event,
    Signer,
    open_store,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.audit._merkle import (
    inclusion_path,
    root_from_leaves,
    verify_inclusion,
)
from guardgraph.audit.events import VerdictReached

SIGNER = Signer.generate("bench.example/audit")

NOTES = [
    "Notes:",
    "- Every append hashes the canonical record, chains it, adds its Merkle nodes and "
    "returns after a durable commit; a signed checkpoint every 10,000 records is included.",
    "- Group commit: the 8 threads call `record()` one event at a time; concurrent callers "
    "share a transaction. The baseline commits each record alone (`store.append([ev])`).",
    "- Proof timings include fetching the record and the checkpoint; the naive baseline "
    "reads all leaves and recomputes every subtree on the audit path.",
    "- The machine is shared: other processes may run during a measurement, so figures vary "
    "between runs.",
]


def events(n: int, seed: int, start: int = 0) -> list[Event]:
    """``n`` verdict events with distinct event ids ``start`` .. ``start + n - 1``."""
    rng = random.Random(seed * 1_000_003 + start)
    out = []
    for i in range(start, start + n):
        session = f"s{rng.randrange(1000)}"
        # Built as every writer builds records: a typed payload through Event.of, with an
        # event id, so the schema check and the idempotency look-up are in the figures.
        out.append(Event.of(
            VerdictReached(tool="send_money", call_id=f"c{i}", agent="payments",
                           args={"recipient": f"GB{rng.randrange(10**12)}",
                                 "amount": round(rng.uniform(1, 5000), 2), "subject": "rent"},
                           message="ok"),
            session=session, actor="guard", spec=("banking", 3, "ab" * 32),
            verdict=("allow", ("single_transfer_cap", "daily_budget")), provenance=(f"p{i}",),
            event_id=f"{session}/c{i}/verdict",
            trace_id=f"{rng.getrandbits(128):032x}", span_id=f"{rng.getrandbits(64):016x}",
        ))
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} records/s"


def bench_append(target: str, evs: list[Event], batch: int, threads: int,
                 baseline: int, seed: int) -> list[tuple[str, str]]:
    rows = []
    log = AuditLog(open_store(target), signer=SIGNER, checkpoint_every=10_000)
    t = time.perf_counter()
    for i in range(0, len(evs), batch):
        log.record_many(evs[i:i + batch])
    rows.append((f"record_many, batches of {batch}", rate(len(evs), time.perf_counter() - t)))
    # Every event id is already committed: a retry of the whole log returns the records.
    t = time.perf_counter()
    for i in range(0, len(evs), batch):
        log.record_many(evs[i:i + batch])
    rows.append((f"retry of committed events, batches of {batch} (idempotent, writes "
                 "nothing)", rate(len(evs), time.perf_counter() - t)))
    per = max(1, len(evs) // (threads * 10))
    fresh = events(per * threads + baseline, seed, start=len(evs))
    t = time.perf_counter()

    def work(w: int) -> None:
        for ev in fresh[w * per:(w + 1) * per]:
            log.record(ev)

    ts = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    rows.append((f"record() from {threads} threads (group commit)",
                 rate(per * threads, time.perf_counter() - t)))
    store = log.store
    t = time.perf_counter()
    for ev in fresh[per * threads:]:
        store.append([ev])
    rows.append(("baseline: one commit per record", rate(baseline, time.perf_counter() - t)))
    log.close()
    return rows


def build(db: Path, n: int, seed: int) -> float:
    """Write ``n`` records; returns the seconds spent appending (not generating)."""
    store = open_store(db, synchronous="normal")
    log = AuditLog(store, signer=SIGNER, checkpoint_every=100_000)
    done = 0
    spent = 0.0
    while done < n:
        chunk = events(min(10_000, n - done), seed, start=done)  # distinct event ids
        t = time.perf_counter()
        log.record_many(chunk)
        spent += time.perf_counter() - t
        done += len(chunk)
    log.close()
    return spent


def naive_proof(db: Path, index: int, size: int) -> list[bytes]:
    """Baseline: read every leaf and recompute the subtrees of the audit path."""
    conn = sqlite3.connect(db)
    leaves = [bytes(h) for (h,) in conn.execute(
        "SELECT hash FROM gg_nodes WHERE level = 0 AND idx < ? ORDER BY idx", (size,))]
    conn.close()
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if index < lo + k:
            path.append(root_from_leaves(leaves[lo + k:hi]))
            hi = lo + k
        else:
            path.append(root_from_leaves(leaves[lo:lo + k]))
            lo += k
    path.reverse()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--append", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--baseline", type=int, default=2000)
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gg-audit-bench-"))
    lines: list[str] = []
    try:
        t = time.perf_counter()
        evs = events(args.append, args.seed)
        per_event_us = (time.perf_counter() - t) / len(evs) * 1e6
        table = [("SQLite (WAL, synchronous=FULL)", name, value) for name, value in
                 bench_append(str(tmp / "append.db"), evs, args.batch, args.threads,
                              args.baseline, args.seed)]
        table.append(("(any)", "Event.of: typed payload and schema check, per event",
                      f"{per_event_us:.1f} µs"))
        if not args.no_postgres:
            schema = f"gg_bench_{os.getpid()}"
            url = f"{args.postgres}?schema={schema}"
            try:
                table += [("PostgreSQL", name, value) for name, value in
                          bench_append(url, evs, args.batch, args.threads, args.baseline,
                                       args.seed)]
            except Exception as exc:  # reported, not hidden: the table says why
                table.append(("PostgreSQL", "not measured", f"{type(exc).__name__}: {exc}"))
            finally:
                try:
                    import psycopg

                    with psycopg.connect(args.postgres, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                except Exception:  # best-effort cleanup of the benchmark's own schema
                    pass

        db = tmp / "big.db"
        build_s = build(db, args.records, args.seed)
        store = open_store(db)
        t = time.perf_counter()
        report = verify_log(store, public_keys=[SIGNER.verifier])
        verify_s = time.perf_counter() - t
        t = time.perf_counter()
        verify_log(store, public_keys=[SIGNER.verifier], deep=True)
        deep_s = time.perf_counter() - t
        log = AuditLog(store)
        cp = store.get_checkpoint()
        assert cp is not None and cp.size == args.records
        rng = random.Random(args.seed)
        picks = [rng.randrange(args.records) for _ in range(args.proofs)]
        gen, fetch_only, check = [], [], []
        for i in picks:
            t0 = time.perf_counter()
            proof = log.prove_inclusion(str(i), size=cp.size)
            t1 = time.perf_counter()
            inclusion_path(i, cp.size, store.nodes)
            t2 = time.perf_counter()
            verify_inclusion_proof(proof, verifiers=[SIGNER.verifier])
            t3 = time.perf_counter()
            gen.append(t1 - t0)
            fetch_only.append(t2 - t1)
            check.append(t3 - t2)
        naive = []
        leaf_nodes = store.nodes([(0, i) for i in picks[:3]])
        for i in picks[:3]:
            t0 = time.perf_counter()
            path = naive_proof(db, i, cp.size)
            naive.append(time.perf_counter() - t0)
            assert verify_inclusion(leaf_nodes[(0, i)], i, cp.size, path, cp.root_hash)
        store.close()

        def ms(xs: list[float], q: float = 0.5) -> str:
            xs = sorted(xs)
            return f"{xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3:.3f} ms"

        lines += [
            "# Audit log benchmark (issue 5)",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
            f"- command: `.venv/bin/python benchmarks/audit_throughput.py "
            f"{' '.join(sys.argv[1:])}`",
            "",
            "## Append (hash, chain, Merkle nodes, durable commit)",
            "",
            "| store | mode | throughput |",
            "|---|---|---|",
            *[f"| {a} | {b} | {c} |" for a, b, c in table],
            "",
            f"## Verify and prove at {args.records:,} records",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| build the log (batches of 10,000, synchronous=NORMAL) | {build_s:.1f} s "
            f"({rate(args.records, build_s)}) | |",
            f"| `verify_log` (chain, tree heads, {report.checkpoints} signatures) | "
            f"{verify_s:.2f} s ({rate(args.records, verify_s)}) | < 10 s |",
            f"| `verify_log(deep=True)` (parse every body, compare every node) | "
            f"{deep_s:.2f} s | |",
            f"| inclusion proof, `AuditLog.prove_inclusion` (record + checkpoint + path), "
            f"p50 / p99 over {args.proofs} | {ms(gen)} / {ms(gen, 0.99)} | < 1 ms |",
            f"| audit path alone from stored nodes, p50 / p99 | {ms(fetch_only)} / "
            f"{ms(fetch_only, 0.99)} | |",
            f"| offline proof check (signature + hash + path), p50 | {ms(check)} | |",
            f"| baseline: naive proof recomputing the tree, median of 3 | "
            f"{statistics.median(naive) * 1e3:,.0f} ms | |",
            "",
            *NOTES,
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
