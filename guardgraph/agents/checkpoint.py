"""Training checkpoints: the torch state dict with the spec's sha256, the `Args`, the
observation encoding and the trainer's counters, so a run resumes where it stopped and
`eval` refuses a checkpoint trained under another spec.

A checkpoint is one file written by `torch.save` (atomically: a temporary file renamed),
read back with ``weights_only=True`` — only tensors and plain values, never pickled code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from guardgraph.agents._encoding import Encoding
from guardgraph.errors import GuardgraphError

__all__ = ["Checkpoint", "CheckpointError", "load", "model_sha256", "save"]

_FORMAT = 1


class CheckpointError(GuardgraphError):
    """A checkpoint that cannot be read, or was trained under another spec or encoding."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    state_dict: Mapping[str, torch.Tensor]
    optimizer: Mapping[str, Any]
    args: Any                       # guardgraph.agents.ppo.Args
    encoding: Encoding
    spec_sha256: str
    env_steps: int
    iteration: int
    lagrange: float
    stats: Mapping[str, int]
    model_sha256: str


def model_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the parameters (names, shapes, dtypes and bytes, in name order): the
    model hash an audit record or a gate names."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save(path: str | os.PathLike[str], *, policy: torch.nn.Module, optimizer: Any, args: Any,
         encoding: Encoding, spec_sha256: str, env_steps: int, iteration: int,
         lagrange: float, stats: Mapping[str, int]) -> str:
    """Write a checkpoint; returns the model's sha256."""
    state = policy.state_dict()
    digest = model_sha256(state)
    blob = {"format": _FORMAT, "state_dict": state, "optimizer": optimizer.state_dict(),
            "args": dataclasses.asdict(args), "encoding": encoding.to_json(),
            "spec_sha256": spec_sha256, "env_steps": env_steps, "iteration": iteration,
            "lagrange": float(lagrange), "stats": {k: int(v) for k, v in stats.items()},
            "model_sha256": digest}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, target)
    return digest


def load(path: str | os.PathLike[str], *, encoding: Encoding | None = None,
         spec_sha256: str | None = None) -> Checkpoint:
    """Read a checkpoint; with ``encoding`` / ``spec_sha256``, check it matches them."""
    from guardgraph.agents.ppo import Args

    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a guardgraph checkpoint ({exc})") from None
    if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not a guardgraph checkpoint (format "
                              f"{blob.get('format') if isinstance(blob, dict) else None!r}, "
                              f"expected {_FORMAT})")
    enc = Encoding.from_json(blob["encoding"])
    if spec_sha256 is not None and blob["spec_sha256"] != spec_sha256:
        raise CheckpointError(f"{path}: trained under spec sha256 {blob['spec_sha256'][:12]}…, "
                              f"but the domain's spec is {spec_sha256[:12]}…; retrain")
    if encoding is not None and enc != encoding:
        raise CheckpointError(f"{path}: its observation encoding differs from the "
                              "environment's (other tools, tasks or sizes); retrain")
    known = {f.name for f in dataclasses.fields(Args)}
    args = Args(**{k: v for k, v in blob["args"].items() if k in known})
    digest = model_sha256(blob["state_dict"])
    if digest != blob["model_sha256"]:
        raise CheckpointError(f"{path}: the parameters do not match the recorded model hash")
    return Checkpoint(state_dict=blob["state_dict"], optimizer=blob["optimizer"], args=args,
                      encoding=enc, spec_sha256=blob["spec_sha256"],
                      env_steps=int(blob["env_steps"]), iteration=int(blob["iteration"]),
                      lagrange=float(blob["lagrange"]), stats=dict(blob["stats"]),
                      model_sha256=digest)
