"""The router: bandits and PPO over the specialists, with `on route` rules as the shield."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from toydomain import SPEC, ToyDomain

from guardgraph.agents.router import RouteContext, RouterKind, train_router

ROUTE_RULE = ('rule pay_tasks_to_payments:\n  on route\n  when "payments" in task.labels\n'
              '  require target == "payments"\n')


class TwoDesks(ToyDomain):
    """The toy domain with a second specialist that cannot pay; a route rule keeps
    payment tasks with the payments agent."""

    specialists = MappingProxyType({
        "payments": ("verify_identity", "get_balance", "read_invoice", "send_money"),
        "support": ("verify_identity", "get_balance"),
        "research": ("read_invoice",)})

    def __init__(self) -> None:
        super().__init__(SPEC + "\n" + ROUTE_RULE)


@pytest.mark.parametrize("kind", list(RouterKind))
def test_router_matches_the_oracle_and_never_takes_a_denied_route(kind: RouterKind) -> None:
    if kind is RouterKind.PPO:
        pytest.importorskip("torch")
    result = train_router(TwoDesks(), kind, rounds=128, seed=0)
    assert result.executed_denied_routes == 0
    assert result.success >= 0.95 * result.oracle_success
    assert result.oracle_success == 1.0


def test_route_shield_masks_denied_targets() -> None:
    ctx = RouteContext(TwoDesks())
    task = ctx.domain.tasks("train")[0]
    allowed = dict(zip(ctx.arms, ctx.allowed(task), strict=True))
    assert allowed == {"payments": True, "support": False, "research": False}


def test_unshielded_router_would_take_denied_routes() -> None:
    # Without the shield the rule is the only thing keeping payments with payments, and
    # the random router breaks it: the comparison the shield is measured against.
    result = train_router(TwoDesks(), RouterKind.LINUCB, rounds=64, seed=1)
    assert result.random_denied_routes > 0
