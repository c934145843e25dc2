"""guardgraph.agents.policies: what proposes the actions in an environment.

`StructuredPolicy` (torch): a tool head plus argument-slot heads over the structured
candidates of `guardgraph.agents.env`, with the shield's masked distribution.
`ChatSpecialist`: any LangChain chat model as an untrained specialist in the same env.
Both are imported on first use, so this package costs nothing (no torch) until then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardgraph.agents.policies._chat import ChatSpecialist
    from guardgraph.agents.policies._torch import StructuredPolicy, masked_logits

_HOME = {"ChatSpecialist": "_chat", "StructuredPolicy": "_torch", "masked_logits": "_torch"}

__all__ = ["ChatSpecialist", "StructuredPolicy", "masked_logits"]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
