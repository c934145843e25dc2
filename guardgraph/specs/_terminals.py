"""The terminals of the language, read from ``_grammar.lark``: the one token definition.

The grammar file spells each terminal once (``STRING: /".."/``); the tokenizer validates
every name, number, duration and string with exactly these patterns, and the grammar fuzz
draws its sentences from them, so the two can never disagree on what a token is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["terminal_patterns"]

_TERMINAL = re.compile(r"^([A-Z][A-Z_]*): /(.*)/$", re.M)


@functools.cache
def terminal_patterns() -> Mapping[str, re.Pattern[str]]:
    """Terminal name -> its compiled pattern (lark regexes are Python regexes).

    >>> bool(terminal_patterns()["DURATION"].fullmatch("24h"))
    True
    """
    text = (Path(__file__).parent / "_grammar.lark").read_text(encoding="utf-8")
    found = {m.group(1): re.compile(m.group(2)) for m in _TERMINAL.finditer(text)}
    missing = {"NAME", "INT", "REAL", "DURATION", "STRING"} - set(found)
    if missing:  # pragma: no cover - guards an edit of the grammar file
        raise RuntimeError(f"_grammar.lark lacks the terminals {sorted(missing)}")
    return MappingProxyType(found)
