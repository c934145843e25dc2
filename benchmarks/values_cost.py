"""The cost of reading values exactly (issue 11): the frozen copy, NFKC, and RE2 regexes.

    .venv/bin/python benchmarks/values_cost.py [--number 20000] [--evil 18,20,22]
        [--out benchmarks/results/values_cost.md]

Rows: ``freeze`` of a typical 4-argument call (ASCII; and with non-ASCII strings, which
pay for NFKC; and nested) against ``dict(args)``, the copy the guard made before; one
``Guard.evaluate`` of a one-rule spec with and without a ``matches`` rule; one regex
match on RE2 (the fast path's matcher) against Python's ``re``; and the catastrophic
pattern ``(a+)+`` on ``"a" * n + "!"``: Python's ``re`` (the old fast path's engine) at
small n, where it doubles per character, against the guard at n = 50,000. Each figure is
the best of 5 runs of ``--number`` calls, in microseconds per call.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import z3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guardgraph.guardrails import Action, Guard, Policy, Session
from guardgraph.guardrails._regex import fast_matcher, regex_to_z3
from guardgraph.guardrails._validate import freeze

BASE = "spec b version 1\n\ntool send_money(recipient: str, amount: real, subject: str, " \
       "date: str)\n\nrule cap:\n  on send_money\n  require amount <= 5000\n"
IBAN = "[A-Z]{2}[0-9]{2}[A-Z0-9]+"
ARGS = {"recipient": "GB29NWBK60161331926819", "amount": 1100, "subject": "rent",
        "date": "2026-05-01"}


def best_us(fn: Callable[[], object], number: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=20_000)
    ap.add_argument("--evil", default="18,20,22", help="n for Python's re on (a+)+")
    ap.add_argument("--out", default="benchmarks/results/values_cost.md")
    a = ap.parse_args()
    n = a.number
    rows: list[tuple[str, str]] = []
    unicode_args = {**ARGS, "subject": "loyer de décembre",
                    "recipient": "ＧＢ29NWBK60161331926819"}
    nested = {**ARGS, "tags": ["a", "b", "c"], "meta": {"k": [1, 2, 3], "v": "x"}}
    rows.append(("dict(args), 4 ASCII args (the copy before)",
                 f"{best_us(lambda: dict(ARGS), n):.2f}"))
    rows.append(("freeze, 4 ASCII args", f"{best_us(lambda: freeze(ARGS, 'a'), n):.2f}"))
    rows.append(("freeze, 4 args, 2 non-ASCII (NFKC)",
                 f"{best_us(lambda: freeze(unicode_args, 'a'), n):.2f}"))
    rows.append(("freeze, 6 args with a list and a nested dict",
                 f"{best_us(lambda: freeze(nested, 'a'), n):.2f}"))
    session = Session(id="s")
    plain = Guard(Policy.from_text(BASE))
    with_rx = Guard(Policy.from_text(BASE + "\nrule iban:\n  on send_money\n"
                                     f"  require matches(recipient, \"{IBAN}\")\n"))
    act = Action(tool="send_money", args=ARGS)
    rows.append(("Guard.evaluate, 1 rule",
                 f"{best_us(lambda: plain.evaluate(act, session), n):.2f}"))
    rows.append(("Guard.evaluate, + 1 matches rule (RE2)",
                 f"{best_us(lambda: with_rx.evaluate(act, session), n):.2f}"))
    rx = fast_matcher(regex_to_z3(IBAN, z3.Context()))
    py = re.compile(IBAN)
    text = ARGS["recipient"]
    rows.append(("one match, RE2 (fast path)", f"{best_us(lambda: rx(text), n):.2f}"))
    rows.append(("one match, Python re (before)", f"{best_us(lambda: py.fullmatch(text), n):.2f}"))
    evil = re.compile("(?:(?:a)+)+")
    for k in (int(x) for x in a.evil.split(",")):
        s = "a" * k + "!"
        start = time.perf_counter()
        evil.fullmatch(s)
        took = (time.perf_counter() - start) * 1e6
        rows.append((f"(a+)+ on 'a'*{k}+'!', Python re", f"{took:,.0f}"))
    evil_guard = Guard(Policy.from_text("spec e version 1\n\ntool t(s: str)\n\nrule r:\n"
                                        "  on t\n  require matches(s, \"(a+)+\")\n"))
    big = Action(tool="t", args={"s": "a" * 50_000 + "!"})
    rows.append(("(a+)+ on 'a'*50000+'!', Guard.evaluate (RE2)",
                 f"{best_us(lambda: evil_guard.evaluate(big, session), 20):,.0f}"))
    head = (f"values_cost: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, z3 {z3.get_version_string()}, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.1f}")
    table = "\n".join([head, "", "| what | µs per call |", "|---|---|",
                       *(f"| {w} | {v} |" for w, v in rows)])
    print(table)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
