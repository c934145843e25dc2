"""Hypothesis: the hand-written record encoder on the append path is byte-equal to the
generic canonical JSON every verifier recomputes, for any event."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from guardgraph.audit import Event, EventKind
from guardgraph.audit._canonical import record_body, record_hash
from guardgraph.audit._chain import seal
from guardgraph.audit.events import (
    ActionProposed,
    ErrorOccurred,
    TaskReceived,
    ToolResult,
    VerdictReached,
)

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**18, 10**18)
    | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(text, json_values, max_size=5)
payloads = st.one_of(
    st.builds(ToolResult, call_id=text, tool=text, output=json_values, trusted=st.booleans()),
    st.builds(ActionProposed, tool=text, call_id=text, agent=text, args=objects),
    st.builds(TaskReceived, task=text, labels=st.lists(text, max_size=3).map(tuple)),
    st.builds(VerdictReached, tool=text, call_id=text, message=text,
              repair=st.none() | objects),
    st.builds(ErrorOccurred, message=text, error_type=text),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    payload = draw(payloads)
    verdict = None
    if isinstance(payload, VerdictReached):
        verdict = (draw(st.sampled_from(["allow", "deny", "escalate", "repair"])),
                   tuple(draw(st.lists(text, max_size=3))))
    spec = draw(st.none() | st.tuples(text, st.integers(0, 10**6), text))
    return Event.of(
        payload, session=draw(text), actor=draw(text), spec=spec, verdict=verdict,
        provenance=draw(st.lists(text, max_size=3)), trace_id=draw(st.none() | text),
        span_id=draw(st.none() | text), event_id=draw(st.none() | text),
        at=draw(st.none() | text), record_id=draw(st.none() | text.filter(bool)),
    )


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=4))
def test_the_append_encoder_is_canonical_json(batch: list[Event]) -> None:
    sealed = seal(batch, size=0, prev_hash="0" * 64, frontier=[],
                  clock=lambda: "2026-05-01T10:00:00.000000Z", new_id=lambda: "generated")
    for rec, row in zip(sealed.records, sealed.rows, strict=True):
        assert row.body == record_body(rec)
        assert rec.hash == record_hash(rec) == hashlib.sha256(row.body).hexdigest()


def test_nested_values_outside_the_payload_are_refused() -> None:
    import pytest

    def sealed(**kw: object) -> None:
        base: dict[str, object] = {"kind": EventKind.ERROR, "session": "s", "actor": "a",
                                   "payload": {"message": "m", "error_type": "E"}}
        base.update(kw)
        seal([Event(**base)], size=0, prev_hash="0" * 64, frontier=[],  # type: ignore[arg-type]
             clock=lambda: "t", new_id=lambda: "i")

    with pytest.raises(ValueError, match="session: expected str"):
        sealed(session={"prev_hash": "x"})
    with pytest.raises(ValueError, match="provenance: expected a tuple of str"):
        sealed(provenance=({"a": 1},))
    with pytest.raises(ValueError, match="rule_ids: expected a tuple of str"):
        sealed(rule_ids=(1,))
