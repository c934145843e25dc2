"""How long does a compliance report over a large audit log take, and in how much memory?

Builds (once, cached) a seeded SQLite audit log of ``--records`` records with
``generate_sessions`` through the signed ``AuditLog``, then measures in fresh processes:

* ``streaming``: ``verification_of`` + ``build_report(store.iter_records(), lookup=store.get)``
  + ``write_html`` to a file, the path ``guardgraph audit report --out`` takes;
* ``materialised`` (baseline): the same report after ``list(store.iter_records())``, i.e.
  what holding every record in memory costs.

Peak memory is the child process's maximum resident set size (``ru_maxrss``), so it counts
the interpreter, SQLite's cache and every Python object. The database file is read once
before the measurements so that both modes start from a warm page cache.

    .venv/bin/python benchmarks/audit_report.py --records 1000000 \
        --out benchmarks/results/audit_report.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path


def _build_log(db: Path, records: int, seed: int) -> float:
    from guardgraph.audit import generate_sessions, open_log, write_events

    started = time.perf_counter()
    log = open_log(db)
    try:
        # ~13 records per session; the slice may end inside a session, as a live log does.
        events = itertools.islice(generate_sessions(records, seed=seed), records)
        write_events(log, events, batch=5000)
    finally:
        log.close()
    return time.perf_counter() - started


def _child(db: Path, mode: str, out: Path) -> None:
    from guardgraph.audit import build_report, open_store, verification_of, write_html

    store = open_store(db)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    verification = verification_of(store)
    t1 = time.perf_counter()
    records = store.iter_records() if mode == "streaming" else list(store.iter_records())
    data = build_report(records, lookup=store.get, verification=verification,
                        generated_at=datetime.now(UTC), source=str(db))
    t2 = time.perf_counter()
    with out.open("w", encoding="utf-8") as stream:
        write_html(data, stream)
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "mode": mode, "records": data.records, "violations": data.violations_total,
        "verified": str(verification.status), "verify_s": t1 - t0, "build_s": t2 - t1,
        "render_s": t3 - t2, "total_s": t3 - t0, "peak_rss_mb": peak / 1024,
        "import_rss_mb": base_rss / 1024, "html_mb": out.stat().st_size / 2**20,
    }))


def _warm(db: Path) -> None:
    with db.open("rb") as f:
        while f.read(1 << 24):
            pass


def _measure(db: Path, mode: str, tmp: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--db", str(db),
         "--html", str(tmp / f"report-{mode}.html")],
        capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", type=Path, default=None,
                        help="where to cache the generated log (default: /tmp)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the materialised baseline")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--child", choices=["streaming", "materialised"], help=argparse.SUPPRESS)
    parser.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.db, args.child, args.html)
        return
    db = args.db or Path(f"/tmp/guardgraph-bench-{args.records}-{args.seed}.db")
    load_s = None
    if not db.exists():
        load_s = _build_log(db, args.records, args.seed)
    _warm(db)  # both modes then read the database from the page cache, not the disk
    rows = [_measure(db, "streaming", db.parent)]
    if not args.no_baseline:
        rows.append(_measure(db, "materialised", db.parent))
    lines = [
        "# Audit report generation",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d}; machine: {platform.machine()}, "
        f"{platform.processor() or 'cpu'}, Python {platform.python_version()}, SQLite "
        f"{__import__('sqlite3').sqlite_version}, guardgraph {version('guardgraph')}",
        f"- log: {args.records:,} generated records (seed {args.seed}), SQLite, signed"
        + (f"; built in {load_s:.1f} s through `AuditLog`" if load_s else " (cached)"),
        f"- command: `python benchmarks/audit_report.py --records {args.records}"
        f" --seed {args.seed}`",
        "",
        "| mode | records | violations | verify (s) | build (s) | render HTML (s) | total (s) "
        "| peak RSS (MiB) | after import (MiB) | HTML (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['records']:,} | {r['violations']:,} | {r['verify_s']:.1f} | "
            f"{r['build_s']:.1f} | {r['render_s']:.1f} | {r['total_s']:.1f} | "
            f"{r['peak_rss_mb']:.0f} | {r['import_rss_mb']:.0f} | {r['html_mb']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
