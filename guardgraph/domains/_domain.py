"""`Domain`: one runnable domain — spec pack, simulated tools, specialists, tasks.

A domain is built by the ``build()`` function of its ``domain.py`` (see
docs/domains.md) and found by `load_domain`. Worlds, tasks and scripts are pure
functions of their seeds: the demo, the environments and the tests all see the same
thing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from guardgraph.domains._scripts import NaiveScript, Reader, Remedy
from guardgraph.domains._types import DomainError, DomainTool, Script, Task, World

if TYPE_CHECKING:
    from guardgraph.guardrails import Guard, Policy, Session

__all__ = ["Domain"]

Split = Literal["train", "heldout", "all"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Domain:
    """One domain. Build it in ``domain.py``; use it through `load_domain`.

    ``spec_files``: the spec pack, relative to ``folder``, root file(s) first.
    ``world``: ``seed -> World``. ``task_list``: every task instance, train and held-out,
    attacks included (`tasks` filters). ``reader``: how the naive script reads outputs.
    ``remedy``: ``(rule, denied call) -> call`` that satisfies the rule (the naive script's
    re-plan after a deny), or None.
    """

    name: str
    description: str
    folder: Path
    spec_files: tuple[str, ...]
    facts: Mapping[str, object]
    tool_list: tuple[DomainTool, ...]
    specialists: Mapping[str, tuple[str, ...]]
    world: Callable[[int], World] = field(compare=False)
    task_list: tuple[Task, ...] = field(compare=False)
    reader: Reader = field(compare=False)
    remedy: Remedy = field(default=lambda rule, call: None, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))
        object.__setattr__(self, "specialists", MappingProxyType(
            {k: tuple(v) for k, v in self.specialists.items()}))
        names = [t.name for t in self.tool_list]
        if len(set(names)) != len(names):
            raise DomainError(f"domain {self.name}: a tool name is used twice")
        for agent, tools in self.specialists.items():
            unknown = sorted(set(tools) - set(names))
            if unknown:
                raise DomainError(f"domain {self.name}: specialist {agent!r} has unknown "
                                  f"tool(s) {', '.join(unknown)}")
        ids = [t.id for t in self.task_list]
        if len(set(ids)) != len(ids):
            raise DomainError(f"domain {self.name}: a task id is used twice")
        for task in self.task_list:
            if task.specialist not in self.specialists:
                raise DomainError(f"domain {self.name}: task {task.id} names the unknown "
                                  f"specialist {task.specialist!r}")

    # ---------------------------------------------------------------- the spec pack

    @property
    def spec_paths(self) -> tuple[Path, ...]:
        return tuple(self.folder / f for f in self.spec_files)

    def policy(self) -> Policy:
        """The spec pack as a `Policy` (loaded once). Raises `DomainError` for a missing
        file, `SpecLoadError` for a pack with errors."""
        if "policy" not in self._cache:
            self._cache["policy"] = _load_pack(self.spec_paths)
        policy: Policy = self._cache["policy"]
        return policy

    def guard(self, **options: Any) -> Guard:
        """A fresh `Guard` over `policy` with the domain's facts (``options`` go to
        `Guard`: store, clock, ...)."""
        from guardgraph.guardrails import Guard

        options.setdefault("facts", self.facts)
        return Guard(self.policy(), **options)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # A domain holds functions of its own module (not importable by name in a fresh
        # process); it pickles as its folder and is rebuilt there, e.g. for gymnasium's
        # AsyncVectorEnv. Tasks travel as ids: ``domain.task(task.id)``.
        from guardgraph.domains._loader import load_domain

        return load_domain, (str(self.folder),)

    # ---------------------------------------------------------------- tools and worlds

    @property
    def tools(self) -> Mapping[str, DomainTool]:
        return MappingProxyType({t.name: t for t in self.tool_list})

    def new_world(self, seed: int) -> World:
        """A fresh world built from ``seed`` (the same seed, the same world)."""
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise DomainError(f"domain {self.name}: a seed is an int, got {seed!r}")
        return self.world(seed)

    def execute(self, world: World, tool: str, args: Mapping[str, object]) -> object:
        """Run the simulated ``tool`` on ``world`` (changing it) and return its output.

        Raises `DomainError` for an unknown tool or bad arguments, `ToolFailure` when the
        tool refuses the call (the message is what the agent reads)."""
        found = self.tools.get(tool)
        if found is None:
            raise DomainError(f"domain {self.name}: unknown tool {tool!r}; it has "
                              f"{', '.join(t.name for t in self.tool_list)}")
        return found.fn(world, **found.check_args(args))

    def bind(self, world: World) -> Mapping[str, Callable[..., object]]:
        """The tools as plain keyword functions over ``world`` (name, docstring and
        annotated signature of the tool), e.g. for LangChain's ``StructuredTool`` or
        `AgentGraph.add_specialist`; each call goes through `execute`."""
        return MappingProxyType({t.name: _bound(self, world, t) for t in self.tool_list})

    def session(self, task: Task, *, session_id: str | None = None,
                at: datetime | None = None) -> Session:
        """The guard `Session` a task runs in: its user, labels and family (as
        ``task_kind``), ``at`` (default: the start of the task's world)."""
        from guardgraph.guardrails import Session

        now = at if at is not None else self.new_world(task.seed).now
        return Session(id=session_id or task.id, user=task.user, now=now,
                       task_labels=task.labels, task_kind=task.family)

    # ---------------------------------------------------------------- tasks

    def tasks(self, split: Split = "train", *, attacks: bool = True) -> tuple[Task, ...]:
        """The task instances of ``split`` ("train", "heldout" or "all"), in a stable
        order; ``attacks=False`` leaves out the attack variants."""
        if split not in ("train", "heldout", "all"):
            raise DomainError(f"split must be 'train', 'heldout' or 'all', got {split!r}")
        return tuple(t for t in self.task_list
                     if (split == "all" or t.heldout == (split == "heldout"))
                     and (attacks or t.attack is None))

    def task(self, task_id: str) -> Task:
        for t in self.task_list:
            if t.id == task_id:
                return t
        raise DomainError(f"domain {self.name}: no task {task_id!r}")

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.family for t in self.task_list))

    def script(self, task: Task) -> Script:
        """The naive scripted specialist for ``task`` (see `NaiveScript`)."""
        if "tolerated" not in self._cache:
            self._cache["tolerated"] = frozenset(
                r.name for r in self.policy().spec.rules
                if r.repair or str(r.otherwise) in ("escalate", "warn"))
            self._cache["rule_names"] = frozenset(r.name for r in self.policy().spec.rules)
        return NaiveScript(task=task, reader=self.reader, remedy=self.remedy,
                           tolerated=self._cache["tolerated"],
                           rule_names=self._cache["rule_names"])

    def specialist_of(self, tool: str) -> tuple[str, ...]:
        """The specialists that hold ``tool``."""
        return tuple(a for a, tools in self.specialists.items() if tool in tools)


def _bound(domain: Domain, world: World, tool: DomainTool) -> Callable[..., object]:
    def run(**args: object) -> object:
        return domain.execute(world, tool.name, args)

    run.__name__ = run.__qualname__ = tool.name
    run.__doc__ = tool.description
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=k)
              for n, k in tool.params]
    ret = tool.returns if tool.returns is not None else inspect.Signature.empty
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        params, return_annotation=ret)
    run.__annotations__ = {**{n: k for n, k in tool.params},
                           **({"return": tool.returns} if tool.returns else {})}
    return run


def _load_pack(paths: Sequence[Path]) -> Policy:
    from guardgraph.guardrails import load_policy

    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DomainError(f"spec file(s) not found: {', '.join(missing)}")
    return load_policy(*paths)
