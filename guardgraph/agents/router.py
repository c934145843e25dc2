"""The router: which specialist gets a task — LinUCB, Thompson sampling, or a PPO policy —
with the spec's ``on route`` rules as its shield.

A task's context is its family (one-hot) and labels (multi-hot). Before each choice one
`check_many` over ``Action.route(target)`` for every specialist masks the routes the spec
denies (``pii_stays_inside``), so a denied route is never taken. The reward of a route is
whether the specialist can do the task: it holds every tool of the task's reference
solution. The oracle router sends each task to its family's specialist (``task.specialist``);
the random router picks uniformly among all specialists, unshielded.

LinUCB: Li et al., WWW 2010 (disjoint arms). Thompson sampling for linear payoffs:
Agrawal and Goyal, ICML 2013. PPO with a horizon of one step is the clipped policy
gradient against a learnt baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from guardgraph.agents._port import GuardPort, executable
from guardgraph.guardrails import Action, Session

__all__ = ["RouteContext", "RouterKind", "RouterResult", "evaluate_router", "train_router"]


class RouterKind(StrEnum):
    LINUCB = "linucb"
    THOMPSON = "thompson"
    PPO = "ppo"


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterResult:
    kind: str
    success: float                 # held-out: share of tasks routed to a capable specialist
    oracle_success: float
    random_success: float
    executed_denied_routes: int    # routes taken that the spec denies (0 with the shield)
    random_denied_routes: int      # the unshielded random router's, for comparison
    train_rounds: int


class RouteContext:
    """Features, route masks and rewards of a domain's tasks."""

    def __init__(self, domain: Any) -> None:
        self.domain = domain
        self.port = GuardPort.for_domain(domain)
        self.arms: tuple[str, ...] = tuple(domain.specialists)
        tasks = domain.tasks("all", attacks=True)
        self.families = tuple(sorted({str(t.family) for t in tasks}))
        self.labels = tuple(sorted({str(x) for t in tasks for x in t.labels}))
        self.dim = len(self.families) + len(self.labels) + 1

    def features(self, task: Any) -> np.ndarray:
        x = np.zeros(self.dim)
        if task.family in self.families:
            x[self.families.index(task.family)] = 1.0
        for label in task.labels:
            if label in self.labels:
                x[len(self.families) + self.labels.index(label)] = 1.0
        x[-1] = 1.0  # bias
        return x

    def allowed(self, task: Any) -> np.ndarray:
        """One check_many over every route of this task: the router's shield."""
        session = Session(id=f"route:{task.id}", user=str(task.user),
                          task_labels=frozenset(task.labels), task_kind=str(task.family))
        verdicts = self.port.check_many(
            [Action.route(arm, agent="router", call_id=f"route-{task.id}-{arm}")
             for arm in self.arms], session)
        return np.array([executable(v) for v in verdicts])

    def reward(self, task: Any, arm: str) -> float:
        tools = set(self.domain.specialists.get(arm, ()))
        return float(all(call.tool in tools for call in task.reference))


def _choose_linucb(A: np.ndarray, b: np.ndarray, x: np.ndarray, keep: np.ndarray,
                   alpha: float) -> int:
    scores = np.full(len(A), -np.inf)
    for k in np.flatnonzero(keep):
        inv = np.linalg.inv(A[k])
        scores[k] = inv @ b[k] @ x + alpha * np.sqrt(x @ inv @ x)
    return int(np.argmax(scores))


def _choose_thompson(A: np.ndarray, b: np.ndarray, x: np.ndarray, keep: np.ndarray,
                     rng: np.random.Generator, v: float) -> int:
    scores = np.full(len(A), -np.inf)
    for k in np.flatnonzero(keep):
        inv = np.linalg.inv(A[k])
        theta = rng.multivariate_normal(inv @ b[k], v * v * inv)
        scores[k] = theta @ x
    return int(np.argmax(scores))


def train_router(domain: Any, kind: RouterKind | str = RouterKind.LINUCB, *, rounds: int = 400,
                 seed: int = 0, alpha: float = 0.5, shield: bool = True) -> RouterResult:
    """Train on the train split's task mix (``rounds`` draws), evaluate on held-out tasks."""
    kind = RouterKind(kind)
    ctx = RouteContext(domain)
    rng = np.random.default_rng(seed)
    train = domain.tasks("train", attacks=True)
    n, d = len(ctx.arms), ctx.dim
    cache = {t.id: (ctx.features(t), ctx.allowed(t)) for t in domain.tasks("all", attacks=True)}
    if kind is RouterKind.PPO:
        choose = _train_ppo(ctx, train, cache, rounds=rounds, seed=seed, shield=shield)
    else:
        A = np.stack([np.eye(d) for _ in range(n)])
        b = np.zeros((n, d))
        for _ in range(rounds):
            task = train[int(rng.integers(len(train)))]
            x, keep = cache[task.id]
            keep = keep if shield else np.ones(n, bool)
            if kind is RouterKind.LINUCB:
                k = _choose_linucb(A, b, x, keep, alpha)
            else:
                k = _choose_thompson(A, b, x, keep, rng, 0.25)
            r = ctx.reward(task, ctx.arms[k])
            A[k] += np.outer(x, x)
            b[k] += r * x

        def choose(x: np.ndarray, keep: np.ndarray) -> int:
            return _choose_linucb(A, b, x, keep if shield else np.ones(n, bool), 0.0)

    return evaluate_router(ctx, choose, kind=str(kind), rounds=rounds, seed=seed)


def evaluate_router(ctx: RouteContext, choose: Any, *, kind: str, rounds: int,
                    seed: int) -> RouterResult:
    rng = np.random.default_rng(seed + 1)
    held = ctx.domain.tasks("heldout", attacks=True)
    ours = oracle = rand = 0.0
    denied = rand_denied = 0
    for task in held:
        x, keep = ctx.features(task), ctx.allowed(task)
        k = choose(x, keep)
        denied += int(not keep[k])
        ours += ctx.reward(task, ctx.arms[k]) if keep[k] else 0.0
        best = ctx.arms.index(task.specialist) if task.specialist in ctx.arms else 0
        oracle += ctx.reward(task, ctx.arms[best]) if keep[best] else 0.0
        j = int(rng.integers(len(ctx.arms)))
        rand_denied += int(not keep[j])
        rand += ctx.reward(task, ctx.arms[j]) if keep[j] else 0.0
    m = max(1, len(held))
    return RouterResult(kind=kind, success=ours / m, oracle_success=oracle / m,
                        random_success=rand / m, executed_denied_routes=denied,
                        random_denied_routes=rand_denied, train_rounds=rounds)


def _train_ppo(ctx: RouteContext, train: Sequence[Any], cache: dict[str, Any], *,
               rounds: int, seed: int, shield: bool) -> Any:
    """A PPO router: masked softmax policy and value baseline over the context."""
    import torch
    from torch import nn

    from guardgraph.agents.policies._torch import entropy, log_prob, masked_logits, sample

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(ctx.arms)
    net = nn.Sequential(nn.Linear(ctx.dim, 32), nn.Tanh(), nn.Linear(32, n + 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    batch = 32
    for _ in range(max(1, rounds // batch)):
        tasks = [train[int(rng.integers(len(train)))] for _ in range(batch)]
        x = torch.tensor(np.stack([cache[t.id][0] for t in tasks]), dtype=torch.float32)
        keep = torch.tensor(np.stack([cache[t.id][1] if shield else np.ones(n, bool)
                                      for t in tasks]))
        with torch.no_grad():
            out = net(x)
            masked = masked_logits(out[:, :n], keep)
            a = sample(masked)
            old = log_prob(masked, a)
            base = out[:, n]
        r = torch.tensor([ctx.reward(t, ctx.arms[int(k)]) for t, k in zip(tasks, a, strict=True)])
        adv = r - base
        for _epoch in range(4):
            out = net(x)
            masked = masked_logits(out[:, :n], keep)
            ratio = (log_prob(masked, a) - old).exp()
            pg = -torch.min(adv * ratio, adv * ratio.clamp(0.8, 1.2)).mean()
            loss = pg + 0.5 * ((out[:, n] - r) ** 2).mean() - 0.01 * entropy(masked).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    def choose(x: np.ndarray, keep: np.ndarray) -> int:
        with torch.no_grad():
            out = net(torch.tensor(x, dtype=torch.float32)[None])
            k = torch.tensor(keep if shield else np.ones(n, bool))[None]
            return int(masked_logits(out[:, :n], k).argmax(1))

    return choose
