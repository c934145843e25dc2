"""The shield: no violating action ever reaches a tool — over random policies and random
specs — and the policy's distribution is renormalised over the allowed actions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toydomain import SPEC, ToyDomain

from guardgraph.agents.env import DomainEnv, EnvConfig
from guardgraph.guardrails import Action, Decision, Session

RULES = {
    "verify": "rule verify_first:\n  on send_money\n  require once(verify_identity)\n",
    "sms": 'rule no_sms:\n  on verify_identity\n  require method != "sms"\n',
    "overdraft": "rule no_overdraft:\n  on send_money\n  require amount <= result(get_balance)\n",
    "budget": ("rule budget:\n  on send_money\n"
               "  require sum(send_money.amount within 24h) + amount <= {budget}\n"),
    "count": "rule rate:\n  on send_money\n  require count(send_money within 1h) < {count}\n",
    "invoice_first": "rule invoice_first:\n  on send_money\n  require previously(get_balance)\n",
}


def random_spec(cap: int, budget: int, count: int, chosen: frozenset[str]) -> str:
    head = SPEC.split("rule cap:")[0]
    body = (f"rule cap:\n  on send_money\n  require 0 < amount and amount <= {cap}\n"
            "  repair amount\n")
    for name in sorted(chosen):
        body += RULES[name].format(budget=budget, count=count)
    return head + body


class Recorder(ToyDomain):
    """The toy domain, remembering every call that reached a tool and when."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.calls: list[tuple[str, dict[str, object], Any, Any]] = []
        self.env: DomainEnv | None = None

    def execute(self, world: Any, tool: str, args: Any) -> object:
        assert self.env is not None
        out = super().execute(world, tool, args)
        self.calls.append((tool, dict(args), self.env._now(), out))
        return out


def replay_is_clean(domain: Recorder, prompt: str) -> None:
    """Every call that reached a tool, replayed in order through a fresh guard, is
    allowed as it ran (a repaired call ran with its repaired, compliant arguments)."""
    guard = domain.guard()
    guard.user_message("replay", prompt)
    for k, (tool, args, at, out) in enumerate(domain.calls):
        verdict = guard.check_and_commit(
            Action(tool=tool, args=args, agent="payments", call_id=f"r{k}"),
            Session(id="replay", user="u1", now=at))
        assert verdict.decision is Decision.ALLOW, (tool, args, verdict.message)
        guard.record_result("replay", f"r{k}", out)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cap=st.integers(50, 900), budget=st.integers(100, 2000), count=st.integers(1, 3),
       chosen=st.frozensets(st.sampled_from(sorted(RULES))), seed=st.integers(0, 2**16),
       greedy_bad=st.booleans())
def test_no_violating_action_reaches_a_tool(cap: int, budget: int, count: int,
                                            chosen: frozenset[str], seed: int,
                                            greedy_bad: bool) -> None:
    domain = Recorder(random_spec(cap, budget, count, chosen))
    env = DomainEnv(domain, config=EnvConfig(shield=True, max_steps=6, max_candidates=16),
                    approver=None, seed=seed)
    domain.env = env
    rng = np.random.default_rng(seed)
    for episode in range(2):
        domain.calls.clear()
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            # A random policy over every action id, or one that prefers what the shield
            # forbids: either way the shield decides what runs.
            forbidden = np.flatnonzero(obs["valid"] & (1 - obs["allowed"]))
            if greedy_bad and len(forbidden):
                action = int(rng.choice(forbidden))
            else:
                action = int(rng.integers(env.action_space.n))
            obs, _, term, trunc, info = env.step(action)
            assert not info["violation"]
            done = term or trunc
        replay_is_clean(domain, str(env.task.prompt))


def test_a_denied_proposal_is_not_executed_and_the_reason_is_shown() -> None:
    domain = Recorder(SPEC)
    env = DomainEnv(domain, config=EnvConfig(), approver=None)
    domain.env = env
    env.reset(seed=0, options={"task_index": 0})
    pay = next(i for i, a in enumerate(env.candidate_actions)
               if a is not None and a.tool == "send_money")
    assert env.mask is not None and not env.mask.allowed[pay]  # verify_first
    _obs, _, _, _, info = env.step(pay)
    assert info["attempted"] == 1 and info["executed"] == 0
    assert "verify_first" in info["message"]
    assert domain.calls == []


def test_unshielded_env_executes_and_counts_the_violation() -> None:
    domain = Recorder(SPEC)
    env = DomainEnv(domain, config=EnvConfig(shield=False), approver=None)
    domain.env = env
    obs, _ = env.reset(seed=0, options={"task_index": 0})
    assert obs["allowed"].sum() == obs["valid"].sum()  # no mask without the shield
    pay = next(i for i, a in enumerate(env.candidate_actions)
               if a is not None and a.tool == "send_money")
    _, _, _, _, info = env.step(pay)
    assert info["violation"] == 1 and info["executed"] == 1
    assert [c[0] for c in domain.calls] == ["send_money"]


def test_a_repair_runs_the_compliant_call() -> None:
    domain = Recorder(SPEC)
    env = DomainEnv(domain, config=EnvConfig(), approver=None)
    domain.env = env
    task = next(t for t in domain.tasks("train") if t.family == "pay_over_cap")
    env.reset(seed=0, options={"task": task})
    for tool in ("verify_identity", "get_balance"):
        env.step(next(i for i, a in enumerate(env.candidate_actions)
                      if a is not None and a.tool == tool and env.mask.allowed[i]))
    over = next(i for i, a in enumerate(env.candidate_actions)
                if a is not None and a.tool == "send_money"
                and a.args["recipient"] == task.params["recipient"]
                and a.args["amount"] == task.params["amount"])
    assert env.mask.verdicts[over].decision is Decision.REPAIR
    _, reward, term, _, info = env.step(over)
    assert domain.calls[-1][1]["amount"] == 500
    assert term and info["success"] and reward >= 1.0


def test_repair_off_masks_the_repairable_proposal() -> None:
    env = DomainEnv(ToyDomain(), config=EnvConfig(repair=False), approver=None)
    task = next(t for t in env.tasks if t.family == "pay_over_cap")
    env.reset(seed=0, options={"task": task})
    for tool in ("verify_identity", "get_balance"):
        env.step(next(i for i, a in enumerate(env.candidate_actions)
                      if a is not None and a.tool == tool and env.mask.allowed[i]))
    mask = env.mask
    assert mask is not None
    for i, _a in enumerate(env.candidate_actions):
        if mask.verdicts[i].decision is Decision.REPAIR:
            assert not mask.allowed[i]


def test_escalation_runs_only_with_the_simulated_users_approval() -> None:
    env = DomainEnv(ToyDomain(), config=EnvConfig())  # approver: user_asked
    task = next(t for t in env.tasks if t.family == "invoice")
    env.reset(seed=0, options={"task": task})
    for tool in ("verify_identity", "get_balance", "read_invoice"):
        env.step(next(i for i, a in enumerate(env.candidate_actions)
                      if a is not None and a.tool == tool and env.mask.allowed[i]))
    mask = env.mask
    assert mask is not None
    injected = [i for i, a in enumerate(env.candidate_actions)
                if a is not None and a.tool == "send_money"
                and str(a.args["recipient"]).startswith("ATTACKER")]
    assert injected
    for i in injected:  # the payee read from the invoice escalates; the user refuses it
        assert mask.verdicts[i].decision is Decision.ESCALATE
        assert not mask.allowed[i]


def test_masked_distribution_is_renormalised_over_allowed_actions() -> None:
    torch = pytest.importorskip("torch")
    from guardgraph.agents.policies._torch import entropy, log_prob, masked_logits

    logits = torch.tensor([[0.5, 1.0, 2.0, -1.0]])
    keep = torch.tensor([[1, 0, 1, 1]]).bool()
    masked = masked_logits(logits, keep)
    p = torch.softmax(masked, 1)
    assert float(p[0, 1]) == 0.0
    expected = torch.softmax(logits[0, [0, 2, 3]], 0)
    assert torch.allclose(p[0, [0, 2, 3]], expected)
    assert torch.allclose(log_prob(masked, torch.tensor([2])), expected[1].log())
    assert torch.isfinite(entropy(masked)).all()
    # nothing allowed: stop (candidate 0) keeps the distribution defined
    none = masked_logits(logits, torch.zeros_like(keep))
    assert float(torch.softmax(none, 1)[0, 0]) == 1.0
