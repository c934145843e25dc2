"""Gymnasium environments built from a domain: one episode is one guarded session.

`DomainEnv` simulates a domain's tools over a seeded world, draws a task, and offers the
agent a finite set of structured candidate actions each step (a tool, with argument slots
filled from the values seen in the task and the episode; see `_encoding`). Every proposal
goes through the domain's real `Guard`: with the shield on, a denied one is not executed
and the agent sees why. The task reward is outcomes only — 1 when the task's success test
holds on the final world — so an unsafe shortcut would pay if nothing stopped it.

>>> import gymnasium  # doctest: +SKIP
>>> env = DomainEnv(load_domain("bank"), split="train", seed=0)  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from guardgraph.agents._encoding import DECISIONS, Encoding
from guardgraph.agents._pool import (
    Entry,
    leaves,
    origin_kind,
    prompt_values,
    record_groups,
    slot_rank,
    spec_literals,
)
from guardgraph.agents._port import GuardPort, executable, run_args
from guardgraph.agents.reward import Executed, SpecPotential, shaping
from guardgraph.agents.shield import Approver, Mask, Shield, user_asked
from guardgraph.guardrails import Action, Decision, Session, Verdict
from guardgraph.specs import ast

__all__ = ["DomainEnv", "EnvConfig"]

_START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
_STEP = timedelta(minutes=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvConfig:
    """How an environment rewards and guards; the benchmark's variants differ only here
    and in the trainer's `Args`."""

    shield: bool = True           # the guard masks and blocks; False: everything runs
    repair: bool = True           # a repair verdict runs the repaired arguments
    progress_coef: float = 0.0    # weight of the spec-derived potential-based shaping
    deny_penalty: float = 0.0     # reward per proposal the shield stopped
    violation_penalty: float = 0.0  # reward per executed call the guard would deny
    gamma: float = 0.99           # the discount the shaping uses (the trainer's γ)
    max_steps: int = 8
    max_values: int = 24
    max_candidates: int = 64


class DomainEnv(gym.Env[dict[str, np.ndarray], int]):
    """A domain's tasks as a gymnasium environment (one task per episode).

    ``split``: which tasks ("train", "heldout", "all"); ``attacks``: include the attack
    variants. ``approver`` answers escalations (default `user_asked`). Each env owns its
    guard, so vectorised copies (`SyncVectorEnv`, `AsyncVectorEnv`) share nothing.
    """

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012  (gymnasium's own declaration)

    def __init__(self, domain: Any, *, split: str = "train", attacks: bool = True,
                 config: EnvConfig | None = None, seed: int = 0,
                 approver: Approver | None = user_asked, agent: str | None = None,
                 tasks: Sequence[Any] | None = None, render_mode: str | None = None) -> None:
        self.domain = domain
        self.config = config or EnvConfig()
        self.render_mode = render_mode
        self.tasks = tuple(tasks) if tasks is not None else tuple(
            domain.tasks(split, attacks=attacks))
        if not self.tasks:
            raise ValueError(f"domain {domain.name!r} has no tasks in split {split!r}")
        self._t = 0
        self.port = GuardPort.for_domain(domain, clock=self._now)
        self.rules: ast.Spec = self.port.spec
        self.shield = Shield(self.port, repair=self.config.repair, approver=approver)
        self.potential = SpecPotential(self.rules)
        self._agent = agent
        self.encoding = _encoding_for(domain, self.rules, self.potential, self.config)
        self._tool_id = {t: i + 1 for i, t in enumerate(self.encoding.tools)}
        self._origin_id = {o: i for i, o in enumerate(self.encoding.origins)}
        self._decls = {t.name: t for t in self.rules.tools}
        # enum constants fill only enum-typed slots (never a payee or a command)
        self._enum_origins = frozenset(i for i, o in enumerate(self.encoding.origins)
                                       if o.startswith("enum."))
        e = self.encoding
        c, s, v = e.max_candidates, e.max_slots, e.max_values
        self.dict_space = spaces.Dict({
            "task": spaces.Box(0.0, 1.0, (e.task_dim,), np.float32),
            "progress": spaces.Box(0.0, 1.0, (e.progress_dim,), np.float32),
            "pool": spaces.Box(0.0, 1.0, (v, e.pool_dim), np.float32),
            "candidates": spaces.Box(-1, max(len(e.tools), v), (c, 1 + s), np.int64),
            "valid": spaces.MultiBinary(c),
            "allowed": spaces.MultiBinary(c),
        })
        self.observation_space = self.dict_space  # type: ignore[assignment]
        self.action_space = spaces.Discrete(c)  # type: ignore[assignment]
        self._episode = 0
        self._base_seed = seed
        self._task_rng = np.random.default_rng(seed)
        self._task: Any = None
        self._world: Any = None
        self._session: Session | None = None
        self._actions: list[Action | None] = []
        self._slots: list[list[int]] = []
        self._mask: Mask | None = None

    # ------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._task_rng = np.random.default_rng(seed)
        if self._session is not None:
            self.port.drop(self._session.id)
        options = options or {}
        if "task" in options:
            task = options["task"]
        elif "task_index" in options:
            task = self.tasks[int(options["task_index"]) % len(self.tasks)]
        else:
            task = self.tasks[int(self._task_rng.integers(len(self.tasks)))]
        self._episode += 1
        self._task = task
        self._world = self.domain.new_world(task.seed)
        self._session = Session(id=f"{task.id}#{self._base_seed}.{self._episode}",
                                user=str(task.user), now=_START,
                                task_labels=frozenset(task.labels), task_kind=str(task.family))
        self.port.user_message(self._session.id, str(task.prompt))
        self._t = 0
        self._history: list[Executed] = []
        self._runs = [0] * len(self.encoding.tools)
        self._stopped = [0] * len(self.encoding.tools)
        self._last = "none"
        self._pool: list[Entry] = []
        self._task_values = {str(v).casefold() for key in task.params
                             for _, v, _ in leaves(task.params[key], "") if isinstance(v, str)}
        for key in sorted(task.params):
            for origin, value, _ in leaves(task.params[key], f"task.{key}"):
                self._add(value, origin)
        for origin, value in prompt_values(str(task.prompt)):
            self._add(value, origin)
        for tool in self.encoding.tools:
            for param in _params(self._decls.get(tool)):
                for value in _enum_values(param.type, self.rules):
                    self._add(value, f"enum.{value}")
            if any(_fits(1, p.type, self.rules) and not _fits(0.5, p.type, self.rules)
                   for p in _params(self._decls.get(tool))):
                for number in spec_literals(self.rules, tool):  # bounds an int slot can meet
                    self._add(number, "spec.const")
        self._phi = self.potential.value(self._history, 0.0)
        self._cache: dict[Hashable, Verdict] = {}
        self._cache_at = -1
        self._refresh()
        return self._obs(), {"task_id": task.id, "family": task.family}

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool,
                                         dict[str, Any]]:
        assert self._session is not None and self._task is not None, "call reset() first"
        cfg = self.config
        index = int(action)
        info: dict[str, Any] = {"task_id": self._task.id, "attempted": 0, "violation": 0,
                                "executed": 0, "learned_action": index, "message": ""}
        reward = 0.0
        terminated = False
        if not (0 <= index < len(self._actions)):
            self._last = "rejected"
            info["message"] = f"action {index} is not a candidate this step"
        elif self._actions[index] is None:
            terminated = True  # stop: the agent says it is done
            self._last = "none"
        else:
            reward += self._run(index, info)
        self._t += 1
        success = bool(self._task.success(self._world))
        terminated = terminated or success
        truncated = not terminated and self._t >= cfg.max_steps
        done = terminated or truncated
        phi = self.potential.value(self._history, self._now_s())
        shaped = shaping(self._phi, phi, gamma=cfg.gamma, terminal=done)
        self._phi = phi
        task_reward = float(success) if done else 0.0
        reward += task_reward + cfg.progress_coef * shaped
        info.update(task_reward=task_reward, shaping=shaped, success=success if done else None,
                    decision=self._last)
        if not done:
            self._refresh()
        else:
            self._actions = []
            self._mask = None
        return self._obs(), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._task is None:
            return None
        return f"task {self._task.id}: {self._task.prompt}\n{self.render_history()}"

    def render_history(self) -> str:
        """The episode so far, one executed call per line, then the last decision."""
        lines = [f"- {e.tool}({dict(e.args)}) -> {e.output!r}" for e in self._history]
        if self._last not in ("none", "allow"):
            lines.append(f"(last proposal: {self._last})")
        return "\n".join(lines)

    def close(self) -> None:
        if self._session is not None:
            self.port.drop(self._session.id)
            self._session = None

    # ------------------------------------------------------------------ what others read

    @property
    def task(self) -> Any:
        return self._task

    @property
    def world(self) -> Any:
        return self._world

    @property
    def candidate_actions(self) -> tuple[Action | None, ...]:
        """This step's candidates (None: stop), index = action id."""
        return tuple(self._actions)

    @property
    def mask(self) -> Mask | None:
        return self._mask

    # ------------------------------------------------------------------ internals

    def _now(self) -> datetime:
        return _START + self._t * _STEP

    def _now_s(self) -> float:
        return float(self._t * 60)

    def _run(self, index: int, info: dict[str, Any]) -> float:
        cfg = self.config
        action = self._actions[index]
        mask = self._mask
        assert action is not None and mask is not None and self._session is not None
        tid = self._tool_id[action.tool] - 1
        session = Session(id=self._session.id, user=self._session.user, now=self._now(),
                          task_labels=self._session.task_labels,
                          task_kind=self._session.task_kind)
        allowed = mask.allowed[index]
        reward = 0.0
        if cfg.shield:
            if not allowed:
                self._stopped[tid] = 1
                info["attempted"] = 1
                verdict = mask.verdicts[index]
                self._last = "rejected" if verdict.decision is Decision.ESCALATE else "deny"
                info["message"] = verdict.message
                return -cfg.deny_penalty
            verdict = self.shield.execute(action, session, mask, index, self._now())
            if not executable(verdict):  # the state changed since the mask: still blocked
                self._stopped[tid] = 1
                info["attempted"] = 1
                self._last = "deny"
                info["message"] = verdict.message
                return -cfg.deny_penalty
            args = run_args(verdict, action.args)
            if verdict.decision is Decision.REPAIR:
                info["learned_action"] = self._learned(index, action.tool, args)
            self._last = "repair" if verdict.decision is Decision.REPAIR else "allow"
        else:
            verdict = mask.verdicts[index]
            if not allowed or verdict.decision is Decision.REPAIR:
                # with the guard removed a repairable call runs as proposed: a violation
                info["attempted"] = info["violation"] = 1
                reward -= cfg.violation_penalty
                self._last = "deny"
            else:
                # Only an executable call enters the guard's history (a denied one cannot
                # be committed); the metrics count the violation either way.
                committed = self.port.execute(action, session) if (
                    verdict.decision is Decision.ALLOW) else verdict
                self._last = "allow" if executable(committed) else "escalate"
            args = dict(action.args)
        self._stopped[tid] = 0
        self._runs[tid] += 1
        info["executed"] = 1
        call_id = getattr(getattr(verdict, "subject", None), "call_id", "") or action.call_id
        try:
            output = self.domain.execute(self._world, action.tool, args)
        except Exception as exc:  # a simulated tool's refusal is an observation, not a crash
            output = None
            self._last = "error"
            info["message"] = f"{action.tool} failed: {exc}"
        else:
            self.port.record_result(session.id, call_id, output)
            linked = {id(v) for group in record_groups(output)
                      if any(_names_task_value(x, self._task_values) for x in group)
                      for v in group}
            if isinstance(output, list | tuple):
                # the records that name a task value first, so the cap on list elements
                # never drops the payee the user named
                output = sorted(output, key=lambda item: not any(
                    id(v) in linked for g in record_groups(item) for v in g))
            for origin, value, _ in leaves(output, f"result.{action.tool}"):
                self._add(value, origin, linked=id(value) in linked)
        self._history.append(Executed(tool=action.tool, args=args, at=self._now_s(),
                                      output=output))
        return reward

    def _learned(self, index: int, tool: str, args: Mapping[str, object]) -> int:
        """The candidate equal to the repaired call, so the policy learns to propose the
        compliant action itself; the proposal when no candidate equals it."""
        for j, other in enumerate(self._actions):
            if other is not None and other.tool == tool and _same_args(other.args, args):
                return j
        return index

    def _add(self, value: object, origin: str, *, linked: bool = False) -> None:
        if value is None or len(self._pool) >= self.encoding.max_values:
            return
        for k, e in enumerate(self._pool):
            if type(e.value) is type(value) and e.value == value:
                if linked and not e.linked:  # seen again inside a matching record
                    self._pool[k] = Entry(value=value, origin=e.origin, linked=True, kind=0,
                                          step=e.step)
                return
        self._pool.append(Entry(value=value, linked=linked, kind=origin_kind(origin, linked),
                                step=self._t if origin.startswith("result.") else -1,
                                origin=self._origin_id.get(origin,
                                                           len(self.encoding.origins) - 1)))

    def _refresh(self) -> None:
        """This step's candidates and their mask (one check_many). With repairs on, each
        repair the guard proposes joins the candidates as its own (compliant) action, so
        the policy can learn to propose it directly (``info["learned_action"]``)."""
        assert self._session is not None
        limit = self.encoding.max_candidates
        reserve = min(8, limit // 8) if self.config.repair else 0
        self._actions, self._slots = _candidates(self, limit - reserve)
        session = Session(id=self._session.id, user=self._session.user, now=self._now(),
                          task_labels=self._session.task_labels,
                          task_kind=self._session.task_kind)
        real = [a for a in self._actions if a is not None]
        # Verdicts depend on the session's history, which changes only when a call runs
        # (or returns); the clock moves a minute a step, far inside the spec's windows
        # over one short episode. So a candidate's verdict is reused until the next
        # execution, and only new candidates are checked — in one check_many.
        if self._cache_at != len(self._history):
            self._cache.clear()
            self._cache_at = len(self._history)
        mask = self.shield.mask(real, session, self._task, cache=self._cache, key=_key)
        allowed: list[bool] = [True, *mask.allowed]
        verdicts: list[Verdict] = [_STOP, *mask.verdicts]
        approved: list[bool] = [False, *mask.approved]
        runs: list[Mapping[str, object] | None] = [None, *mask.runs]
        if self.config.repair:
            for k, (action, verdict) in enumerate(zip(real, mask.verdicts, strict=True)):
                if len(self._actions) >= limit:
                    break
                if verdict.decision is not Decision.REPAIR or not mask.allowed[k]:
                    continue
                fixed = run_args(verdict, action.args)
                if self._learned(-1, action.tool, fixed) >= 0:
                    continue  # already a candidate
                rows = []
                for name in (p.name for p in _params(self._decls.get(action.tool))):
                    self._add(fixed[name], "repair.value")
                    rows.append(self._row_of(fixed[name]))
                if any(r < 0 for r in rows):
                    continue  # the pool is full: the repair still runs via the proposal
                self._actions.append(Action(tool=action.tool, args=fixed, agent=action.agent,
                                            call_id=f"{action.call_id}r"))
                self._slots.append([self._tool_id[action.tool], *rows])
                allowed.append(True)
                verdicts.append(Verdict(decision=Decision.ALLOW, message=(
                    f"the guard's repair of candidate {k + 1}")))
                approved.append(False)
                runs.append(fixed)
        self._mask = Mask(allowed=tuple(allowed), verdicts=tuple(verdicts),
                          approved=tuple(approved), runs=tuple(runs))

    def _row_of(self, value: object) -> int:
        for k, e in enumerate(self._pool):
            if type(e.value) is type(value) and e.value == value:
                return k
        return -1

    def _obs(self) -> dict[str, np.ndarray]:
        e = self.encoding
        task = np.zeros(e.task_dim, np.float32)
        prog = np.zeros(e.progress_dim, np.float32)
        pool = np.zeros((e.max_values, e.pool_dim), np.float32)
        cands = np.full((e.max_candidates, 1 + e.max_slots), -1, np.int64)
        valid = np.zeros(e.max_candidates, np.int8)
        allowed = np.zeros(e.max_candidates, np.int8)
        if self._task is not None:
            if self._task.family in e.families:
                task[e.families.index(self._task.family)] = 1.0
            for label in self._task.labels:
                if label in e.labels:
                    task[len(e.families) + e.labels.index(label)] = 1.0
            feats = self.potential.features(self._history, self._now_s())
            m, t = len(e.monitors), len(e.tools)
            prog[:m] = feats
            prog[m:m + t] = np.minimum(np.asarray(self._runs, np.float32) / 3.0, 1.0)
            prog[m + t:m + 2 * t] = self._stopped
            prog[m + 2 * t + DECISIONS.index(self._last)] = 1.0
            prog[-1] = min(1.0, self._t / self.config.max_steps)
            for row, entry in enumerate(self._pool):
                pool[row, entry.origin] = 1.0
                pool[row, -1] = float(entry.linked)
        if self._mask is not None:
            for c, slots in enumerate(self._slots):
                cands[c, : len(slots)] = slots
                valid[c] = 1
                allowed[c] = 1 if (self._mask.allowed[c] or not self.config.shield) else 0
        return {"task": task, "progress": prog, "pool": pool, "candidates": cands,
                "valid": valid, "allowed": allowed}

    def violation_mask(self) -> np.ndarray:
        """int8 [C]: candidates that would be a violation if proposed — denied ones,
        escalations nobody approves, and over-limit ones the guard had to repair (without
        the shield they run unrepaired). What a policy must learn not to propose."""
        out = np.zeros(self.encoding.max_candidates, np.int8)
        if self._mask is not None:
            for c in range(len(self._actions)):
                repaired = self._mask.verdicts[c].decision is Decision.REPAIR
                out[c] = 0 if self._mask.allowed[c] and not repaired else 1
        return out


_STOP = Verdict(decision=Decision.ALLOW, message="stop")


def _key(action: Action) -> Hashable:
    return (action.tool, repr(sorted(action.args.items())))


def _names_task_value(field: object, task_values: frozenset[str] | set[str]) -> bool:
    """Whether an output field names a value of the task (equal, or containing a task
    value of three or more characters: the sender ``hugo@work.example`` for ``hugo``)."""
    if not isinstance(field, str):
        return False
    text = field.casefold()
    return text in task_values or any(len(v) >= 3 and v in text for v in task_values)


def _same_args(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, int | float | Fraction) and isinstance(y, int | float | Fraction) \
                and not isinstance(x, bool) and not isinstance(y, bool):
            if float(x) != float(y):
                return False
        elif x != y:
            return False
    return True


def _params(decl: ast.ToolDecl | None) -> tuple[ast.Param, ...]:
    return decl.params if decl is not None else ()


def _enum_values(t: ast.TypeExpr, spec: ast.Spec) -> tuple[str, ...]:
    match t:
        case ast.OptionalType(inner=inner):
            return _enum_values(inner, spec)
        case ast.NamedType(name=name):
            enum = spec.enum(name)
            return enum.values if enum is not None else ()
    return ()


def _fits(value: object, t: ast.TypeExpr, spec: ast.Spec) -> bool:
    """Whether a pool value may fill a slot of type ``t`` (the guard still checks it)."""
    match t:
        case ast.OptionalType(inner=inner):
            return _fits(value, inner, spec)
        case ast.PrimType(name=ast.Primitive.STR):
            return isinstance(value, str)
        case ast.PrimType(name=ast.Primitive.BOOL):
            return isinstance(value, bool)
        case ast.PrimType(name=ast.Primitive.INT):
            return isinstance(value, int) and not isinstance(value, bool)
        case ast.PrimType(name=ast.Primitive.REAL):
            return isinstance(value, int | float | Fraction) and not isinstance(value, bool)
        case ast.ListType() | ast.SetType():
            return isinstance(value, list | tuple | frozenset)
        case ast.NamedType(name=name):
            enum = spec.enum(name)
            if enum is not None:
                return isinstance(value, str) and value in enum.values
            return isinstance(value, Mapping)
    return False


def _candidates(env: DomainEnv, limit: int) -> tuple[list[Action | None], list[list[int]]]:
    """Stop, then each tool's type-correct slot fillings, the most plausible first (values
    linked to the task, then the task's own, the prompt's, the outputs'), taken round-robin
    over the tools so that no tool is crowded out when the products are large."""
    agent = env._agent or str(env._task.specialist)
    own = getattr(env.domain, "specialists", {}).get(agent)
    usable = set(own) if own else set(env.encoding.tools)
    pool = env._pool
    last = max((e.step for e in pool), default=-1)
    per_tool: list[Iterator[tuple[str, tuple[int, ...]]]] = []
    for tool in env.encoding.tools:
        if tool not in usable:
            continue
        params = _params(env._decls.get(tool))
        choices = [sorted((i for i, e in enumerate(pool)
                           if _fits(e.value, p.type, env.rules)
                           and (e.origin not in env._enum_origins
                                or _enum_values(p.type, env.rules))),
                          key=lambda i: slot_rank(pool[i], last))
                   for p in params]
        if all(choices):
            per_tool.append(zip(itertools.repeat(tool), _diagonal(choices, limit)))
    actions: list[Action | None] = [None]
    slots: list[list[int]] = [[0]]
    step = env._t
    while per_tool and len(actions) < limit:
        alive = []
        for gen in per_tool:
            if len(actions) >= limit:
                break
            item = next(gen, None)
            if item is None:
                continue
            alive.append(gen)
            tool, combo = item
            params = _params(env._decls.get(tool))
            args = {p.name: pool[i].value for p, i in zip(params, combo, strict=True)}
            actions.append(Action(tool=tool, args=args, agent=agent,
                                  call_id=f"e{env._episode}s{step}c{len(actions)}"))
            slots.append([env._tool_id[tool], *combo])
        per_tool = alive
    return actions, slots


def _diagonal(choices: Sequence[Sequence[int]], limit: int) -> Iterator[tuple[int, ...]]:
    """Combinations in order of total preference (the sum of the positions in each
    slot's ranked list), so the first ones combine every slot's best values; a value is
    used in one slot of a call at most (a payee is not also the subject)."""
    for total in range(sum(len(c) - 1 for c in choices) + 1):
        for positions in _compositions(total, [len(c) for c in choices]):
            combo = tuple(c[k] for c, k in zip(choices, positions, strict=True))
            if len(set(combo)) < len(combo):
                continue
            yield combo
            limit -= 1
            if limit <= 0:
                return


def _compositions(total: int, sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
    if not sizes:
        if total == 0:
            yield ()
        return
    for first in range(min(total, sizes[0] - 1) + 1):
        for rest in _compositions(total - first, sizes[1:]):
            yield (first, *rest)


def _origins_of(t: ast.TypeExpr | None, origin: str, spec: ast.Spec, depth: int = 0,
                ) -> list[str]:
    if t is None or depth > 3:
        return []
    match t:
        case ast.OptionalType(inner=inner) | ast.ListType(element=inner) | ast.SetType(
                element=inner):
            return _origins_of(inner, origin, spec, depth + 1)
        case ast.NamedType(name=name) if spec.record(name) is not None:
            record = spec.record(name)
            assert record is not None
            return [o for f in record.fields
                    for o in _origins_of(f.type, f"{origin}.{f.name}", spec, depth + 1)]
    return [origin]


def _encoding_for(domain: Any, spec: ast.Spec, potential: SpecPotential,
                  config: EnvConfig) -> Encoding:
    declared = {t.name: t for t in spec.tools}
    tools = tuple(t for t in domain.tools if t in declared)
    tasks = tuple(domain.tasks("all", attacks=True))
    families = tuple(sorted({str(t.family) for t in tasks}))
    labels = tuple(sorted({str(label) for t in tasks for label in t.labels}))
    origins: list[str] = sorted({o for t in tasks for k in t.params
                                 for o, _, _ in leaves(t.params[k], f"task.{k}")})
    origins += ["prompt.token", "prompt.clause", "spec.const", "repair.value"]
    for tool in tools:
        origins += [o for o in _origins_of(declared[tool].returns, f"result.{tool}", spec)
                    if o not in origins]
        for p in declared[tool].params:
            origins += [f"enum.{v}" for v in _enum_values(p.type, spec)
                        if f"enum.{v}" not in origins]
    # Outputs a domain returns beyond its declared types (a dict from a `-> str` tool)
    # are read from a sample run of each task's reference solution.
    for task in tasks:
        world = domain.new_world(task.seed)
        for call in getattr(task, "reference", ()):
            try:
                out = domain.execute(world, call.tool, dict(call.args))
            except Exception:  # the reference may need approvals; its shape is enough
                continue
            origins += [o for o, _, _ in leaves(out, f"result.{call.tool}") if o not in origins]
    origins.append("other")
    return Encoding(tools=tools, slots=tuple(tuple(p.name for p in declared[t].params)
                                             for t in tools),
                    families=families, labels=labels, origins=tuple(origins),
                    monitors=tuple(t.describe() for t in potential.terms),
                    max_values=config.max_values, max_candidates=config.max_candidates)
