"""`guardgraph train` and `guardgraph eval`: spec-guided PPO on a domain, and held-out
evaluation of a checkpoint.

torch is imported only inside the verbs (the CLI starts light). Progress goes to stderr
(rich, honouring NO_COLOR); stdout carries the result: a short table, or with
``--format json`` one JSON object per training iteration and, as the last line, the
summary (success_rate, train_violations, attempted_violations_unshielded, env_steps,
wall_s, model_sha256, ...).
"""

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from guardgraph._cli._console import console, fail_now

__all__ = ["register"]

_VARIANTS = ("spec-guided", "unshielded", "penalty", "lagrangian", "shield-only",
             "no-progress", "no-lagrangian", "no-repair")


def _summary(result: Any, ev: Any, *, domain: str, checkpoint: str, digest: str,
             variant: str) -> dict[str, object]:
    return {"domain": domain, "variant": variant, "success_rate": ev.success_rate,
            "pass_k": ev.pass_k, "k": ev.k, "heldout_episodes": ev.episodes,
            "eval_executed_violations": ev.executed_violations,
            "success_unshielded": ev.success_unshielded,
            "attempted_violations_unshielded": ev.attempted_violations_unshielded,
            "train_violations": result.train_violations if result else None,
            "train_attempted_violations": result.attempted_violations if result else None,
            "steps_to_90": result.steps_to_90 if result else None,
            "env_steps": result.env_steps if result else None,
            "wall_s": round(result.wall_s, 3) if result else None,
            "spec_sha256": result.spec_sha256 if result else None,
            "model_sha256": digest, "checkpoint": checkpoint}


def _print(summary: dict[str, object], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    for key, value in summary.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        sys.stdout.write(f"{key:34} {shown}\n")


def _need_learning_extra(as_json: bool) -> None:
    """Fail with an install hint, not a traceback, when the `learn` extra is missing."""
    import importlib.util

    missing = [m for m in ("torch", "gymnasium", "numpy") if importlib.util.find_spec(m) is None]
    if missing:
        fail_now(f"training needs {', '.join(missing)} (not installed)",
                 hint="install the learn extra: pip install -c constraints.txt -e '.[learn]'",
                 as_json=as_json)


def _load_domain(name: str, as_json: bool) -> Any:
    from guardgraph.domains import load_domain

    try:
        return load_domain(name)
    except Exception as exc:  # DomainError and friends: a clear message, exit 2
        fail_now(f"cannot load domain {name!r}: {exc}", hint="name a bundled domain (bank, "
                 "devops) or a domain folder", as_json=as_json)


def train(
    domain: Annotated[str, typer.Option(help="Domain name or folder.")] = "bank",
    variant: Annotated[str, typer.Option(
        help="spec-guided (default), or a baseline / ablation: " + ", ".join(_VARIANTS[1:]))
    ] = "spec-guided",
    total_timesteps: Annotated[int | None, typer.Option(
        "--total-timesteps", help="Environment steps (default: the trainer's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 1,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
    checkpoint: Annotated[Path, typer.Option(
        help="Checkpoint to write (state dict, spec sha256, Args).")] = Path(
            "guardgraph-train/policy.pt"),
    checkpoint_every: Annotated[int, typer.Option(
        "--checkpoint-every", help="Iterations between checkpoints (0: at the end).")] = 0,
    resume: Annotated[Path | None, typer.Option(
        help="Continue from this checkpoint (same spec and encoding).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Train a specialist with spec-guided PPO, then evaluate it on held-out tasks."""
    as_json = output_format == "json"
    if output_format not in ("text", "json"):
        fail_now(f"--format must be text or json, got {output_format!r}")
    if variant not in _VARIANTS:
        fail_now(f"unknown variant {variant!r}", hint="one of " + ", ".join(_VARIANTS),
                 as_json=as_json)
    if total_timesteps is not None and total_timesteps <= 0:
        fail_now(f"--total-timesteps must be positive, got {total_timesteps}", as_json=as_json)
    if resume is not None and not resume.is_file():
        fail_now(f"{resume}: no such checkpoint", as_json=as_json)
    _need_learning_extra(as_json)
    from guardgraph.agents import checkpoint as ckpt
    from guardgraph.agents import ppo

    dom = _load_domain(domain, as_json)
    overrides: dict[str, object] = {"domain": domain, "seed": seed, "threads": threads,
                                    "checkpoint": str(checkpoint),
                                    "checkpoint_every": checkpoint_every,
                                    "resume": str(resume) if resume else ""}
    if total_timesteps is not None:
        overrides["total_timesteps"] = total_timesteps
    args = ppo.variant(variant, **overrides)
    total = max(1, args.total_timesteps // (args.num_envs * args.num_steps))
    err = console(stderr=True)
    try:
        if as_json:
            def report(point: dict[str, float]) -> None:
                sys.stdout.write(json.dumps({"kind": "iteration", **point}) + "\n")
                sys.stdout.flush()
            result = ppo.train(args, domain=dom, progress=report)
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("train"), BarColumn(), TextColumn("{task.description}"),
                          TimeElapsedColumn(), console=err, transient=False) as bar:
                job = bar.add_task("", total=total)

                def report(point: dict[str, float]) -> None:
                    bar.update(job, completed=point["iteration"], description=(
                        f"steps {int(point['env_steps'])}  success {point['success']:.2f}  "
                        f"violations {int(point['violations'])}  λ {point['lagrange']:.2f}"))
                result = ppo.train(args, domain=dom, progress=report)
        ev = ppo.evaluate(result.policy, dom, args)
    except ckpt.CheckpointError as exc:
        fail_now(str(exc), as_json=as_json)
    digest = ckpt.model_sha256(result.policy.state_dict())
    _print(_summary(result, ev, domain=domain, checkpoint=str(checkpoint), digest=digest,
                    variant=variant), as_json)


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint written by `train`.")],
    domain: Annotated[str | None, typer.Option(
        help="Domain (default: the one it was trained on).")] = None,
    split: Annotated[str, typer.Option(help="heldout, train or all.")] = "heldout",
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Evaluate a checkpoint: success with the guard on and removed, pass^k, violations."""
    as_json = output_format == "json"
    if output_format not in ("text", "json"):
        fail_now(f"--format must be text or json, got {output_format!r}")
    if split not in ("heldout", "train", "all"):
        fail_now(f"--split must be heldout, train or all, got {split!r}", as_json=as_json)
    _need_learning_extra(as_json)
    from guardgraph.agents import checkpoint as ckpt
    from guardgraph.agents import ppo
    from guardgraph.agents.env import DomainEnv, EnvConfig
    from guardgraph.agents.policies import StructuredPolicy

    try:
        state = ckpt.load(checkpoint)
    except ckpt.CheckpointError as exc:
        fail_now(str(exc), as_json=as_json)
    name = domain or state.args.domain
    dom = _load_domain(name, as_json)
    args = dataclasses.replace(state.args, domain=name)
    env = DomainEnv(dom, split=split, attacks=args.attacks, config=EnvConfig(
        max_candidates=args.max_candidates, max_steps=args.max_steps))
    try:
        ckpt.load(checkpoint, encoding=env.encoding, spec_sha256=env.port.spec_sha256)
    except ckpt.CheckpointError as exc:
        fail_now(str(exc), as_json=as_json)
    policy = StructuredPolicy(state.encoding, hidden=state.args.hidden)
    policy.load_state_dict(dict(state.state_dict))
    policy.eval()
    ev = ppo.evaluate(policy, dom, args, split=split)
    summary = _summary(None, ev, domain=name, checkpoint=str(checkpoint),
                       digest=state.model_sha256, variant="checkpoint")
    summary.update(env_steps=state.env_steps, spec_sha256=state.spec_sha256,
                   train_violations=state.stats.get("violations"))
    _print(summary, as_json)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("eval")(evaluate)
