"""Finding domains: by name, by path, through $GUARDGRAPH_DOMAINS; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardgraph.domains import DomainError, domain_names, load_domain

ROOT = Path(__file__).resolve().parents[2]

MINI = '''
from pathlib import Path

from guardgraph.domains import Call, Domain, DomainTool, Task, World


def ping(world: World, n: int) -> int:
    """Count pings."""
    world.state["pings"] += n
    return world.state["pings"]


def build() -> Domain:
    goal = lambda w: w.state["pings"] == 2  # noqa: E731
    task = Task(id="t", family="ping", prompt="ping twice", user="u", labels=frozenset(),
                specialist="pinger", seed=1, success=goal, compromised=lambda w: False,
                reference=(Call(tool="ping", args={"n": 2}),), expected=("allow",))
    return Domain(name="mini", description="one tool", folder=Path(__file__).parent,
                  spec_files=("mini.spec",), facts={}, tool_list=(DomainTool.from_function(ping),),
                  specialists={"pinger": ("ping",)}, world=lambda s: World(
                      seed=s, now=__import__("datetime").datetime(2026, 1, 1), state={"pings": 0}),
                  task_list=(task,), reader=lambda tool, out: ())
'''


def test_bundled_domains_are_found() -> None:
    assert {"bank", "devops"} <= set(domain_names())
    assert load_domain(ROOT / "examples" / "bank").name == "bank"
    assert load_domain(ROOT / "examples" / "devops" / "domain.py").name == "devops"


def test_unknown_names_and_folders_are_explained(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match=r"no domain named 'bnak'; known: .*bank"):
        load_domain("bnak")
    with pytest.raises(DomainError, match="not a domain folder"):
        load_domain(tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "domain.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(DomainError, match="failed to import: RuntimeError: boom"):
        load_domain(tmp_path / "broken")
    (tmp_path / "nobuild").mkdir()
    (tmp_path / "nobuild" / "domain.py").write_text("X = 1\n")
    with pytest.raises(DomainError, match=r"defines no build\(\) function"):
        load_domain(tmp_path / "nobuild")


def test_a_domain_of_ones_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "domain.py").write_text(MINI)
    (folder / "mini.spec").write_text(
        "spec mini version 1\ntool ping(n: int) -> int\n"
        "rule small:\n  on ping\n  require n <= 3\n")
    monkeypatch.setenv("GUARDGRAPH_DOMAINS", str(tmp_path))
    assert "mini" in domain_names()
    mini = load_domain("mini")
    [task] = mini.tasks("all")
    assert mini.tasks("heldout") == ()
    from guardgraph.domains import play

    episode = play(mini, task, guard=mini.guard())
    assert episode.success and [s.decision for s in episode.steps] == ["allow"]


def test_a_spec_pack_that_is_missing_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "nospec"
    folder.mkdir()
    (folder / "domain.py").write_text(MINI)
    with pytest.raises(DomainError, match=r"spec file.* not found: .*mini\.spec"):
        load_domain(folder).policy()
