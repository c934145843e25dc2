"""A small torch policy over structured actions: a tool head and argument-slot heads.

The logit of candidate c = (tool t, slot j filled from pool row v_j) is

    tool_logit[t] + Σ_j  q[t, j] · k[v_j]

where ``q[t, j]`` is a query the trunk emits for slot j of tool t and ``k[v]`` a key read
from pool row v's origin and position. The distribution is the softmax over the candidates
the mask keeps (`masked_logits`): with the shield, the policy's distribution renormalised
over the allowed actions, and PPO's log-probabilities are those of that distribution.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from guardgraph.agents._encoding import Encoding

__all__ = ["StructuredPolicy", "entropy", "log_prob", "masked_logits", "sample"]

_NEG = -1e9


def masked_logits(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Logits with the dropped candidates at -1e9 (probability 0 after softmax); a row
    with nothing kept keeps candidate 0 (stop), so a distribution always exists."""
    keep = keep.bool().clone()
    keep[:, 0] |= ~keep.any(dim=1)
    return torch.where(keep, logits, torch.full_like(logits, _NEG))


def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a) of the (masked) categorical over the rows of ``logits``."""
    return torch.log_softmax(logits, dim=1).gather(1, actions[:, None]).squeeze(1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1)


def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)


class StructuredPolicy(nn.Module):
    """Actor-critic for `Encoding` ``encoding``; ``forward(obs) -> (logits [B, C], value [B])``."""

    def __init__(self, encoding: Encoding, *, hidden: int = 64, key_dim: int = 16) -> None:
        super().__init__()
        self.encoding = encoding
        e = encoding
        self.n_tools = len(e.tools) + 1
        self.n_slots = max(1, e.max_slots)
        self.key_dim = key_dim
        width = e.task_dim + e.progress_dim + e.max_values * e.pool_dim
        self.trunk = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(),
                                   nn.Linear(hidden, hidden), nn.Tanh())
        self.tool_head = nn.Linear(hidden, self.n_tools)
        self.slot_head = nn.Linear(hidden, self.n_tools * self.n_slots * key_dim)
        self.key = nn.Linear(e.pool_dim, key_dim)
        self.position = nn.Parameter(torch.zeros(e.max_values, key_dim))
        self.value_head = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.tool_head.weight, 0.01)
        nn.init.orthogonal_(self.slot_head.weight, 0.01)
        nn.init.orthogonal_(self.value_head.weight, 1.0)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pool = obs["pool"].float()
        b = pool.shape[0]
        x = torch.cat([obs["task"].float(), obs["progress"].float(), pool.reshape(b, -1)], 1)
        h = self.trunk(x)
        cands = obs["candidates"].long()
        tools = cands[:, :, 0].clamp(0, self.n_tools - 1)                     # [B, C]
        logits = torch.gather(self.tool_head(h), 1, tools)                     # [B, C]
        queries = self.slot_head(h).view(b, self.n_tools, self.n_slots, self.key_dim)
        keys = self.key(pool) + self.position                                  # [B, V, d]
        c = cands.shape[1]
        for j in range(min(self.n_slots, cands.shape[2] - 1)):
            idx = cands[:, :, 1 + j]
            used = (idx >= 0) & (cands[:, :, 0] > 0)
            k = torch.gather(keys, 1, idx.clamp(min=0).unsqueeze(-1).expand(b, c, self.key_dim))
            q = queries[torch.arange(b).unsqueeze(1), tools, j]                # [B, C, d]
            logits = logits + torch.where(used, (q * k).sum(-1), torch.zeros_like(logits))
        return logits, self.value_head(h).squeeze(-1)

    def act(self, obs: Mapping[str, torch.Tensor], *, shielded: bool = True,
            greedy: bool = False) -> torch.Tensor:
        """Actions for a batch: sampled (or argmax) from the masked distribution."""
        with torch.no_grad():
            logits, _ = self(obs)
            keep = obs["valid"].bool() & (obs["allowed"].bool() if shielded else True)
            logits = masked_logits(logits, keep)
            return logits.argmax(dim=1) if greedy else sample(logits)
