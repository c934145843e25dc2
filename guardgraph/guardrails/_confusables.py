"""Tool names as calls spell them: the canonical match and the look-alike refusal.

A call names its tool by the NFKC + case-folded form of the declared name (so ``SEND_MONEY``
and full-width ``ｓｅｎｄ_ｍｏｎｅｙ`` are ``send_money``, and the executor runs the declared
name). A name that only *looks* like a declared tool (a Cyrillic ``а``, a Greek ``ο``, a
zero-width space, a combining mark, ``0`` for ``o``) is not that tool: it is unknown, and
the hint names the tool it imitates (issue 11). The look-alike test compares skeletons in
the manner of Unicode TR39 section 4, with a small table of the confusables that matter for
identifiers written as data below (the full TR39 table is 6000 pairs; an unknown name is
denied either way, the table only decides whether the hint can name the real tool).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping

from guardgraph.guardrails._freeze import BadValue, _scalar_text, normalize

__all__ = ["canonical_tool", "skeleton", "tool_key", "tool_table"]

# Look-alike -> the Latin letter or digit it imitates (TR39 confusables.txt, the letters
# and digits that occur in identifiers). Applied before case folding, so uppercase
# look-alikes map to their uppercase Latin twin and fold with it.
_CONFUSABLE = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
    "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p",
    "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "џ": "u", "ѵ": "v", "ԝ": "w", "х": "x",
    "у": "y", "ʐ": "z", "ь": "b", "ɡ": "g",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K",
    "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "Ү": "Y", "Ԁ": "D",
    "Ԍ": "G", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "l", "З": "3", "б": "6",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ϳ": "j", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Latin extensions and symbols that pass for ASCII letters
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ɪ": "i", "ʟ": "l", "ɴ": "n", "ʀ": "r",
    "ꓲ": "l", "ǀ": "l", "ⅼ": "l", "∣": "l", "ℓ": "l", "ß": "ss",
    # digits and letters that stand in for each other in names
    "0": "o", "1": "l", "|": "l", "5": "s",
    # dashes and low lines
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "‗": "_",
})
# Invisible characters that are not format characters (TR31 default-ignorable).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u180b\u180c\u180d\u180e")


def tool_key(name: str) -> str:
    """The canonical form two tool names are compared in: NFKC, then case folding."""
    return name.lower() if name.isascii() else normalize(name).casefold()


def tool_table(names: Iterable[str]) -> dict[str, str]:
    """canonical key -> declared name, the ``declared`` argument of `canonical_tool`."""
    return {tool_key(n): n for n in names}


def skeleton(name: str) -> str:
    """What ``name`` looks like: invisible and combining characters dropped, look-alikes
    mapped to the letter they imitate, case folded.

    >>> skeleton("ѕеnd_mоnеy") == skeleton("send_money")
    True
    """
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(c for c in decomposed
                   if c not in _INVISIBLE and unicodedata.category(c) not in ("Cf", "Mn", "Me"))
    return unicodedata.normalize("NFKC", kept.translate(_CONFUSABLE).casefold()
                                 ).translate(_CONFUSABLE)


def _odd_characters(name: str) -> str:
    odd = [c for c in dict.fromkeys(name) if not c.isascii()]
    shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'UNNAMED')}" for c in odd[:4])
    return f" (it contains {shown})" if shown else ""


def canonical_tool(name: object, declared: Mapping[str, str],
                   ) -> tuple[str | None, str | None]:
    """(declared name, None) when ``name`` is a declared tool by its canonical form; else
    (None, hint), the hint naming the declared tool it imitates, or the closest names.

    ``declared`` maps canonical keys to declared names (`tool_table`).

    >>> table = tool_table(["send_money", "get_balance"])
    >>> canonical_tool("Send_Money", table)
    ('send_money', None)
    >>> print(canonical_tool("send_m\u043eney", table)[1])  # a Cyrillic o
    'send_mоney' only looks like the declared tool 'send_money' (it contains U+043E ...)
    """
    if not isinstance(name, str):
        return None, f"a tool name must be a str, got {type(name).__name__}"
    text = name if type(name) is str else str.__str__(name)
    found = declared.get(text)
    if found is not None:
        return found, None
    try:
        text = _scalar_text(text, "tool")
    except BadValue as exc:
        return None, str(exc)
    found = declared.get(tool_key(text))
    if found is not None:
        return found, None
    look = skeleton(text)
    shapes = {skeleton(real): real for real in declared.values()}
    if look in shapes:
        return None, (f"{text!r} only looks like the declared tool {shapes[look]!r}"
                      f"{_odd_characters(text)}")
    # Near misses are compared by shape too, so a half-disguised name still finds its tool.
    close = difflib.get_close_matches(look, list(shapes), n=3, cutoff=0.75)
    if close:
        return None, ("did you mean " + " or ".join(repr(shapes[c]) for c in close) + "?"
                      + _odd_characters(text))
    return None, None
