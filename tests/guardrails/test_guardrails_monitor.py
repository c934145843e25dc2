"""The monitor: windows, past-time operators, since, incremental state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guardgraph.guardrails import Action, Decision, Guard, Session
from guardgraph.guardrails._monitor import MonitorState, Track, TrackKind

T0 = datetime(2026, 5, 1, tzinfo=UTC)

SPEC = """
spec m version 1
tool pay(amount: int)
tool login(method: str)
tool push()
tool test()
tool probe()
rule hourly_count:
  on pay
  require count(pay within 1h) < 3
rule big_ones:
  on pay
  require amount <= 100 or count(pay where amount > 100 within 24h) < 2
rule max_in_window:
  on pay
  require amount <= 2 * max(pay.amount within 10m) or count(pay within 10m) == 0
rule recent_login:
  on pay
  require once(login where method == "otp" within 30m)
rule tested_since_push:
  on push
  require since(not push, test)
rule nothing_but_logins_before:
  on probe
  require historically(login)
rule right_after_login:
  on test
  require previously(login)
"""


def g() -> Guard:
    return Guard.from_text(SPEC)


def at(minutes: float) -> Session:
    return Session(id="s", now=T0 + timedelta(minutes=minutes))


def act(tool: str, **args: object) -> Action:
    return Action(tool=tool, args=args)  # the guard gives each call its own id


def test_count_window_slides() -> None:
    guard = g()
    guard.check_and_commit(act("login", method="otp"), at(0))
    for m in (1, 2, 3):
        guard.check_and_commit(act("login", method="otp"), at(m))
        assert guard.check_and_commit(act("pay", amount=1), at(m)).allowed
    assert guard.evaluate(act("pay", amount=1), at(4)).rules == ("hourly_count",)
    guard.check_and_commit(act("login", method="otp"), at(61.5))
    # the first pay (minute 1) left the hour window at minute 61
    assert guard.evaluate(act("pay", amount=1), at(61.5)).allowed


def test_filtered_count_and_windowed_max() -> None:
    guard = g()
    guard.check_and_commit(act("login", method="otp"), at(0))
    assert guard.check_and_commit(act("pay", amount=150), at(0)).allowed
    v = guard.evaluate(act("pay", amount=301), at(1))
    assert v.rules == ("max_in_window",)  # 301 > 2 * 150
    assert guard.check_and_commit(act("pay", amount=300), at(1)).allowed
    assert guard.evaluate(act("pay", amount=120), at(2)).rules == ("big_ones",)
    assert guard.evaluate(act("pay", amount=50), at(2)).allowed


def test_once_within_window_expires() -> None:
    guard = g()
    guard.check_and_commit(act("login", method="password"), at(0))
    assert guard.evaluate(act("pay", amount=1), at(0)).rules == ("recent_login",)
    guard.check_and_commit(act("login", method="otp"), at(1))
    assert guard.evaluate(act("pay", amount=1), at(31)).allowed
    assert guard.evaluate(act("pay", amount=1), at(31.1)).rules == ("recent_login",)


def test_since_and_previously_and_historically() -> None:
    guard = g()
    assert guard.evaluate(act("push"), at(0)).decision is Decision.DENY  # no test yet
    assert guard.evaluate(act("test"), at(0)).rules == ("right_after_login",)
    assert guard.evaluate(act("probe"), at(0)).allowed  # historically: true when empty
    guard.check_and_commit(act("login", method="otp"), at(0))
    assert guard.evaluate(act("probe"), at(0)).allowed
    assert guard.check_and_commit(act("test"), at(1)).allowed  # right after a login
    assert guard.evaluate(act("probe"), at(1)).rules == ("nothing_but_logins_before",)
    assert guard.check_and_commit(act("push"), at(2)).allowed
    assert guard.evaluate(act("push"), at(3)).rules == ("tested_since_push",)
    assert guard.evaluate(act("test"), at(3)).rules == ("right_after_login",)


def test_monitor_state_is_constant_per_term_with_unwindowed_terms() -> None:
    state = MonitorState()
    track = Track(key="mon:sum", kind=TrackKind.SUM, match=lambda t, a: True, field=("x",))
    for i in range(10_000):
        state.observe((track,), "t", {"x": i}, i, describe="c")
    assert state.read(track, 10_000) == (sum(range(10_000)), True)
    assert state.accs["mon:sum"].s[1] is None  # no history kept without a window


def test_windowed_min_keeps_a_monotonic_deque() -> None:
    state = MonitorState()
    track = Track(key="mon:min", kind=TrackKind.MIN, window_us=10, match=lambda t, a: True,
                  field=("x",))
    for t, x in enumerate([5, 3, 4, 1, 2, 9]):
        state.observe((track,), "t", {"x": x}, t, describe="c")
    assert state.read(track, 5) == (1, True)
    assert len(state.accs["mon:min"].s[1]) == 3  # 1, 2, 9: others can never be the min
    assert state.read(track, 14) == (2, True)  # 1 (t=3) left the window
    assert state.read(track, 100) == (None, False)


def test_clock_never_runs_backwards() -> None:
    state = MonitorState()
    track = Track(key="mon:count", kind=TrackKind.COUNT, window_us=10,
                  match=lambda t, a: True)
    state.observe((track,), "t", {}, 100, describe="c")
    assert state.read(track, 50) == (1, True)  # a stale clock reads as of the event


def test_undecidable_pattern_poisons_the_term() -> None:
    state = MonitorState()
    track = Track(key="mon:count", kind=TrackKind.COUNT, match=lambda t, a: None)
    state.observe((track,), "t", {}, 1, describe="c7")
    assert state.poisoned == {"mon:count": "c7"}
