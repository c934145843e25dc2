"""The per-session monitor: exactly the state the rules read, updated incrementally.

One accumulator per MONITOR input of the compiled policy (equal terms share one):
windowed count/sum keep a deque of (time, value) and a running total; windowed min/max
keep a monotonic deque; once/historically keep one timestamp; previously and since one
bool; result(t) the latest output. Only executed calls are observed. Reading a value
costs amortised O(1) whatever the session's length: nothing re-scans the history.

Times are integer microseconds since the epoch; a window ``within W`` holds events with
``now - t <= W``. Reading never changes the state (issue 11: no check can evict window
entries for another): expired entries are skipped by a read and dropped only when a call
is committed, at that call's time, which never runs backwards (the guard denies a check
dated before the session's last committed event).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Accumulator", "MonitorState", "Track", "TrackKind", "new_accumulator"]

Matcher = Callable[[str, Mapping[str, object]], bool | None]  # None: undecidable


class TrackKind(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    ONCE = "once"
    HISTORICALLY = "historically"
    PREVIOUSLY = "previously"
    SINCE = "since"
    RESULT = "result"
    VALUES = "values"  # `TOOL.arg`: the distinct values an argument took (language work)


@dataclass(frozen=True, slots=True, kw_only=True)
class Track:
    """How to maintain one monitored term (built once per policy by the guard)."""

    key: str
    kind: TrackKind
    window_us: int | None = None
    match: Matcher | None = None  # the event pattern (SINCE: the held pattern)
    anchor: Matcher | None = None  # SINCE: the anchor pattern
    field: tuple[str, ...] = ()  # aggregates: the argument path summed / compared
    tool: str | None = None  # RESULT: the tool whose output is read; VALUES: whose args


class Accumulator:
    """State of one track; a tagged list keeps it JSON-serialisable and compact."""

    __slots__ = ("s",)

    def __init__(self, state: list[Any]) -> None:
        self.s = state


def new_accumulator(track: Track) -> Accumulator:
    k = track.kind
    if k in (TrackKind.COUNT, TrackKind.SUM):
        # [total, deque of (t, v)] (the deque only with a window)
        return Accumulator([0, deque() if track.window_us is not None else None])
    if k in (TrackKind.MIN, TrackKind.MAX):
        return Accumulator([None, deque() if track.window_us is not None else None])
    if k in (TrackKind.ONCE, TrackKind.HISTORICALLY):
        return Accumulator([None])  # last time matched / last time not matched
    if k in (TrackKind.PREVIOUSLY, TrackKind.SINCE):
        return Accumulator([False])
    if k == TrackKind.VALUES:
        return Accumulator([frozenset()])  # the values; None once past VALUES_CAP
    return Accumulator([None])  # RESULT values live in MonitorState.results


def _path(args: Mapping[str, object], path: tuple[str, ...]) -> object:
    value: object = args
    for part in path:
        value = value[part]  # type: ignore[index]
    return value


class MonitorState:
    """The mutable state of one session (one per session, kept by a `SessionStore`).

    ``poisoned`` records terms whose pattern could not be decided for some event: reading
    one makes the check fail closed (GG409) instead of guessing.
    """

    __slots__ = ("accs", "committed", "events", "last_us", "poisoned", "prov", "results",
                 "seq")

    def __init__(self) -> None:
        self.accs: dict[str, Accumulator] = {}
        self.poisoned: dict[str, str] = {}
        self.results: dict[str, object] = {}
        self.last_us = 0
        self.events = 0
        # every committed call id -> "tool:fingerprint": commit is idempotent by call id,
        # and a result is attributed to its call's tool
        self.committed: dict[str, str] = {}
        self.seq = 0  # events folded in so far: the state's version, never decreasing
        # provenance: token -> [untrusted tools, all tools]; user tokens -> True
        self.prov: dict[str, Any] = {"u": {}, "s": {}, "user": {}}

    # ------------------------------------------------------------------ reading

    def read(self, track: Track, now_us: int) -> tuple[object, bool]:
        """(value, defined) of a track as of ``now_us``; changes nothing."""
        now = max(now_us, self.last_us)
        acc = self.accs.get(track.key)
        s = acc.s if acc is not None else new_accumulator(track).s
        k = track.kind
        w = track.window_us
        if k in (TrackKind.COUNT, TrackKind.SUM):
            q = s[1]
            total = s[0]
            if q:
                floor = now - w  # type: ignore[operator]
                for t, v in q:  # entries expired since the last commit: skipped, kept
                    if t >= floor:
                        break
                    total -= v
            return total, True
        if k in (TrackKind.MIN, TrackKind.MAX):
            q = s[1]
            if q is None:
                return s[0], s[0] is not None
            floor = now - w  # type: ignore[operator]
            for t, v in q:  # a monotonic deque: the first live entry is the extreme
                if t >= floor:
                    return v, True
            return None, False
        if k == TrackKind.ONCE:
            t = s[0]
            return t is not None and (w is None or now - t <= w), True
        if k == TrackKind.HISTORICALLY:
            t = s[0]
            return t is None or (w is not None and now - t > w), True
        if k in (TrackKind.PREVIOUSLY, TrackKind.SINCE):
            return s[0], True
        if k == TrackKind.VALUES:  # undefined (fail closed) once it overflowed
            return (frozenset(), False) if s[0] is None else (s[0], True)
        value = self.results.get(track.tool or "", _MISSING)
        return (None, False) if value is _MISSING else (value, True)

    def _acc(self, track: Track) -> Accumulator:
        acc = self.accs.get(track.key)
        if acc is None:
            acc = self.accs[track.key] = new_accumulator(track)
        return acc

    # ------------------------------------------------------------------ updating

    def observe(self, tracks: tuple[Track, ...], tool: str, args: Mapping[str, object],
                t_us: int, *, describe: str) -> None:
        """Fold one executed call into every track."""
        t = max(t_us, self.last_us)
        self.last_us = t
        self.events += 1
        for track in tracks:
            if track.kind == TrackKind.RESULT:
                continue
            try:
                self._observe(track, tool, args, t)
            except _Undecided:
                self.poisoned[track.key] = describe
            self._evict(track, t)

    def _evict(self, track: Track, t: int) -> None:
        """Drop window entries that no read at ``t`` or later can see."""
        if track.window_us is None:
            return
        acc = self.accs.get(track.key)
        if acc is None:
            return
        s = acc.s
        q = s[1] if track.kind in _WINDOWED else None
        if not q:
            return
        floor = t - track.window_us
        summed = track.kind in (TrackKind.COUNT, TrackKind.SUM)
        while q and q[0][0] < floor:
            _, v = q.popleft()
            if summed:
                s[0] -= v

    def _observe(self, track: Track, tool: str, args: Mapping[str, object], t: int) -> None:
        k = track.kind
        s = self._acc(track).s
        if k == TrackKind.VALUES:
            _add_value(s, track, tool, args)
            return
        if k == TrackKind.SINCE:
            anchor = _decided(track.anchor, tool, args)
            s[0] = anchor or (s[0] and _decided(track.match, tool, args))
            return
        matched = _decided(track.match, tool, args)
        if k == TrackKind.PREVIOUSLY:
            s[0] = matched
        elif k == TrackKind.HISTORICALLY:
            if not matched:
                s[0] = t
        elif k == TrackKind.ONCE:
            if matched:
                s[0] = t
        elif not matched:
            return
        elif k == TrackKind.COUNT:
            s[0] += 1
            if s[1] is not None:
                s[1].append((t, 1))
        elif k == TrackKind.SUM:
            v = _path(args, track.field)
            s[0] += v
            if s[1] is not None:
                s[1].append((t, v))
        else:
            v = _path(args, track.field)
            q = s[1]
            better = (lambda a, b: a <= b) if k == TrackKind.MIN else (lambda a, b: a >= b)
            if q is None:
                if s[0] is None or better(v, s[0]):
                    s[0] = v
            else:
                while q and better(v, q[-1][1]):
                    q.pop()  # an older, worse value can never be the extreme again
                q.append((t, v))

    def record_result(self, tool: str, value: object) -> None:
        self.results[tool] = value

    # ------------------------------------------------------------------ provenance

    def label_output(self, tool: str, leaves: list[tuple[str, bool]]) -> None:
        """Remember the tokens of an output; ``bool`` says whether the leaf is untrusted."""
        untrusted, sources = self.prov["u"], self.prov["s"]
        for token, bad in leaves:
            if bad:
                tools = untrusted.setdefault(token, [])
                if tool not in tools:
                    tools.append(tool)
            tools = sources.setdefault(token, [])
            if tool not in tools:
                tools.append(tool)

    def label_user(self, tokens: list[str]) -> None:
        user = self.prov["user"]
        for token in tokens:
            user[token] = True

    def tainted(self, token: str) -> bool:
        return token in self.prov["u"]

    def from_user(self, token: str) -> bool:
        return token in self.prov["user"]

    def sources(self, token: str) -> list[str]:
        return list(self.prov["s"].get(token, ()))


class _Undecided(Exception):
    pass


def _decided(match: Matcher | None, tool: str, args: Mapping[str, object]) -> bool:
    if match is None:
        return True
    got = match(tool, args)
    if got is None:
        raise _Undecided
    return got


# `TOOL.arg` keeps at most this many distinct values per session and term, so a session
# of any length holds bounded memory; past it the term is undefined, and a clause that
# reads it is false (a rule requiring membership then denies: fail closed).
VALUES_CAP = 1024


def _add_value(s: list[Any], track: Track, tool: str, args: Mapping[str, object]) -> None:
    if tool != track.tool or s[0] is None or track.field[0] not in args:
        return  # another tool, already overflowed, or an absent optional argument
    v = args[track.field[0]]
    if v in s[0]:
        return
    s[0] = None if len(s[0]) >= VALUES_CAP else s[0] | {v}


_WINDOWED = (TrackKind.COUNT, TrackKind.SUM, TrackKind.MIN, TrackKind.MAX)
_MISSING = object()
