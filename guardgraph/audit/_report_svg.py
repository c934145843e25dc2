"""Owns the report's charts: small, dependency-free inline SVG built from plain numbers.

The charts must render with no network and no script, so they are static SVG with a
``<title>`` per mark (the browser shows it as a tooltip) and a text legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["DECISION_COLOURS", "PALETTE", "hbars", "lines", "stacked_columns"]

DECISION_COLOURS = {"allow": "#4e9a6f", "deny": "#c8413b", "escalate": "#e0a526",
                    "repair": "#3f78b5"}
PALETTE = ("#c8413b", "#3f78b5", "#e0a526", "#4e9a6f", "#8a5fb5", "#d17b34", "#3aa3a3",
           "#7d7d7d", "#b5487d", "#6b8e23")

_W, _H = 860, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 48


def _nice_max(value: int) -> int:
    """The axis top: 4 x (1, 2, 3 or 5) x a power of ten, so that the four grid steps are
    whole counts that read cleanly.

    >>> [_nice_max(v) for v in (0, 3, 5, 13, 59, 101)]
    [4, 4, 8, 20, 80, 120]
    """
    magnitude = 1
    while True:
        for step in (1, 2, 3, 5):
            if 4 * step * magnitude >= value:
                return 4 * step * magnitude
        magnitude *= 10


def _frame(testid: str, label: str, body: list[str], *, height: int = _H) -> str:
    return (
        f'<svg class="chart" data-testid="{escape(testid)}" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {_W} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _axes(top: int, labels: Sequence[str], height: int) -> list[str]:
    plot_h = height - _TOP - _BOTTOM
    out = []
    for i in range(5):
        value = top * i // 4
        y = height - _BOTTOM - plot_h * i / 4
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'class="grid"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="tick" '
                   f'text-anchor="end">{value}</text>')
    n = max(len(labels), 1)
    every = max(1, n // 8)  # at most ~8 date labels fit under the axis
    slot = (_W - _LEFT - _RIGHT) / n
    for i, text in enumerate(labels):
        if i % every == 0:
            x = _LEFT + slot * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{height - _BOTTOM + 16}" class="tick" '
                       f'text-anchor="middle">{escape(text)}</text>')
    return out


def stacked_columns(
    testid: str,
    label: str,
    columns: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
) -> str:
    """Columns over time, one stacked segment per ``(name, colour, counts)`` series."""
    totals = [sum(s[2][i] for s in series) for i in range(len(columns))]
    top = _nice_max(max(totals, default=0))
    plot_h = _H - _TOP - _BOTTOM
    slot = (_W - _LEFT - _RIGHT) / max(len(columns), 1)
    body = _axes(top, columns, _H)
    for i, column in enumerate(columns):
        base = float(_H - _BOTTOM)
        for name, colour, counts in series:
            n = counts[i]
            if n <= 0:
                continue
            h = plot_h * n / top
            base -= h
            body.append(
                f'<rect x="{_LEFT + slot * i + slot * 0.12:.1f}" y="{base:.1f}" '
                f'width="{slot * 0.76:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(column)}: {n} {escape(name)}</title></rect>"
            )
    return _frame(testid, label, body)


def lines(
    testid: str, label: str, columns: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> str:
    """One polyline per named series over the same columns, coloured from ``PALETTE``."""
    top = _nice_max(max((max(c, default=0) for _, c in series), default=0))
    plot_h = _H - _TOP - _BOTTOM
    slot = (_W - _LEFT - _RIGHT) / max(len(columns), 1)
    body = _axes(top, columns, _H)
    for k, (name, counts) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(
            f"{_LEFT + slot * (i + 0.5):.1f},{_H - _BOTTOM - plot_h * n / top:.1f}"
            for i, n in enumerate(counts)
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"><title>{escape(name)}: {sum(counts)}</title></polyline>')
    return _frame(testid, label, body)


def hbars(
    testid: str,
    label: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, str, int]]]],
) -> str:
    """Horizontal stacked bars, one row per ``(name, [(segment, colour, count), ...])``."""
    row_h, gap, name_w = 22, 6, 210
    height = _TOP + len(rows) * (row_h + gap) + 8
    top = _nice_max(max((sum(s[2] for s in segs) for _, segs in rows), default=0))
    width = _W - name_w - _RIGHT - 48
    body: list[str] = []
    for i, (name, segments) in enumerate(rows):
        y = _TOP + i * (row_h + gap)
        body.append(f'<text x="{name_w - 8}" y="{y + row_h * 0.7:.1f}" class="name" '
                    f'text-anchor="end">{escape(name)}</text>')
        x = float(name_w)
        for segment, colour, n in segments:
            if n <= 0:
                continue
            w = width * n / top
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" '
                        f'fill="{colour}"><title>{escape(name)}: {n} {escape(segment)}'
                        "</title></rect>")
            x += w
        total = sum(s[2] for s in segments)
        body.append(f'<text x="{x + 6:.1f}" y="{y + row_h * 0.7:.1f}" class="tick">'
                    f"{total}</text>")
    return _frame(testid, label, body, height=max(height, 40))
