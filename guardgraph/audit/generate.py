"""Owns the seeded generator of realistic audit sessions (tests, benchmarks, README).

A generated log looks like what the orchestrator writes for a banking/support domain: tasks
routed to specialists, tool calls checked by the guard, prompt-injected payees read from an
untrusted file, over-budget transfers repaired or denied, new payees escalated to a human who
answers after a realistic delay, agents calling tools they may not use, and the odd tool
error. Every event carries proper provenance (a tool result derives from its call, a verdict
from its proposal, a payment from the result whose value it used) and an idempotency key,
and its record id is chosen here (``Event.id``) so that links exist before the append.

>>> events = list(generate_sessions(2, seed=7))
>>> events[0].kind.value, events[1].kind.value
('spec_loaded', 'task_received')
>>> events == list(generate_sessions(2, seed=7))
True
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from guardgraph.audit._scenarios import SCENARIOS, SessionWriter, SpecInForce
from guardgraph.audit._timestamps import format_rfc3339
from guardgraph.audit.events import AuditRecord, Event, EventKind, SpecChanged, SpecLoaded

__all__ = ["DEFAULT_START", "generate_sessions", "write_events"]

DEFAULT_START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def generate_sessions(
    n_sessions: int,
    *,
    seed: int,
    start: datetime = DEFAULT_START,
    mean_gap_s: float = 120.0,
    attack_rate: float = 0.2,
    spec_change_every: int = 0,
    session_prefix: str | None = None,
) -> Iterator[Event]:
    """Yield the events of ``n_sessions`` seeded sessions, in append order.

    ``mean_gap_s`` is the mean idle time between sessions (exponential); ``attack_rate`` the
    share of sessions that carry an attack (injected payee, over-budget or out-of-role call);
    ``spec_change_every`` > 0 bumps the spec version every that many sessions (a
    ``spec_changed`` record), so a report shows more than one version in force. The same
    arguments always give the same events, ids included.
    """
    if n_sessions < 0:
        raise ValueError(f"expected n_sessions >= 0, got {n_sessions}")
    if not 0.0 <= attack_rate <= 1.0:
        raise ValueError(f"expected 0 <= attack_rate <= 1, got {attack_rate}")
    if mean_gap_s <= 0:
        raise ValueError(f"expected mean_gap_s > 0, got {mean_gap_s}")
    if start.tzinfo is None:
        raise ValueError("expected an aware start datetime (with a time zone)")
    rng = random.Random(seed)
    prefix = f"s{seed}-" if session_prefix is None else session_prefix
    spec = SpecInForce.initial(rng)
    now = start
    yield _spec_event(EventKind.SPEC_LOADED, spec, now, rng, f"{prefix}spec-{spec.version}")
    attacks = [s for s in SCENARIOS if s.attack]
    benign = [s for s in SCENARIOS if not s.attack]
    for index in range(n_sessions):
        if spec_change_every and index and index % spec_change_every == 0:
            spec = spec.bumped(rng)
            now += timedelta(seconds=rng.uniform(1.0, 30.0))
            key = f"{prefix}spec-{spec.version}"
            yield _spec_event(EventKind.SPEC_CHANGED, spec, now, rng, key)
        now += timedelta(seconds=rng.expovariate(1.0 / mean_gap_s))
        pool = attacks if rng.random() < attack_rate else benign
        scenario = rng.choices(pool, weights=[s.weight for s in pool])[0]
        writer = SessionWriter(
            session=f"{prefix}{index:06d}", rng=rng, now=now, spec=spec
        )
        scenario.play(writer)
        yield from writer.events
        now = writer.now


def _spec_event(
    kind: EventKind, spec: SpecInForce, when: datetime, rng: random.Random, key: str
) -> Event:
    payload: SpecLoaded | SpecChanged
    if kind is EventKind.SPEC_LOADED:
        payload = SpecLoaded(spec=spec.name, version=spec.version, hash=spec.hash,
                             rules=spec.rules)
    else:
        payload = SpecChanged(spec=spec.name, version=spec.version, hash=spec.hash,
                              rules=spec.rules, previous_version=spec.version - 1)
    return Event.of(
        payload, session="system", actor="system:deployer",
        spec=(spec.name, spec.version, spec.hash), event_id=key, at=format_rfc3339(when),
        record_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    )


class _Store(Protocol):
    def append(self, events: Sequence[Event]) -> list[AuditRecord]: ...


class _Log(Protocol):
    def record_many(self, events: Sequence[Event]) -> list[AuditRecord]: ...


def write_events(target: _Store | _Log, events: Iterable[Event], *, batch: int = 2000) -> int:
    """Append ``events`` to an ``AuditLog`` (``record_many``: sinks and signing included) or
    straight to a store (``append``), in batches; returns how many records came back.

    Each batch is one atomic append, so a large generated log loads at the store's batch
    speed; ids and provenance come with the events, so batching changes nothing in them.
    """
    if batch < 1:
        raise ValueError(f"expected batch >= 1, got {batch}")
    write = target.record_many if hasattr(target, "record_many") else target.append
    written = 0
    for chunk in _chunks(events, batch):
        written += len(write(chunk))
    return written


def _chunks(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    it = iter(events)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
