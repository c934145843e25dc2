"""Re-run every ```console block of README.md and write the real output back.

tests/e2e/test_e2e_readme.py checks the same blocks, so the README stays true: run this
after changing a command's output, review the diff, commit both. Expected lines ending
in `...` are kept as they are when the real line still matches them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def _run(command: str, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=env["GUARDGRAPH_README_TMP"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.stdout.rstrip("\n").splitlines()


def _refresh(block: str, env: dict[str, str]) -> str:
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    out: list[str] = []
    for command, old in steps:
        out.append(f"$ {command}")
        new = _run(command, env)
        for i, line in enumerate(new):
            keep = old[i] if i < len(old) else None
            if keep and keep.endswith("...") and line.startswith(keep[:-3]):
                out.append(keep)
            else:
                out.append(line)
    return "\n".join(out) + "\n"


def main() -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "120"
    with tempfile.TemporaryDirectory() as tmp:
        env["GUARDGRAPH_README_TMP"] = tmp
        for shared in ("examples", "docs"):
            (Path(tmp) / shared).symlink_to(ROOT / shared)
        text = README.read_text(encoding="utf-8")
        text = BLOCK.sub(lambda m: "```console\n" + _refresh(m.group(1), env) + "```", text)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
