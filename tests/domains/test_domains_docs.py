"""docs/domains.md's first example runs and prints what the page says it prints."""

from __future__ import annotations

import ast
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "domains.md"


def test_the_first_example_says_what_it_does() -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    code = block.group(1)
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    # the comments after the last two expressions are their values
    success = re.search(r"episode\.success, episode\.compromised\s+# (\(.*\))", code)
    steps = re.search(r"for s in episode\.steps\]\n((?:# .*\n)+)", code)
    assert success is not None and steps is not None
    episode = namespace["episode"]
    assert (episode.success, episode.compromised) == ast.literal_eval(success.group(1))  # type: ignore[attr-defined]
    shown = ast.literal_eval("".join(line[2:] for line in steps.group(1).splitlines()))
    assert [(s.call.tool, s.decision) for s in episode.steps] == shown  # type: ignore[attr-defined]

