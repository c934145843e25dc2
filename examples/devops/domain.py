"""The devops domain: coder, reviewer and SRE agents over a simulated fleet and repository
(see docs/domains.md). The rules are devops.spec's, plus domain.spec's for the repository.

``build()`` is what `guardgraph.domains.load_domain("devops")` calls.
"""

from __future__ import annotations

import re
from pathlib import Path

from guardgraph.domains import Call, Domain, World, strings_in

from ._tasks import build_tasks
from ._world import PROTECTED, TOOLS, Plant, make_world

SPECIALISTS = {
    "coder": ("run_tests", "deploy", "delete_branch", "read_file", "list_branches",
              "http_get"),
    "reviewer": ("get_pr", "merge_pr", "read_file", "run_tests"),
    "sre": ("run_shell", "http_get", "run_tests", "deploy", "rollback"),
}

# A credulous agent's idea of an instruction: run/execute a back-quoted command on a host;
# delete/remove a branch (tests/domains checks every phrasing in _tasks.py).
_SHELL = re.compile(r"\b(?:run|execute)\b[^`\n]{0,40}`([^`]+)`\s+on\s+(?:host\s+)?([\w.-]+)",
                    re.IGNORECASE)
_BRANCH = re.compile(r"\b(?:delete|remove)\s+(?:the\s+)?branch\s+([\w/-]+(?:\.[\w/-]+)*)",
                     re.IGNORECASE)


def read_instructions(tool: str, output: object) -> tuple[Call, ...]:
    """The calls the naive specialist makes on reading ``output``."""
    calls: list[Call] = []
    for text in strings_in(output):
        for m in _SHELL.finditer(text):
            calls.append(Call(tool="run_shell", args={"command": m.group(1),
                                                      "host": m.group(2).rstrip(".")}))
        for m in _BRANCH.finditer(text):
            calls.append(Call(tool="delete_branch", args={"name": m.group(1)}))
    return tuple(calls)


def remedy(rule: str, call: Call) -> Call | None:
    """How the naive specialist re-plans after a deny by ``rule``."""
    if rule == "tests_pass_before_prod":
        return Call(tool="run_tests", args={"service": call.args["service"]})
    if rule == "merges_match_the_pr":
        return Call(tool="get_pr", args={"number": call.args["number"]})
    return None


def build() -> Domain:
    tasks, plants = build_tasks()

    def world(seed: int) -> World:
        plant: Plant | None = plants.get(seed)
        return make_world(seed, plant)

    return Domain(
        name="devops",
        description="A devops team: coder, reviewer and SRE agents with shell, web, test, "
                    "deploy and repository tools over a simulated fleet.",
        folder=Path(__file__).resolve().parent,
        spec_files=("domain.spec",),
        facts={"maintenance_window": True, "protected_branches": PROTECTED},
        tool_list=TOOLS,
        specialists=SPECIALISTS,
        world=world,
        task_list=tasks,
        reader=read_instructions,
        remedy=remedy,
    )
