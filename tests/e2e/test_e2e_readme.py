"""The README's examples are real: every ```console block is run and compared (and so
are those of the docs pages listed in DOCS).

A block is a sequence of `$ command` lines, each followed by the output it prints
(stdout and stderr, interleaved). Commands run in a scratch directory (holding links to
`examples/` and `docs/`) with the virtualenv's scripts first on PATH, NO_COLOR set and a
fixed terminal width, so output is stable.
Lines in the expected output may end with `...` to match any remainder (used where a
value such as a path or a time differs from machine to machine).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = (ROOT / "docs" / "trace-format.md",)
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def _blocks(page: Path = README) -> list[tuple[int, list[tuple[str, list[str]]]]]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line_no = text.count("\n", 0, match.start()) + 1
        steps: list[tuple[str, list[str]]] = []
        for line in match.group(1).splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
        blocks.append((line_no, steps))
    return blocks


def _matches(actual: list[str], expected: list[str]) -> bool:
    if len(actual) != len(expected):
        return False
    for got, want in zip(actual, expected, strict=True):
        if want.endswith("...") and got.startswith(want[:-3]):
            continue
        if got.rstrip() != want.rstrip():
            return False
    return True


def test_readme_console_blocks(tmp_path: Path) -> None:
    """All blocks run in order in one shared scratch directory, as a reader would."""
    _run_page(README, tmp_path)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_docs_console_blocks(page: Path, tmp_path: Path) -> None:
    _run_page(page, tmp_path)


def _run_page(page: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "120"
    env["GUARDGRAPH_README_TMP"] = str(tmp_path)
    for shared in ("examples", "docs"):
        (tmp_path / shared).symlink_to(ROOT / shared)
    blocks = _blocks(page)
    assert blocks, f"{page.name} has no console examples"
    # Every command runs even after a mismatch (later blocks build on earlier state), and
    # every mismatch is reported at once, so one stale block does not hide the others.
    failures: list[str] = []
    for line_no, steps in blocks:
        for command, expected_lines in steps:
            proc = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=300,
                check=False,
            )
            actual = proc.stdout.rstrip("\n").splitlines()
            expected = list(expected_lines)
            while expected and not expected[-1].strip():
                expected.pop()
            if not _matches(actual, expected):
                failures.append(
                    f"{page.name}:{line_no}: `{shlex.quote(command)}` printed:\n"
                    + "\n".join(actual)
                    + "\n--- expected:\n"
                    + "\n".join(expected))
    assert not failures, ("\n\n".join(failures) + "\nhint: run `.venv/bin/python "
                          "scripts/update_readme.py` and review the diff")


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    """Every ```python block runs to completion (its asserts are the checks)."""
    for shared in ("examples", "docs"):
        (tmp_path / shared).symlink_to(ROOT / shared)
    text = README.read_text(encoding="utf-8")
    blocks = [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in PYTHON.finditer(text)]
    assert blocks, "README.md has no Python examples"
    for line_no, code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"README.md:{line_no}: block failed:\n{proc.stdout}"
