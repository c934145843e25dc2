"""Hypothesis: the hand-written record encoder on the append path is byte-equal to the
generic canonical JSON every verifier recomputes, for any event."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from guardgraph.audit import Event, EventKind
from guardgraph.audit._canonical import record_body, record_hash
from guardgraph.audit._chain import seal

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**18, 10**18)
    | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
events = st.builds(
    Event,
    kind=st.sampled_from(list(EventKind)),
    session=text,
    actor=text,
    payload=st.dictionaries(text, json_values, max_size=5),
    provenance=st.lists(text, max_size=3).map(tuple),
    spec_name=st.none() | text,
    spec_version=st.none() | st.integers(0, 10**6),
    spec_hash=st.none() | text,
    decision=st.none() | st.sampled_from(["allow", "deny", "escalate", "repair"]),
    rule_ids=st.lists(text, max_size=3).map(tuple),
    trace_id=st.none() | text,
    span_id=st.none() | text,
    idempotency_key=st.none() | text,
    timestamp=st.none() | text,
    id=st.none() | text.filter(bool),
)


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(events, min_size=1, max_size=4))
def test_the_append_encoder_is_canonical_json(batch: list[Event]) -> None:
    sealed = seal(batch, size=0, prev_hash="0" * 64, frontier=[],
                  clock=lambda: "2026-05-01T10:00:00.000000Z", new_id=lambda: "generated")
    for rec, row in zip(sealed.records, sealed.rows, strict=True):
        assert row.body == record_body(rec)
        assert rec.hash == record_hash(rec) == hashlib.sha256(row.body).hexdigest()


def test_nested_values_outside_the_payload_are_refused() -> None:
    import pytest

    def sealed(**kw: object) -> None:
        base: dict[str, object] = {"kind": EventKind.ERROR, "session": "s", "actor": "a"}
        base.update(kw)
        seal([Event(**base)], size=0, prev_hash="0" * 64, frontier=[],  # type: ignore[arg-type]
             clock=lambda: "t", new_id=lambda: "i")

    with pytest.raises(ValueError, match="must be scalars"):
        sealed(session={"prev_hash": "x"})
    with pytest.raises(ValueError, match="provenance must hold strings"):
        sealed(provenance=({"a": 1},))
    with pytest.raises(ValueError, match="rule_ids must hold strings"):
        sealed(rule_ids=(1,))
