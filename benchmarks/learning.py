"""Spec-guided learning: six variants on one PPO, seeds, IQM with bootstrap CIs (issue 15).

    .venv/bin/python benchmarks/learning.py [--domain bank] [--seeds 5] [--steps 12000]
        [--variants spec-guided,unshielded,...] [--workers 2]
        [--out benchmarks/results/learning.md] [--curves benchmarks/curves]

Variants (`guardgraph.agents.ppo.VARIANTS`): unshielded PPO; PPO with a fixed penalty;
PPO-Lagrangian; shield only; the spec-guided trainer (shield + progress reward from the
specs + Lagrangian on attempted violations + repair-aware actions); and its ablations
without progress reward, without the Lagrangian, without repair. Per run: executed and
attempted violations during training, held-out success with the guard on and removed,
attempted violations per episode with the guard removed, pass^4, environment steps to
0.90 success (rolling 50 training episodes), wall time. Aggregates are interquartile means
over seeds with 95% percentile-bootstrap confidence intervals (Agarwal et al., NeurIPS
2021), written here rather than taken from rliable. Also measured: the router (LinUCB,
Thompson, PPO against the oracle and a random router) and the cost of the shield's mask
(one check_many over 64 candidates, cold, and the environment's amortised mask per step).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ORDER = ("unshielded", "penalty", "lagrangian", "shield-only", "spec-guided", "no-progress",
         "no-lagrangian", "no-repair")


def iqm(values: list[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (the 25%-75% trimmed mean)."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return math.nan
    lo, hi = math.floor(n * 0.25), math.ceil(n * 0.75)
    mid = xs[lo:hi] or xs
    return float(np.mean(mid))


def bootstrap_ci(values: list[float], *, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the IQM, resampling seeds."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    arr = np.asarray(values, dtype=float)
    stats = [iqm(list(rng.choice(arr, size=len(arr), replace=True))) for _ in range(reps)]
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def run_one(job: tuple[str, str, int, int]) -> dict[str, object]:
    import torch

    from guardgraph.agents.ppo import evaluate, train, variant
    from guardgraph.domains import load_domain

    torch.set_num_threads(1)
    domain_name, name, seed, steps = job
    domain = load_domain(domain_name)
    args = variant(name, domain=domain_name, seed=seed, total_timesteps=steps)
    start = time.perf_counter()
    result = train(args, domain=domain)
    ev = evaluate(result.policy, domain, args, seed=seed)
    return {"variant": name, "seed": seed, "train_violations": result.train_violations,
            "train_attempted": result.attempted_violations, "episodes": result.episodes,
            "success": ev.success_rate, "success_unshielded": ev.success_unshielded,
            "attempted_unshielded": ev.attempted_violations_unshielded,
            "eval_violations": ev.executed_violations, "pass4": ev.pass_k,
            "steps_to_90": result.steps_to_90, "env_steps": result.env_steps,
            "wall_s": time.perf_counter() - start, "train_wall_s": result.wall_s,
            "by_family": dict(ev.by_family),
            "curve": [(p["env_steps"], p["success"], p["violations"]) for p in result.curve]}


def mask_cost(domain_name: str, *, steps: int = 300) -> dict[str, float]:
    """Milliseconds: one cold check_many + mask over 64 candidates, and the environment's
    whole mask step (candidates, cached verdicts, one check_many for the new ones)."""
    from guardgraph.agents.env import DomainEnv, EnvConfig
    from guardgraph.domains import load_domain

    env = DomainEnv(load_domain(domain_name), config=EnvConfig(max_candidates=64))
    rng = np.random.default_rng(0)
    cold: list[float] = []
    warm: list[float] = []
    sizes: list[int] = []
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        actions = [a for a in env.candidate_actions if a is not None]
        session = env._session
        assert session is not None
        t = time.perf_counter()
        env.shield.mask(actions, session, env.task)
        cold.append((time.perf_counter() - t) * 1e3)
        sizes.append(len(actions))
        t = time.perf_counter()
        env._refresh()
        warm.append((time.perf_counter() - t) * 1e3)
        allowed = np.flatnonzero(obs["allowed"] * obs["valid"])
        obs, _, term, trunc, _ = env.step(int(rng.choice(allowed)))
        if term or trunc:
            obs, _ = env.reset()
    return {"candidates_median": statistics.median(sizes),
            "cold_ms_median": statistics.median(cold),
            "cold_ms_p90": float(np.percentile(cold, 90)),
            "env_mask_ms_median": statistics.median(warm),
            "env_mask_ms_p90": float(np.percentile(warm, 90))}


def router_rows(domain_name: str, seeds: int) -> list[dict[str, object]]:
    from guardgraph.agents.router import RouterKind, train_router
    from guardgraph.domains import load_domain

    domain = load_domain(domain_name)
    rows = []
    for kind in RouterKind:
        results = [train_router(domain, kind, rounds=400, seed=s) for s in range(seeds)]
        rows.append({"kind": str(kind), "success": [r.success for r in results],
                     "oracle": results[0].oracle_success, "random": [r.random_success
                                                                     for r in results],
                     "denied": sum(r.executed_denied_routes for r in results),
                     "random_denied": sum(r.random_denied_routes for r in results)})
    return rows


def fmt_ci(values: list[float], digits: int = 2) -> str:
    m = iqm(values)
    lo, hi = bootstrap_ci(values)
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def plot(runs: list[dict[str, object]], out: Path, steps: int) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label, fname in ((1, "training success (last 50 episodes)", "success.png"),
                              (2, "executed violations (cumulative)", "violations.png")):
        fig, ax = plt.subplots(figsize=(7, 4))
        for name in ORDER:
            curves = [r["curve"] for r in runs if r["variant"] == name]
            if not curves:
                continue
            n = min(len(c) for c in curves)  # type: ignore[arg-type]
            xs = [c[i][0] for c in curves[:1] for i in range(n)]  # type: ignore[index]
            ys = [iqm([c[i][key] for c in curves]) for i in range(n)]  # type: ignore[index]
            ax.plot(xs, ys, label=name, linewidth=2.2 if name == "spec-guided" else 1.2)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(label + ", IQM over seeds")
        ax.set_xlim(0, steps)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = out / fname
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="bank")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--variants", default=",".join(ORDER))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/learning.md")
    parser.add_argument("--curves", default="benchmarks/curves")
    opts = parser.parse_args()
    variants = [v for v in opts.variants.split(",") if v]
    start = time.perf_counter()
    jobs = [(opts.domain, v, s, opts.steps) for s in range(1, opts.seeds + 1) for v in variants]
    with ProcessPoolExecutor(max_workers=opts.workers) as pool:
        runs = list(pool.map(run_one, jobs))
    mask = mask_cost(opts.domain)
    routers = router_rows(opts.domain, opts.seeds)
    total = time.perf_counter() - start

    import torch

    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, torch {torch.__version__}; "
             f"{datetime.now(UTC):%Y-%m-%d}; load average at the end "
             f"{os.getloadavg()[0]:.1f}.",
             f"Command: `.venv/bin/python benchmarks/learning.py --domain {opts.domain} "
             f"--seeds {opts.seeds} --steps {opts.steps} --workers {opts.workers}`; "
             f"whole run {total / 60:.1f} min.", "",
             "IQM over seeds [95% bootstrap CI]. Success: held-out tasks, greedy, guard on; "
             "'guard off': the same policy with the guard removed. Steps to 0.90: first "
             "step where the last 50 training episodes' success reached 0.90 "
             "(runs that never did count as the budget, `n/k` = runs that did).", "",
             "| variant | executed viol. (train) | attempted viol. (train) | success | "
             "success, guard off | attempted viol./episode, guard off | pass^4 | "
             "steps to 0.90 | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in [v for v in ORDER if v in variants]:
        rs = [r for r in runs if r["variant"] == name]
        reached = [r["steps_to_90"] for r in rs if r["steps_to_90"] is not None]
        steps90 = [float(r["steps_to_90"] if r["steps_to_90"] is not None else opts.steps)
                   for r in rs]
        lines.append(
            f"| {name} | {fmt_ci([float(r['train_violations']) for r in rs], 0)} | "
            f"{fmt_ci([float(r['train_attempted']) for r in rs], 0)} | "
            f"{fmt_ci([float(r['success']) for r in rs])} | "
            f"{fmt_ci([float(r['success_unshielded']) for r in rs])} | "
            f"{fmt_ci([float(r['attempted_unshielded']) for r in rs])} | "
            f"{fmt_ci([float(r['pass4']) for r in rs])} | "
            f"{iqm(steps90):.0f} ({len(reached)}/{len(rs)}) | "
            f"{iqm([float(r['wall_s']) for r in rs]):.0f} |")
    lines += ["", "Held-out success by task family (spec-guided, IQM over seeds):", "",
              "| family | success |", "|---|---|"]
    fams = sorted({f for r in runs if r["variant"] == "spec-guided"
                   for f in r["by_family"]})  # type: ignore[union-attr]
    for fam in fams:
        vals = [float(r["by_family"][fam]) for r in runs  # type: ignore[index]
                if r["variant"] == "spec-guided" and fam in r["by_family"]]  # type: ignore[operator]
        lines.append(f"| {fam} | {iqm(vals):.2f} |")
    lines += ["", "Router (held-out tasks; reward: the specialist holds every tool of the "
              "task's safe solution):", "",
              "| router | success (IQM [CI]) | oracle | random (unshielded) | "
              "denied routes taken | random's denied routes |", "|---|---|---|---|---|---|"]
    for row in routers:
        lines.append(f"| {row['kind']} | {fmt_ci(row['success'])} | {row['oracle']:.2f} | "
                     f"{iqm(row['random']):.2f} | {row['denied']} | {row['random_denied']} |")
    lines += ["", f"Mask cost ({opts.domain}, max 64 candidates, median "
              f"{mask['candidates_median']:.0f} offered): one cold check_many + mask "
              f"{mask['cold_ms_median']:.2f} ms median (p90 {mask['cold_ms_p90']:.2f}); the "
              f"environment's mask step with its verdict cache {mask['env_mask_ms_median']:.2f} "
              f"ms median (p90 {mask['env_mask_ms_p90']:.2f})."]
    pngs = plot(runs, Path(opts.curves), opts.steps)
    lines += ["", "Curves: " + ", ".join(f"`{p}`" for p in pngs)]
    text = "\n".join(lines) + "\n"
    Path(opts.out).parent.mkdir(parents=True, exist_ok=True)
    Path(opts.out).write_text(text)
    Path(opts.out).with_suffix(".json").write_text(json.dumps(
        {"runs": runs, "mask": mask, "routers": routers, "total_s": total}, default=str))
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
