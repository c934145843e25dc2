"""Narrowing a declaration's span to one word of it, for carets under the right token.

The AST gives rules and declarations one span for the whole item; rule targets, repair
names and untrusted fields are plain strings without spans. With the source text at hand
the checker can still point at the exact word (`on send_mony` → the caret under
``send_mony``). Without it, it falls back to the item's first line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from guardgraph.specs import ast

__all__ = ["Locator"]


class Locator:
    """Finds words inside spans of the loaded files."""

    def __init__(self, sources: Mapping[str, str] | None) -> None:
        self._lines: dict[str, list[str]] = {
            path: text.split("\n") for path, text in (sources or {}).items()
        }

    def word(
        self, span: ast.Span | None, word: str, *, after: str | None = None, nth: int = 0
    ) -> ast.Span | None:
        """The span of the ``nth`` whole-word ``word`` in ``span`` (after keyword ``after``
        if given), or the first line of ``span`` when the text is not available."""
        if span is None:
            return None
        lines = self._lines.get(span.file)
        if lines is not None:
            found = self._search(lines, span, word, after, nth)
            if found is not None:
                return found
        return self.head(span)

    def head(self, span: ast.Span | None, *, length: int | None = None) -> ast.Span | None:
        """The start of ``span`` on its first line (``length`` characters, or to the end
        of the span's first line)."""
        if span is None:
            return None
        end = span.end_column if span.end_line == span.line else span.column + (length or 1)
        if length is not None:
            end = span.column + length
        return ast.Span(
            file=span.file, line=span.line, column=span.column, end_line=span.line, end_column=end
        )

    def _search(
        self, lines: list[str], span: ast.Span, word: str, after: str | None, nth: int
    ) -> ast.Span | None:
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])")
        keyword = re.compile(rf"(?<![A-Za-z0-9_]){after}(?![A-Za-z0-9_])") if after else None
        seen_keyword = keyword is None
        count = 0
        last = min(span.end_line, len(lines))
        for number in range(span.line, last + 1):
            text = lines[number - 1]
            start = span.column - 1 if number == span.line else 0
            stop = span.end_column - 1 if number == span.end_line else len(text)
            # A comment is not part of the item: `# send_money` must not catch the caret.
            comment = text.find("#", start)
            if comment >= 0:
                stop = min(stop, comment)
            pos = start
            if not seen_keyword and keyword is not None:
                k = keyword.search(text, start, stop)
                if k is None:
                    continue
                seen_keyword, pos = True, k.end()
            for m in pattern.finditer(text, pos, stop):
                if count == nth:
                    return ast.Span(
                        file=span.file,
                        line=number,
                        column=m.start() + 1,
                        end_line=number,
                        end_column=m.end() + 1,
                    )
                count += 1
        return None
