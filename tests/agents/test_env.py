"""The environments: gymnasium's checker, vectorised copies, the documented encoding,
determinism, and that `import guardgraph.agents` stays light."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from toydomain import ToyDomain

from guardgraph.agents.env import DomainEnv, EnvConfig


def test_gymnasium_env_checker_passes(toy: ToyDomain) -> None:
    check_env(DomainEnv(toy, config=EnvConfig(progress_coef=0.5)), skip_render_check=True)


def test_env_checker_passes_unshielded(toy: ToyDomain) -> None:
    check_env(DomainEnv(toy, config=EnvConfig(shield=False)), skip_render_check=True)


def _make() -> DomainEnv:
    return DomainEnv(ToyDomain(), config=EnvConfig(max_candidates=16))


@pytest.mark.parametrize("vector", [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv])
def test_vectorised_envs_step(vector: type) -> None:
    envs = vector([_make for _ in range(2)])
    try:
        obs, _ = envs.reset(seed=3)
        assert obs["candidates"].shape[0] == 2
        for _ in range(6):
            actions = np.array([int(np.flatnonzero(m)[-1]) for m in obs["allowed"]])
            obs, reward, _term, _trunc, _info = envs.step(actions)
            assert reward.shape == (2,)
    finally:
        envs.close()


def test_encoding_is_documented_shape(toy: ToyDomain) -> None:
    env = DomainEnv(toy)
    obs, info = env.reset(seed=0)
    e = env.encoding
    assert obs["pool"].shape == (e.max_values, len(e.origins) + 1)
    assert obs["candidates"].shape == (e.max_candidates, 1 + e.max_slots)
    assert obs["progress"].shape == (e.progress_dim,)
    # candidate 0 is stop, the rest name a tool and pool rows of the right kind
    assert obs["candidates"][0, 0] == 0 and obs["valid"][0] == 1
    for c in np.flatnonzero(obs["valid"])[1:]:
        tool = e.tools[obs["candidates"][c, 0] - 1]
        used = obs["candidates"][c, 1:1 + len(e.slots[e.tools.index(tool)])]
        assert (used >= 0).all()
    assert e.monitors == ("verify_first: once(verify_identity)",
                          "no_overdraft: result(get_balance) known")
    assert info["task_id"] in {t.id for t in env.tasks}


def test_same_seed_same_episode(toy: ToyDomain) -> None:
    def run() -> list[float]:
        env = DomainEnv(ToyDomain(), seed=5)
        obs, _ = env.reset(seed=11)
        out = []
        for _ in range(4):
            a = int(np.flatnonzero(obs["allowed"])[-1])
            obs, r, term, trunc, _ = env.step(a)
            out.append(r)
            if term or trunc:
                obs, _ = env.reset()
        return out

    assert run() == run()


def test_progress_shaping_pays_for_advancing_a_monitor(toy: ToyDomain) -> None:
    env = DomainEnv(toy, config=EnvConfig(progress_coef=1.0, gamma=1.0))
    env.reset(seed=0, options={"task_index": 0})
    verify = next(i for i, a in enumerate(env.candidate_actions)
                  if a is not None and a.tool == "verify_identity" and env.mask.allowed[i])
    _, reward, _, _, info = env.step(verify)
    assert info["shaping"] == pytest.approx(0.5)  # one of two monitor terms advanced
    assert reward == pytest.approx(0.5)


def test_an_action_outside_the_candidates_is_rejected(toy: ToyDomain) -> None:
    env = DomainEnv(toy, config=EnvConfig(max_candidates=16))
    obs, _ = env.reset(seed=0)
    invalid = int(np.flatnonzero(obs["valid"] == 0)[0])
    _, _, _, _, info = env.step(invalid)
    assert info["executed"] == 0 and "not a candidate" in info["message"]


def test_a_domain_without_tasks_is_a_clear_error(toy: ToyDomain) -> None:
    with pytest.raises(ValueError, match="no tasks"):
        DomainEnv(toy, tasks=())


def test_importing_the_package_does_not_load_torch_or_gymnasium() -> None:
    code = ("import sys, guardgraph, guardgraph.agents, guardgraph.agents.policies; "
            "print('torch' in sys.modules, 'gymnasium' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("name", ["bank", "devops"])
def test_env_checker_passes_on_the_bundled_domains(name: str) -> None:
    from guardgraph.domains import load_domain

    env = DomainEnv(load_domain(name))
    check_env(env, skip_render_check=True)
    assert env.potential.terms  # both specs carry temporal rules or budgets
