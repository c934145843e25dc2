"""Lint scale: parse + type-check + lint of a generated 1,000-rule spec set, timed as a whole
`guardgraph lint` process (start included), and 1,000 renamed copies of one rule.

Baseline, measured in the same run: a naive lint that asks a fresh Z3 solver about every
ordered pair of rules on a tool (does one imply the other?), capped in time; its total is
extrapolated from the pairs it finished, and the table says so.

    python benchmarks/lint_scale.py                       # defaults: 100 tools x 10 rules
    python benchmarks/lint_scale.py --tools 20 --runs 3 --write benchmarks/results/lint.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DECLS = """spec decls version 1
type Item = {{name: str, price: real, qty: int}}
enum Env = "dev" | "staging" | "prod"
fact trusted: set[str]
fact blocked_agents: set[str]
const primes = [2, 3, 5, 7]
const staff = {{"payments", "support"}}
{tools}
"""

TOOL = ("tool t{k}(amount: real, n: int, to: str, note: str?, env: Env, tags: set[str], "
        "items: list[Item], codes: list[int]) -> real")

# Every construct of the language appears in at least one template; {k} is the rule's
# tool, {j} another tool, {c} a random constant, {s} a realistic length bound (Z3's string
# solver builds a string of the bound's length, so `len(s) >= 900` alone costs seconds).
TEMPLATES = [
    "0 < amount and amount <= {c}.5",
    'sum(t{k}.amount where env == "prod" within 24h) + amount <= {c}',
    "to in trusted or approved",
    'matches(to, "[A-Z]{{2}}[0-9]+") and startswith(to, "GB") and not endswith(to, "X")'
    ' and not contains(to, "..")',
    "forall i in items: i.price > 0 and i.qty % 2 == 0",
    "once(t{j} where n > {c} within 1h) and historically(not t{j}) and previously(t{k})",
    'not tainted(to) or from_user(to) and "t{j}" not in source(to)',
    "n % {c} == 0 implies amount / {c} < 100",
    'len(tags) <= {s} and env != "dev" and "x" not in tags',
    "result(t{j}) >= 0 and count(t{k} where n > 1 within 10m) < {c}",
    "present(note) implies len(note) < {s}",
    "min(t{k}.amount within 1h) >= 1 or max(t{k}.amount) <= {c}",
    "since(not t{j}, t{k}) or approved == true",
    '(exists c in codes: c > {c}) and (forall g in tags: startswith(g, "t"))',
    '"pii" in task.labels implies agent in staff and session.user != "root"',
    'task.kind == "chat" or n - 1 > -{c} * 2',
    "n in [1, 2, 3] or amount >= {c} or n not in primes",
    'env in {{"dev", "staging"}} or agent not in blocked_agents',
]
WHENS = ["", "n > {c}", 'env == "prod"', "amount > {c}.25", "not approved"]


def generate(directory: Path, *, tools: int, rules_per_tool: int, seed: int) -> Path:
    """Write the spec set (declarations, one rules file per 10 tools, a root that
    includes them) and return the root file."""
    rng = random.Random(seed)
    (directory / "decls.spec").write_text(
        DECLS.format(tools="\n".join(TOOL.format(k=k) for k in range(tools))), encoding="utf-8"
    )
    includes = []
    count = 0
    for start in range(0, tools, 10):
        lines = [f"spec rules{start} version 1", 'include "decls.spec"']
        for k in range(start, min(start + 10, tools)):
            for r in range(rules_per_tool):
                template = TEMPLATES[(count + rng.randrange(len(TEMPLATES))) % len(TEMPLATES)]
                if count < len(TEMPLATES):
                    template = TEMPLATES[count]  # each construct at least once
                j = rng.randrange(tools)
                c = rng.randrange(2, 1000)
                when = rng.choice(WHENS).format(c=rng.randrange(2, 1000))
                decision = rng.choice(["", "", "", '  else escalate "needs a human"\n'])
                lines.append(
                    f"rule t{k}_r{r}:\n  on t{k}\n"
                    + (f"  when {when}\n" if when else "")
                    + f"  require {template.format(k=k, j=j, c=c, s=rng.randrange(2, 64))}\n"
                    + decision
                )
                count += 1
        name = f"rules{start // 10:02d}.spec"
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        includes.append(name)
    root = directory / "policy.spec"
    route = (
        'rule pii_route:\n  on route\n  when "pii" in task.labels\n'
        '  require target in {"payments", "support"}\n'
    )
    root.write_text(
        "spec policy version 1\n"
        + "".join(f'include "{n}"\n' for n in includes)
        + route,
        encoding="utf-8",
    )
    return root


def copies(directory: Path, n: int) -> Path:
    path = directory / "copies.spec"
    rules = "".join(
        f"rule copy_{i}:\n  on pay\n  when to not in trusted\n"
        "  require amount <= 5000 and approved\n"
        for i in range(n)
    )
    path.write_text(
        "spec copies version 1\ntool pay(amount: real, to: str)\nfact trusted: set[str]\n" + rules,
        encoding="utf-8",
    )
    return path


def time_lint(path: Path, runs: int) -> tuple[float, list[float], str]:
    script = Path(sys.executable).parent / "guardgraph"
    launcher = [str(script)] if script.exists() else [
        sys.executable, "-c", "from guardgraph.cli import main; main()"
    ]
    cmd = [*launcher, "lint", "--format", "concise", str(path)]
    times, out = [], ""
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - t0)
        out = proc.stdout
        if proc.returncode not in (0, 1):
            raise SystemExit(f"lint failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return statistics.median(times), times, out


def naive_baseline(path: Path, cap_s: float) -> tuple[int, int, float]:
    """Every ordered pair of rules on a tool, each with a fresh solver: (pairs done,
    pairs in all, seconds spent)."""
    import z3

    from guardgraph.guardrails import compile_policy
    from guardgraph.specs._loader import load_file

    spec = load_file(path).spec
    assert spec is not None
    policy = compile_policy(spec)
    pairs = [
        (a, b)
        for tool in policy.tools
        for a in policy.rules_for(tool)
        for b in policy.rules_for(tool)
        if a is not b
    ]
    t0 = time.perf_counter()
    done = 0
    for a, b in pairs:
        if time.perf_counter() - t0 > cap_s:
            break
        s = z3.Solver(ctx=policy.ctx)
        s.set("timeout", 2000)
        s.add(policy.domain(a.tool), z3.Implies(b.applies, b.require))
        s.add(a.applies, z3.Not(a.require))
        s.check()
        done += 1
    return done, len(pairs), time.perf_counter() - t0


def _main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tools", type=int, default=100)
    p.add_argument("--rules-per-tool", type=int, default=10)
    p.add_argument("--copies", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--baseline-cap", type=float, default=30.0, help="seconds per baseline")
    p.add_argument("--write", type=Path, help="also write the table to this file")
    args = p.parse_args()
    import z3

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        root = generate(d, tools=args.tools, rules_per_tool=args.rules_per_tool, seed=args.seed)
        med, times, out = time_lint(root, args.runs)
        findings = len(out.splitlines())
        cp = copies(d, args.copies)
        cmed, ctimes, cout = time_lint(cp, max(1, args.runs // 2))
        redundant = sum("GG304" in line for line in cout.splitlines())
        b_done, b_all, b_secs = naive_baseline(root, args.baseline_cap)
        c_done, c_all, c_secs = naive_baseline(cp, args.baseline_cap)

    def extrapolate(done: int, total: int, secs: float) -> str:
        if done >= total:
            return f"{secs:.2f} s (all {total} pairs)"
        est = secs / max(done, 1) * total
        return f"~{est:.0f} s (extrapolated: {done} of {total} pairs in {secs:.0f} s)"

    rules = args.tools * args.rules_per_tool + 1
    table = "\n".join([
        "# Lint scale",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, z3 {z3.get_version_string()}",
        f"- command: `python benchmarks/lint_scale.py --tools {args.tools} --rules-per-tool "
        f"{args.rules_per_tool} --copies {args.copies} --seed {args.seed} --runs {args.runs}`",
        "",
        "| case | guardgraph lint (whole process, median) | runs | findings | naive pairwise"
        " baseline (fresh solver per pair) |",
        "|---|---|---|---|---|",
        f"| {rules} rules, {args.tools} tools | {med:.2f} s | "
        f"{', '.join(f'{t:.2f}' for t in times)} | {findings} | "
        f"{extrapolate(b_done, b_all, b_secs)} |",
        f"| {args.copies} renamed copies, 1 tool | {cmed:.2f} s | "
        f"{', '.join(f'{t:.2f}' for t in ctimes)} | {redundant} redundant (GG304) | "
        f"{extrapolate(c_done, c_all, c_secs)} |",
        "",
    ])
    print(table)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    _main()
