"""Spec front end speed: tokenize, parse and format N-rule spec files (issue "spec language").

    .venv/bin/python benchmarks/spec_frontend.py [--rules 100,1000,5000] [--repeat 5]
        [--out benchmarks/results/spec_frontend.md]

The spec is generated: 10 tools and N rules cycling through every construct of the
language (argument limits, windowed aggregates, temporal operators, quantifiers,
provenance calls, escalations with messages, repairs). Each figure is the best of
``--repeat`` runs in this process (the grammar is built once, before timing; its build
time and a cold ``guardgraph fmt`` process are reported separately). Results are printed
as markdown and written to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import lark

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardgraph.specs import format_spec, parse
from guardgraph.specs._grammar import keywords, lark_parser
from guardgraph.specs._lexer import tokenize

TOOLS = 10
TEMPLATES = (
    "rule cap_{k}:\n  on pay{t}\n  require 0 < amount and amount <= {k}\n"
    '  else deny "capped at {k}"\n  repair amount',
    "rule budget_{k}:\n  on pay{t}\n  require sum(pay{t}.amount within 24h) + amount <= 10_000",
    "rule approve_{k}:\n  on pay{t}\n  when recipient not in trusted\n  require approved\n"
    '  else escalate "new payee"',
    "rule verified_{k}:\n  on pay{t}\n"
    '  require once(verify where method == "otp" within 10m) and not previously(fetch)',
    "rule taint_{k}:\n  on pay{t}\n  when tainted(recipient)\n"
    '  require from_user(recipient) or "verify" in source(recipient)',
    "rule items_{k}:\n  on pay{t}\n  require forall m in tags: len(m) < 20 and not startswith(m, "
    '"x")',
    "rule rate_{k}:\n  on any\n  require count(any within 1h) < 1000 and since(not fetch, verify)",
    'rule route_{k}:\n  on route\n  when "pii" in task.labels\n  require target in {{"a", "b"}}',
)


def spec_text(rules: int) -> str:
    out = [
        "spec bench version 1",
        "",
        "tool verify(method: str)",
        "tool fetch(url: str) -> str untrusted",
        "fact trusted: set[str]",
    ]
    out += [
        f"tool pay{t}(recipient: str sensitive, amount: real, tags: list[str])"
        for t in range(TOOLS)
    ]
    for k in range(rules):
        out += ["", TEMPLATES[k % len(TEMPLATES)].format(k=k, t=k % TOOLS)]
    return "\n".join(out) + "\n"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cold_fmt(text: str) -> float:
    """Wall time of a fresh `python -m guardgraph.cli fmt --check` process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.spec"
        path.write_text(text, encoding="utf-8")
        code = "from guardgraph.cli import main; main()"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code, "fmt", "--check", str(path)],
            check=False,
            capture_output=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/spec_frontend.md")
    args = parser.parse_args()

    start = time.perf_counter()
    lark_parser()
    build = time.perf_counter() - start
    kw = keywords()
    rows = []
    for n in (int(x) for x in args.rules.split(",")):
        text = spec_text(n)
        spec, diags = parse(text)
        assert spec is not None and not diags, diags[:3]
        t_lex = best(lambda text=text: tokenize(text, path="b.spec", keywords=kw), args.repeat)
        t_parse = best(lambda text=text: parse(text, path="b.spec"), args.repeat)
        t_fmt = best(lambda spec=spec: format_spec(spec), args.repeat)
        t_cold = min(cold_fmt(text) for _ in range(max(1, args.repeat // 2)))
        lines = text.count("\n")
        rows.append(
            f"| {n:,} | {lines:,} | {t_lex * 1e3:.1f} | {t_parse * 1e3:.1f} | "
            f"{t_parse * 1e3 / n * 100:.1f} | {t_fmt * 1e3:.1f} | {t_cold * 1e3:.0f} |"
        )
    report = "\n".join(
        [
            "## Spec front end (parse, format)",
            "",
            f"{datetime.now(UTC):%Y-%m-%d}; Python {platform.python_version()}, lark "
            f"{lark.__version__}; {platform.machine()}, {os.cpu_count()} CPUs; best of "
            f"{args.repeat}. Grammar build (once per process): {build * 1e3:.0f} ms.",
            "",
            "| rules | lines | tokenize ms | parse ms (incl. tokenize) | parse ms / 100 rules "
            "| format ms | cold `guardgraph fmt --check` ms |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    print(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
