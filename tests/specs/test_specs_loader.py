"""The loader: includes, cycles, diamonds, content hashes, unreadable files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from guardgraph.specs import content_hash, load_file, load_text

TOOLS = "spec tools version 1\ntool ping(n: int)\n"


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes(result: object) -> list[str]:
    return [d.code for d in result.diagnostics]  # type: ignore[attr-defined]


def test_include_resolves_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "policy/main.spec", 'spec main version 7\ninclude "lib/tools.spec"\n'
          "rule r: on ping require n < 3\n")
    write(tmp_path, "policy/lib/tools.spec", 'spec tools version 1\ninclude "types.spec"\n'
          "tool ping(n: int, c: Color)\n")
    write(tmp_path, "policy/lib/types.spec", 'spec types version 1\nenum Color = "red"\n')
    result = load_file(tmp_path / "policy/main.spec")
    assert result.ok, result.diagnostics
    assert result.spec is not None
    assert (result.spec.name, result.spec.version) == ("main", 7)
    names = [Path(f.path).name for f in result.spec.files]
    assert names == ["main.spec", "tools.spec", "types.spec"]
    assert [Path(p).name for p in result.sources] == names


def test_relative_paths_stay_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "p/main.spec", 'spec main version 1\ninclude "tools.spec"\n')
    write(tmp_path, "p/tools.spec", TOOLS + "rule r: on ping require n > x\n")
    monkeypatch.chdir(tmp_path)
    result = load_file("p/main.spec")
    assert list(result.sources) == ["p/main.spec", os.path.join("p", "tools.spec")]
    (diag,) = result.diagnostics
    assert diag.code == "GG201" and diag.span is not None
    assert diag.span.file == os.path.join("p", "tools.spec")


def test_include_not_found_points_at_the_include(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\n\ninclude "missing.spec"\n')
    result = load_file(tmp_path / "main.spec")
    assert not result.ok
    (diag,) = result.diagnostics
    assert diag.code == "GG110"
    assert "missing.spec" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.column) == (3, 1)


def test_missing_root_file_is_a_diagnostic(tmp_path: Path) -> None:
    result = load_file(tmp_path / "nope.spec")
    assert codes(result) == ["GG110"] and result.spec is None
    assert result.diagnostics[0].span is None


@pytest.mark.parametrize("length", [1, 2, 3])
def test_include_cycle_names_the_cycle(tmp_path: Path, length: int) -> None:
    names = [f"f{i}.spec" for i in range(length)]
    for i, name in enumerate(names):
        nxt = names[(i + 1) % length]
        write(tmp_path, name, f'spec f{i} version 1\ninclude "{nxt}"\n')
    result = load_file(tmp_path / names[0])
    assert codes(result) == ["GG111"]
    message = result.diagnostics[0].message
    chain = " -> ".join(str(tmp_path / n) for n in [*names, names[0]])
    assert message == f"include cycle: {chain}"


def test_diamond_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\ninclude "a.spec"\ninclude "b.spec"\n'
          "rule r: on ping require n > 0\n")
    write(tmp_path, "a.spec", 'spec a version 1\ninclude "shared/tools.spec"\n')
    write(tmp_path, "b.spec", 'spec b version 1\ninclude "./shared/../shared/tools.spec"\n')
    write(tmp_path, "shared/tools.spec", TOOLS)
    result = load_file(tmp_path / "main.spec")
    assert result.ok, result.diagnostics
    assert result.spec is not None
    assert [Path(f.path).name for f in result.spec.files] == [
        "main.spec", "a.spec", "tools.spec", "b.spec"
    ]
    assert len(result.spec.tools) == 1


def test_content_hash_covers_every_file_in_load_order(tmp_path: Path) -> None:
    main = 'spec main version 1\ninclude "tools.spec"\nrule r: on ping require n > 0\n'
    write(tmp_path, "main.spec", main)
    tools = write(tmp_path, "tools.spec", TOOLS)
    first = load_file(tmp_path / "main.spec").spec
    assert first is not None
    assert first.content_hash == content_hash([main, TOOLS])
    expected = hashlib.sha256()
    for text in (main, TOOLS):
        expected.update(len(text.encode()).to_bytes(8, "big") + text.encode())
    assert first.content_hash == expected.hexdigest()
    # the same texts elsewhere give the same hash; a change in the include changes it
    other = tmp_path / "elsewhere"
    write(other, "main.spec", main)
    write(other, "tools.spec", TOOLS)
    moved = load_file(other / "main.spec").spec
    assert moved is not None and moved.content_hash == first.content_hash
    tools.write_text(TOOLS + "# a comment\n", encoding="utf-8")
    changed = load_file(tmp_path / "main.spec").spec
    assert changed is not None and changed.content_hash != first.content_hash


def test_file_boundaries_are_part_of_the_hash() -> None:
    assert content_hash(["ab", "c"]) != content_hash(["a", "bc"])


def test_not_utf8_is_gg112(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\ninclude "latin1.spec"\n')
    (tmp_path / "latin1.spec").write_bytes(b"spec x version 1\n# caf\xe9\n")
    result = load_file(tmp_path / "main.spec")
    (diag,) = result.diagnostics
    assert diag.code == "GG112"
    assert "not UTF-8" in diag.message and "0xe9 on line 2" in diag.message
    assert diag.span is not None and diag.span.line == 2


def test_directory_is_gg112(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\ninclude "dir.spec"\n')
    (tmp_path / "dir.spec").mkdir()
    assert codes(load_file(tmp_path / "main.spec")) == ["GG112"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file_is_gg112(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.spec", TOOLS)
    path.chmod(0)
    try:
        result = load_file(path)
    finally:
        path.chmod(0o600)
    assert codes(result) == ["GG112"]


def test_impossible_file_names_are_gg112() -> None:
    result = load_text('spec a version 1\ninclude "x\\u0000y.spec"\n')
    assert codes(result) == ["GG112"]
    assert "not a valid file name" in result.diagnostics[0].message
    assert codes(load_file("a\x00b.spec")) == ["GG112"]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "bom.spec").write_bytes("\ufeff".encode() + TOOLS.encode())
    result = load_file(tmp_path / "bom.spec")
    assert result.ok, result.diagnostics


def test_syntax_error_in_an_include_is_reported_and_stops_checking(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\ninclude "bad.spec"\n'
          "rule r: on nope require true\n")
    write(tmp_path, "bad.spec", "spec bad version 1\ntool (\n")
    result = load_file(tmp_path / "main.spec")
    assert not result.ok
    assert {d.code[:3] for d in result.diagnostics} == {"GG1"}
    assert all(d.span is not None and d.span.file.endswith("bad.spec") for d in result.diagnostics)


def test_duplicate_across_files_notes_the_other_file(tmp_path: Path) -> None:
    write(tmp_path, "main.spec", 'spec main version 1\ninclude "tools.spec"\ntool ping()\n')
    write(tmp_path, "tools.spec", TOOLS)
    (diag,) = load_file(tmp_path / "main.spec").diagnostics
    assert diag.code == "GG206"
    assert diag.span is not None and diag.span.file.endswith("tools.spec")
    assert diag.notes[0].startswith("first declared at ") and "main.spec:3:6" in diag.notes[0]


def test_load_text_resolves_includes_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "tools.spec", TOOLS)
    text = 'spec main version 1\ninclude "tools.spec"\nrule r: on ping require n > 0\n'
    assert load_text(text, base_dir=tmp_path).ok
    assert load_text(text, path=str(tmp_path / "policy.spec")).ok
    missing = load_text(text, base_dir=tmp_path / "nowhere")
    assert codes(missing) == ["GG110"]
    assert missing.diagnostics[0].span is not None
    assert missing.diagnostics[0].span.file == "<string>"


def test_result_is_an_immutable_value() -> None:
    result = load_text(TOOLS, path="x.spec")
    assert result.ok and result.errors == ()
    assert dict(result.sources) == {"x.spec": TOOLS}
    with pytest.raises(TypeError):
        result.sources["y"] = ""  # type: ignore[index]


def test_api_misuse_raises() -> None:
    with pytest.raises(TypeError, match="expected spec text as str"):
        load_text(b"spec x version 1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "module", ["_checker", "_loader", "_declare", "_regex", "_scope"]
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    mod = importlib.import_module(f"guardgraph.specs.{module}")
    failed, attempted = doctest.testmod(mod)
    assert attempted > 0 and failed == 0
