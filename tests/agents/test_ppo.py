"""The trainer on tiny configurations: it runs every variant, never executes a violation
with the shield, learns the toy domain, and checkpoints resume where they stopped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from toydomain import SPEC, ToyDomain

torch = pytest.importorskip("torch")

from guardgraph.agents import checkpoint as ckpt  # noqa: E402
from guardgraph.agents.ppo import VARIANTS, Args, evaluate, train, variant  # noqa: E402

TINY = dict(domain="toy", total_timesteps=256, num_envs=2, num_steps=64, max_candidates=16,
            hidden=32, update_epochs=2, num_minibatches=2)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_trains(name: str, toy: ToyDomain) -> None:
    result = train(variant(name, **TINY), domain=toy)
    assert result.env_steps == 256
    assert result.curve and result.curve[-1]["env_steps"] == 256
    if VARIANTS[name].get("shield", True):
        assert result.train_violations == 0


@pytest.mark.slow
def test_spec_guided_learns_the_toy_domain(toy: ToyDomain) -> None:
    args = Args(domain="toy", total_timesteps=3072, num_envs=4, num_steps=64,
                max_candidates=16, hidden=64, update_epochs=4, num_minibatches=4)
    result = train(args, domain=toy)
    assert result.train_violations == 0
    ev = evaluate(result.policy, toy, args)
    assert ev.executed_violations == 0
    assert ev.success_rate >= 0.75
    assert ev.attempted_violations_unshielded <= 0.5


def test_unknown_variant_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        variant("fast")


def test_checkpoint_resumes_and_records_the_spec(tmp_path: Path, toy: ToyDomain) -> None:
    path = tmp_path / "p.pt"
    first = train(Args(**{**TINY, "total_timesteps": 128, "checkpoint": str(path)}), domain=toy)
    state = ckpt.load(path)
    assert state.env_steps == 128 and state.iteration == 1
    assert state.spec_sha256 == first.spec_sha256
    assert state.model_sha256 == ckpt.model_sha256(first.policy.state_dict())
    assert state.args.total_timesteps == 128
    resumed = train(Args(**{**TINY, "total_timesteps": 256, "resume": str(path),
                            "checkpoint": str(path)}), domain=toy)
    assert resumed.env_steps == 256
    assert len(resumed.curve) == 1  # only the second iteration ran
    assert ckpt.load(path).iteration == 2


def test_checkpoint_refuses_another_spec(tmp_path: Path, toy: ToyDomain) -> None:
    path = tmp_path / "p.pt"
    train(Args(**{**TINY, "total_timesteps": 128, "checkpoint": str(path)}), domain=toy)
    other = ToyDomain(SPEC.replace("const CAP = 500", "const CAP = 400"))
    with pytest.raises(ckpt.CheckpointError, match="trained under spec"):
        train(Args(**{**TINY, "resume": str(path)}), domain=other)


def test_checkpoint_detects_tampered_parameters(tmp_path: Path, toy: ToyDomain) -> None:
    path = tmp_path / "p.pt"
    train(Args(**{**TINY, "total_timesteps": 128, "checkpoint": str(path)}), domain=toy)
    blob = torch.load(path, weights_only=True)
    name = next(iter(blob["state_dict"]))
    blob["state_dict"][name] = blob["state_dict"][name] + 1.0
    torch.save(blob, path)
    with pytest.raises(ckpt.CheckpointError, match="model hash"):
        ckpt.load(path)


def test_missing_and_foreign_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ckpt.CheckpointError, match="no such checkpoint"):
        ckpt.load(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not torch")
    with pytest.raises(ckpt.CheckpointError, match="not a guardgraph checkpoint"):
        ckpt.load(junk)


def test_args_fields_are_documented() -> None:
    import inspect

    from guardgraph.agents import ppo

    source = inspect.getsource(ppo.Args)
    for f in dataclasses.fields(Args):
        after = source.split(f"    {f.name}:", 1)[1].split("\n", 2)[1]
        assert after.strip().startswith('"""'), f"Args.{f.name} has no docstring"
