"""The observation encoding shared by the environments and the policies.

An observation is a dict of fixed-shape arrays (docs/learning.md, "Encoding"):

- ``task``     float32 [F + L]: one-hot task family, multi-hot task labels.
- ``progress`` float32 [M + 2T + D + 1]: the spec monitors' values (`SpecPotential.features`),
  per tool how often it ran (count / 3, clipped) and whether its last proposal was stopped,
  the last decision one-hot, and the fraction of the step budget used.
- ``pool``     float32 [V, O + 1]: the values seen so far (`_pool`: task parameters, prompt
  tokens, spec constants, tool outputs), each row the one-hot id of where the value came
  from (its *origin*, e.g. ``task.amount`` or ``result.get_invoice.iban``) and a bit for
  "sits in an output record that names a task value", so a policy learns "pay the amount
  the task names to the IBAN of the payee it names", which transfers to held-out tasks.
- ``candidates`` int64 [C, 1 + S]: candidate ``c`` is tool ``candidates[c, 0]`` (0 = stop)
  with argument slot ``j`` filled from pool row ``candidates[c, 1 + j]`` (-1: no slot).
- ``valid``    int8 [C]: which candidate rows are filled.
- ``allowed``  int8 [C]: which candidates the shield lets run (all valid ones when the
  shield is off, where the guard's verdicts are still computed for the metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DECISIONS", "Encoding"]

# The last-decision one-hot, in this order.
DECISIONS = ("none", "allow", "repair", "deny", "escalate", "error", "rejected")


@dataclass(frozen=True, slots=True, kw_only=True)
class Encoding:
    """Sizes and vocabularies of one environment's observations; a policy is built for an
    encoding, and a checkpoint stores it so that `eval` can check it matches."""

    tools: tuple[str, ...]          # tool ids 1..T (0 is stop)
    slots: tuple[tuple[str, ...], ...]  # per tool id 1..T: its parameter names
    families: tuple[str, ...]
    labels: tuple[str, ...]
    origins: tuple[str, ...]        # pool origin ids (last: "other")
    monitors: tuple[str, ...]       # SpecPotential term descriptions
    max_values: int                 # V
    max_candidates: int             # C

    @property
    def max_slots(self) -> int:
        return max((len(s) for s in self.slots), default=0)

    @property
    def pool_dim(self) -> int:
        """Origin one-hot plus the "linked to the task" bit."""
        return len(self.origins) + 1

    @property
    def task_dim(self) -> int:
        return len(self.families) + len(self.labels)

    @property
    def progress_dim(self) -> int:
        return len(self.monitors) + 2 * len(self.tools) + len(DECISIONS) + 1

    def to_json(self) -> dict[str, object]:
        return {"tools": list(self.tools), "slots": [list(s) for s in self.slots],
                "families": list(self.families), "labels": list(self.labels),
                "origins": list(self.origins), "monitors": list(self.monitors),
                "max_values": self.max_values, "max_candidates": self.max_candidates}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Encoding:
        def strs(key: str) -> tuple[str, ...]:
            value = data[key]
            if not isinstance(value, list):
                raise ValueError(f"encoding.{key}: expected a list, got {value!r}")
            return tuple(str(v) for v in value)

        slots = data["slots"]
        if not isinstance(slots, list):
            raise ValueError(f"encoding.slots: expected a list, got {slots!r}")
        mv, mc = data["max_values"], data["max_candidates"]
        if not isinstance(mv, int) or not isinstance(mc, int):
            raise ValueError("encoding.max_values / max_candidates: expected ints")
        return cls(tools=strs("tools"), slots=tuple(tuple(str(p) for p in s) for s in slots),
                   families=strs("families"), labels=strs("labels"), origins=strs("origins"),
                   monitors=strs("monitors"), max_values=mv, max_candidates=mc)
