"""Spec-guided PPO: one readable training loop (CleanRL style), importable as `train(args)`.

Read it top to bottom: `Args` (every knob, documented), environment and policy set-up,
then per iteration a rollout through the shielded environments, GAE, and the clipped PPO
update with the Lagrangian term. Each part of the spec-guided trainer is a switch in
`Args`, which is how the benchmark's variants and ablations are made:

- ``shield``: one `check_many` per step masks the candidates; the policy's distribution
  is renormalised over the allowed ones and its log-probs are those of that distribution.
- ``progress_coef``: potential-based shaping from the specs' monitors (`reward.py`).
- ``repair``: a repair verdict runs the nearest compliant call, and the update learns
  from that candidate (``info["learned_action"]``) rather than the over-limit proposal.
- ``lagrangian``: a multiplier λ on attempted violations, learnt by dual ascent. With the
  shield, the cost is the probability mass the *unmasked* policy puts on candidates the
  guard would deny — what it would attempt without the shield — so it stops leaning on it;
  without the shield, the executed violations are subtracted from the reward (PPO-Lag).
- ``penalty``: a fixed reward penalty per violation (the classic baseline).

PPO: Schulman et al. 2017; the loop follows CleanRL's ppo.py (Huang et al. 2022).
Potential shaping: Ng et al. 1999. Shielding: Alshiekh et al. 2018.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn, optim

from guardgraph.agents.env import DomainEnv, EnvConfig
from guardgraph.agents.policies._torch import (
    StructuredPolicy,
    entropy,
    log_prob,
    masked_logits,
    sample,
)

__all__ = ["VARIANTS", "Args", "EvalResult", "TrainResult", "evaluate", "load_policy_file",
           "make_envs", "train", "variant"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Args:
    domain: str = "bank"
    """Domain name (``examples/<name>``) or path, as `guardgraph.domains.load_domain` takes."""
    seed: int = 1
    """Seeds Python, NumPy, torch and the environments' task draws."""
    total_timesteps: int = 40_000
    """Environment steps to train for (all environments together)."""
    num_envs: int = 4
    """Environments stepped side by side (in-process; each owns its guard)."""
    num_steps: int = 128
    """Steps per environment per rollout."""
    learning_rate: float = 2.5e-3
    """Adam step size, annealed linearly to 0."""
    gamma: float = 0.97
    """Discount; the shaping uses the same γ, which keeps it policy-invariant."""
    gae_lambda: float = 0.95
    """λ of generalised advantage estimation."""
    num_minibatches: int = 8
    """Minibatches per epoch."""
    update_epochs: int = 8
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """PPO's ratio clip."""
    ent_coef: float = 0.01
    """Entropy bonus (of the masked distribution)."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clip."""
    hidden: int = 128
    """Width of the policy's trunk."""
    shield: bool = True
    """Mask candidates with the guard (one check_many per step)."""
    progress_coef: float = 0.5
    """Weight of the spec-derived progress shaping (0 switches it off)."""
    repair: bool = True
    """Let repair verdicts run the repaired call and learn from it."""
    lagrangian: bool = True
    """Dual-ascent multiplier on attempted violations."""
    lagrangian_lr: float = 0.5
    """Step size of λ's dual ascent, per iteration."""
    cost_limit: float = 0.0
    """Attempted-violation rate per step the multiplier aims for."""
    penalty: float = 0.0
    """Fixed reward per violation (attempted with the shield, executed without)."""
    deny_penalty: float = 0.0
    """Reward per proposal the shield stopped (only reachable by an unmasked actor)."""
    max_steps: int = 8
    """Step budget of an episode."""
    max_candidates: int = 32
    """Candidate actions offered per step."""
    attacks: bool = True
    """Train on the attack variants too."""
    threads: int = 1
    """torch intra-op threads (1 or 2 keeps runs comparable on a small machine)."""
    eval_repeats: int = 4
    """Repeats of each held-out task for pass^k."""
    checkpoint: str = ""
    """Where to write the checkpoint (empty: none)."""
    checkpoint_every: int = 0
    """Iterations between checkpoints (0: only at the end)."""
    resume: str = ""
    """A checkpoint to continue from (the same spec and encoding)."""


# The benchmark's variants: one PPO, parts switched on and off (issue 15).
VARIANTS: Mapping[str, Mapping[str, object]] = MappingProxyType({
    "spec-guided": MappingProxyType({}),
    "unshielded": MappingProxyType(dict(shield=False, progress_coef=0.0, lagrangian=False,
                                        repair=False)),
    "penalty": MappingProxyType(dict(shield=False, progress_coef=0.0, lagrangian=False,
                                     repair=False, penalty=1.0)),
    "lagrangian": MappingProxyType(dict(shield=False, progress_coef=0.0, repair=False)),
    "shield-only": MappingProxyType(dict(progress_coef=0.0, lagrangian=False)),
    "no-progress": MappingProxyType(dict(progress_coef=0.0)),
    "no-lagrangian": MappingProxyType(dict(lagrangian=False)),
    "no-repair": MappingProxyType(dict(repair=False)),
})


def variant(name: str, **overrides: Any) -> Args:
    """`Args` of a named variant (see `VARIANTS`), with ``overrides`` on top."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {', '.join(VARIANTS)}")
    return Args(**{**VARIANTS[name], **overrides})


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainResult:
    """What a run produced: the policy, its metrics, and the per-iteration curve."""

    policy: Any
    env_steps: int
    episodes: int
    train_violations: int          # executed calls the guard would deny
    attempted_violations: int      # proposals the guard would deny (executed or stopped)
    steps_to_90: int | None        # first step where the last 50 episodes' success >= 0.9
    wall_s: float
    curve: tuple[dict[str, float], ...] = field(default=())
    lagrange: float = 0.0
    spec_sha256: str = ""


def make_envs(domain: Any, args: Args, *, split: str = "train", shield: bool | None = None,
              n: int | None = None) -> list[DomainEnv]:
    """``n`` environments for ``split`` with the reward and shield of ``args``."""
    cfg = EnvConfig(shield=args.shield if shield is None else shield, repair=args.repair,
                    progress_coef=args.progress_coef, gamma=args.gamma,
                    deny_penalty=args.deny_penalty + (args.penalty if args.shield else 0.0),
                    violation_penalty=0.0 if args.shield else args.penalty,
                    max_steps=args.max_steps, max_candidates=args.max_candidates)
    return [DomainEnv(domain, split=split, attacks=args.attacks, config=cfg,
                      seed=args.seed * 1000 + i) for i in range(n or args.num_envs)]


def _batch(obs: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.stack([o[k] for o in obs])) for k in obs[0]}


def train(args: Args, *, domain: Any = None,
          progress: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train a policy on ``args.domain`` (or the ``domain`` object given) and return it."""
    from guardgraph.agents import checkpoint as ckpt

    if domain is None:
        from guardgraph.domains import load_domain
        domain = load_domain(args.domain)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    envs = make_envs(domain, args)
    policy = StructuredPolicy(envs[0].encoding, hidden=args.hidden)
    optimizer = optim.Adam(policy.parameters(), lr=args.learning_rate, eps=1e-5)
    lam, global_step, it0 = 0.0, 0, 0
    stats = {"episodes": 0, "violations": 0, "attempted": 0, "steps_to_90": -1}
    spec_sha = envs[0].port.spec_sha256
    if args.resume:
        state = ckpt.load(args.resume, encoding=envs[0].encoding, spec_sha256=spec_sha)
        policy.load_state_dict(state.state_dict)
        optimizer.load_state_dict(dict(state.optimizer))
        lam, global_step, it0 = state.lagrange, state.env_steps, state.iteration
        stats.update(state.stats)

    n, t = args.num_envs, args.num_steps
    batch_size = n * t
    minibatch = max(1, batch_size // args.num_minibatches)
    iterations = max(1, args.total_timesteps // batch_size)
    space = envs[0].dict_space
    obs_keys = tuple(space.spaces)
    buf = {k: torch.zeros((t, n, *(space[k].shape or ())),
                          dtype=torch.float32 if k in ("task", "progress", "pool")
                          else torch.int64) for k in obs_keys}
    viol = torch.zeros((t, n, args.max_candidates), dtype=torch.bool)
    actions = torch.zeros((t, n), dtype=torch.int64)
    logprobs, rewards, dones, values = (torch.zeros((t, n)) for _ in range(4))
    recent: deque[float] = deque(maxlen=50)
    curve: list[dict[str, float]] = []

    obs = [env.reset(seed=args.seed * 1000 + i + global_step)[0] for i, env in enumerate(envs)]
    next_done = torch.zeros(n)
    for iteration in range(it0 + 1, iterations + 1):
        optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - (iteration - 1) / iterations)
        attempted_iter = 0.0
        for step in range(t):
            global_step += n
            o = _batch(obs)
            for k in obs_keys:
                buf[k][step] = o[k]
            vm = torch.as_tensor(np.stack([env.violation_mask() for env in envs])).bool()
            viol[step] = vm
            dones[step] = next_done
            with torch.no_grad():
                logits, value = policy(o)
                keep = o["valid"].bool() & (o["allowed"].bool() if args.shield else True)
                masked = masked_logits(logits, keep)
                action = sample(masked)
                if args.shield:
                    # What the policy would have proposed with the shield removed: the
                    # attempted-violation metric (the executed action is `action`).
                    raw = sample(masked_logits(logits, o["valid"].bool()))
                    attempted_iter += float(vm.gather(1, raw[:, None]).float().sum())
            values[step] = value
            next_obs, next_done_list = [], []
            for i, env in enumerate(envs):
                ob, r, term, trunc, info = env.step(int(action[i]))
                learned = int(info["learned_action"])
                if learned != int(action[i]):  # a repair: learn from the compliant call
                    action[i] = learned
                stats["violations"] += int(info["violation"])
                if not args.shield:
                    attempted_iter += int(info["violation"])
                if args.lagrangian and not args.shield:
                    r -= lam * float(info["violation"])
                rewards[step, i] = float(r)
                if term or trunc:
                    stats["episodes"] += 1
                    recent.append(float(info["success"] or 0.0))
                    if (stats["steps_to_90"] < 0 and len(recent) == recent.maxlen
                            and np.mean(recent) >= 0.9):
                        stats["steps_to_90"] = global_step
                    ob, _ = env.reset()
                next_obs.append(ob)
                next_done_list.append(float(term or trunc))
            actions[step] = action
            logprobs[step] = log_prob(masked, action)
            obs, next_done = next_obs, torch.tensor(next_done_list)
        stats["attempted"] += round(attempted_iter)

        # GAE over the rollout (CleanRL's formulation: dones[t] marks obs t as a new episode).
        with torch.no_grad():
            _, next_value = policy(_batch(obs))
            advantages = torch.zeros_like(rewards)
            lastgaelam = torch.zeros(n)
            for s in reversed(range(t)):
                nonterminal = 1.0 - (next_done if s == t - 1 else dones[s + 1])
                nv = next_value if s == t - 1 else values[s + 1]
                delta = rewards[s] + args.gamma * nv * nonterminal - values[s]
                lastgaelam = delta + args.gamma * args.gae_lambda * nonterminal * lastgaelam
                advantages[s] = lastgaelam
            returns = advantages + values

        b_obs = {k: v.reshape(batch_size, *v.shape[2:]) for k, v in buf.items()}
        b_viol = viol.reshape(batch_size, -1)
        b_act, b_logp = actions.reshape(-1), logprobs.reshape(-1)
        b_adv, b_ret = advantages.reshape(-1), returns.reshape(-1)
        cost_mass = 0.0
        for _epoch in range(args.update_epochs):
            order = torch.randperm(batch_size)
            for lo in range(0, batch_size, minibatch):
                mb = order[lo:lo + minibatch]
                o = {k: v[mb] for k, v in b_obs.items()}
                logits, value = policy(o)
                valid = o["valid"].bool()
                keep = valid & (o["allowed"].bool() if args.shield else True)
                masked = masked_logits(logits, keep)
                logratio = log_prob(masked, b_act[mb]) - b_logp[mb]
                ratio = logratio.exp()
                adv = b_adv[mb]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                clipped = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(-adv * ratio, -adv * clipped).mean()
                v_loss = 0.5 * ((value - b_ret[mb]) ** 2).mean()
                loss = pg_loss - args.ent_coef * entropy(masked).mean() + args.vf_coef * v_loss
                if args.lagrangian and args.shield:
                    # Mass the unmasked policy puts on what the guard would deny.
                    raw = torch.softmax(masked_logits(logits, valid), dim=1)
                    mass = (raw * b_viol[mb].float()).sum(1).mean()
                    loss = loss + lam * mass
                    cost_mass = float(mass.detach())
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
                optimizer.step()

        if args.lagrangian:
            rate = cost_mass if args.shield else attempted_iter / batch_size
            lam = max(0.0, lam + args.lagrangian_lr * (rate - args.cost_limit))
        point = {"iteration": float(iteration), "env_steps": float(global_step),
                 "success": float(np.mean(recent)) if recent else 0.0,
                 "violations": float(stats["violations"]), "attempted": float(stats["attempted"]),
                 "attempted_rate": attempted_iter / batch_size, "lagrange": lam,
                 "wall_s": time.perf_counter() - start}
        curve.append(point)
        if progress is not None:
            progress(point)
        if args.checkpoint and (iteration == iterations or (
                args.checkpoint_every and iteration % args.checkpoint_every == 0)):
            ckpt.save(args.checkpoint, policy=policy, optimizer=optimizer, args=args,
                      encoding=envs[0].encoding, spec_sha256=spec_sha, env_steps=global_step,
                      iteration=iteration, lagrange=lam, stats=stats)
    for env in envs:
        env.close()
    return TrainResult(policy=policy, env_steps=global_step, episodes=int(stats["episodes"]),
                       train_violations=int(stats["violations"]),
                       attempted_violations=int(stats["attempted"]),
                       steps_to_90=None if stats["steps_to_90"] < 0 else int(stats["steps_to_90"]),
                       wall_s=time.perf_counter() - start, curve=tuple(curve), lagrange=lam,
                       spec_sha256=spec_sha)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalResult:
    """Held-out evaluation: with the guard on (shielded, greedy), with it removed
    (unmasked, greedy: what the policy itself would do), and pass^k over sampled repeats."""

    success_rate: float
    executed_violations: int
    success_unshielded: float
    attempted_violations_unshielded: float   # per episode, guard removed
    pass_k: float
    k: int
    episodes: int
    by_family: Mapping[str, float] = field(default_factory=dict)  # greedy, guard on


def evaluate(policy: Any, domain: Any, args: Args, *, split: str = "heldout",
             seed: int = 0) -> EvalResult:
    """Run every task of ``split`` once greedy with and without the guard, and
    ``args.eval_repeats`` times sampled with it (pass^k: all k repeats succeed)."""
    tasks = domain.tasks(split, attacks=args.attacks)
    base = dataclasses.replace(args, progress_coef=0.0, penalty=0.0, deny_penalty=0.0)
    shielded = make_envs(domain, dataclasses.replace(base, shield=True), split=split, n=1)[0]
    bare = make_envs(domain, dataclasses.replace(base, shield=False), split=split, n=1)[0]
    gen = torch.Generator().manual_seed(seed)

    def episode(env: DomainEnv, task: Any, *, shield: bool, greedy: bool) -> tuple[bool, int, int]:
        ob, _ = env.reset(seed=seed, options={"task": task})
        done, success, violations, attempted = False, False, 0, 0
        while not done:
            o = _batch([ob])
            with torch.no_grad():
                logits, _ = policy(o)
                keep = o["valid"].bool() & (o["allowed"].bool() if shield else True)
                lg = masked_logits(logits, keep)
                a = int(lg.argmax(1)) if greedy else int(sample(lg, gen))
            ob, _, term, trunc, info = env.step(a)
            violations += int(info["violation"])
            attempted += int(info["attempted"])
            done = term or trunc
            success = bool(info["success"]) if done else False
        return success, violations, attempted

    wins = wins_bare = passes = violations = 0
    attempted_bare = 0
    family: dict[str, list[bool]] = {}
    for task in tasks:
        ok, v, _ = episode(shielded, task, shield=True, greedy=True)
        wins += ok
        family.setdefault(str(task.family), []).append(ok)
        violations += v
        ok_b, _, att = episode(bare, task, shield=False, greedy=True)
        wins_bare += ok_b
        attempted_bare += att
        passes += all(episode(shielded, task, shield=True, greedy=False)[0]
                      for _ in range(args.eval_repeats))
    m = max(1, len(tasks))
    shielded.close()
    bare.close()
    return EvalResult(success_rate=wins / m, executed_violations=violations,
                      success_unshielded=wins_bare / m,
                      attempted_violations_unshielded=attempted_bare / m,
                      pass_k=passes / m, k=args.eval_repeats, episodes=len(tasks),
                      by_family={f: sum(v) / len(v) for f, v in family.items()})


def load_policy_file(path: str | Path) -> tuple[Any, Args]:
    """A trained policy and its `Args` from a checkpoint file."""
    from guardgraph.agents import checkpoint as ckpt

    state = ckpt.load(path)
    policy = StructuredPolicy(state.encoding, hidden=state.args.hidden)
    policy.load_state_dict(state.state_dict)
    policy.eval()
    return policy, state.args
