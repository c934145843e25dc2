"""guardgraph.domains: runnable domains — simulated tools over a seeded world, task
families with outcome tests and attacks, the spec pack that guards them.

The demo, the tests and the learners all build on these (docs/domains.md):

>>> from guardgraph.domains import load_domain
>>> d = load_domain("bank")
>>> task = d.tasks("train")[0]
>>> world = d.new_world(task.seed)
>>> for call in task.reference:
...     _ = d.execute(world, call.tool, call.args)
>>> task.success(world)
True
"""

from guardgraph.domains._domain import Domain, Split
from guardgraph.domains._loader import domain_names, load_domain
from guardgraph.domains._rollout import Episode, play
from guardgraph.domains._scripts import NaiveScript, Reader, Remedy, ReplayScript, strings_in
from guardgraph.domains._types import (
    Call,
    DomainError,
    DomainTool,
    Goal,
    Script,
    Step,
    Task,
    ToolFailure,
    World,
    stable_seed,
)

__all__ = [
    "Call",
    "Domain",
    "DomainError",
    "DomainTool",
    "Episode",
    "Goal",
    "NaiveScript",
    "Reader",
    "Remedy",
    "ReplayScript",
    "Script",
    "Split",
    "Step",
    "Task",
    "ToolFailure",
    "World",
    "domain_names",
    "load_domain",
    "play",
    "stable_seed",
    "strings_in",
]
