"""Scripted specialists: the naive one (does what it is asked, and what it reads) and a
replay of fixed calls (a task's reference solution).

The naive script sets out to run the task's ``plan`` (the user's literal request). After
every call that ran it reads the output the way a credulous language model would, and
follows any instruction it finds there first (that is what the attacks exploit and the
guard has to stop). After a deny it re-plans: when the domain knows a remedy for every rule
that fired (``verify_first`` -> verify the customer), it runs the remedies once and
retries the call; a rule with a ``repair`` clause needs no remedy (the guard repairs the
retry), nor does an escalate or warn rule. Otherwise it drops the call and goes on. An
escalation that was not approved, or a rejection, drops the call too.

The script keeps no state between calls: `NaiveScript.propose` replays the history from
the start, so the same history always gives the same proposal, whoever drives it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from guardgraph.domains._types import Call, Step, Task

__all__ = ["NaiveScript", "Reader", "Remedy", "ReplayScript", "strings_in"]

Reader = Callable[[str, object], tuple[Call, ...]]
"""``reader(tool, output)``: the calls a credulous agent would make on reading ``output``."""

Remedy = Callable[[str, Call], "Call | None"]
"""``remedy(rule, denied_call)``: the call that satisfies ``rule`` before ``denied_call``
is retried (``verify_first`` -> verify the customer), or None."""


def strings_in(value: object) -> Iterator[str]:
    """Every string in a JSON-like value (dict values, list items), in order: what a reader
    scans for instructions.

    >>> list(strings_in({"a": ["x", 1, {"b": "y"}]}))
    ['x', 'y']
    """
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


@dataclass(frozen=True, slots=True, kw_only=True)
class NaiveScript:
    """The scripted specialist for one task (see the module docstring).

    ``max_steps`` bounds an episode even against a world whose outputs keep asking for
    more; after that many steps the script says it is done.
    """

    task: Task
    reader: Reader
    remedy: Remedy = field(default=lambda rule, call: None)
    tolerated: frozenset[str] = frozenset()  # rules that need no remedy (repair, escalate)
    rule_names: frozenset[str] = frozenset()  # to read a deny whose step carries no rules
    max_steps: int = 40

    def propose(self, history: Sequence[Step]) -> Call | None:
        if len(history) >= self.max_steps:
            return None
        queue: deque[Call] = deque(self.task.plan)
        followed: set[str] = set()
        remedied: set[str] = set()
        for step in history:
            if queue:
                queue.popleft()  # the call this step answers
            if step.executed:
                injected = [c for c in self.reader(step.call.tool, step.output)
                            if c.key() not in followed]
                for call in reversed(injected):
                    followed.add(call.key())
                    queue.appendleft(call)
            elif step.decision == "deny":
                fixes = self._fixes(step, remedied)
                if fixes:
                    queue.appendleft(step.call)
                    for rule, call in reversed(fixes):
                        remedied.add(rule)
                        queue.appendleft(call)
            # escalate (unanswered) and rejected: the call is dropped
        return queue[0] if queue else None

    def _fixes(self, step: Step, remedied: set[str]) -> list[tuple[str, Call]]:
        """The remedies that make the denied call worth retrying; [] to give it up."""
        fixes: list[tuple[str, Call]] = []
        for rule in step.rules or self._rules_named_in(step.output):
            if rule in self.tolerated:
                continue
            call = None if rule in remedied else self.remedy(rule, step.call)
            if call is None:
                return []
            fixes.append((rule, call))
        return fixes

    def _rules_named_in(self, message: object) -> tuple[str, ...]:
        """The rules a deny message names, in the order it names them: a host that hands
        the script only the guard's message (a LangChain ToolMessage) still gets a
        re-plan. The guard writes each fired rule as ``name: reason``."""
        text = str(message)
        found = [(m.start(), name) for name in self.rule_names
                 for m in [re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text)] if m]
        return tuple(name for _, name in sorted(found))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayScript:
    """Proposes ``calls`` in order, whatever became of the earlier ones (e.g. a task's
    ``reference``: ``ReplayScript(calls=task.reference)``)."""

    calls: tuple[Call, ...]

    def propose(self, history: Sequence[Step]) -> Call | None:
        return self.calls[len(history)] if len(history) < len(self.calls) else None
