"""guardgraph.agents: learning under the specs — gymnasium environments from a domain,
the shield, reward from specs, a CleanRL-style PPO, the router, checkpoints.

Every name is imported on first use: ``import guardgraph.agents`` loads neither torch nor
gymnasium; torch is imported only by the modules that train (`ppo`, `policies`,
`checkpoint`, the PPO router).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardgraph.agents._encoding import Encoding
    from guardgraph.agents._port import GuardPort
    from guardgraph.agents.checkpoint import Checkpoint, CheckpointError, model_sha256
    from guardgraph.agents.env import DomainEnv, EnvConfig
    from guardgraph.agents.ppo import Args, EvalResult, TrainResult, evaluate, train
    from guardgraph.agents.reward import Executed, SpecPotential, Term, TermKind, shaping
    from guardgraph.agents.router import RouterKind, RouterResult, train_router
    from guardgraph.agents.shield import Mask, Shield, user_asked

_HOME = {
    "Encoding": "_encoding", "GuardPort": "_port",
    "Checkpoint": "checkpoint", "CheckpointError": "checkpoint", "model_sha256": "checkpoint",
    "DomainEnv": "env", "EnvConfig": "env",
    "Args": "ppo", "EvalResult": "ppo", "TrainResult": "ppo", "evaluate": "ppo",
    "train": "ppo",
    "Executed": "reward", "SpecPotential": "reward", "Term": "reward", "TermKind": "reward",
    "shaping": "reward",
    "RouterKind": "router", "RouterResult": "router", "train_router": "router",
    "Mask": "shield", "Shield": "shield", "user_asked": "shield",
}

__all__ = [
    "Args",
    "Checkpoint",
    "CheckpointError",
    "DomainEnv",
    "Encoding",
    "EnvConfig",
    "EvalResult",
    "Executed",
    "GuardPort",
    "Mask",
    "RouterKind",
    "RouterResult",
    "Shield",
    "SpecPotential",
    "Term",
    "TermKind",
    "TrainResult",
    "evaluate",
    "model_sha256",
    "shaping",
    "train",
    "train_router",
    "user_asked",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
