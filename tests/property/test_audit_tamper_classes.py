"""Hypothesis: every class of tampering with a stored log is detected by a reviewer who pins
the log's key and keeps a checkpoint (issue #11, "no silent rewrite"), and retries never
duplicate a record ("no duplicate on retry").

Classes: edit a record (keeping or refreshing its hash), delete one, insert a copy, swap
two, rewrite and re-chain a whole tail with fresh Merkle nodes, truncate the tail, remove
checkpoints (some or all), and re-sign a rewritten log with another key. The attacker owns
the store (here the in-memory store's rows); the reviewer owns only the public key and
one checkpoint.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.audit import AuditLog, AuditVerificationError, Signer, open_store, verify_log
from guardgraph.audit._memory import MemoryStore
from guardgraph.audit.events import Event, ToolResult
from guardgraph.errors import AuditStoreError

SIGNER = Signer.generate("example.org/tamper")
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _log(n: int, every: int) -> tuple[MemoryStore, Any]:
    store = open_store("memory:")
    assert isinstance(store, MemoryStore)
    log = AuditLog(store, signer=SIGNER, checkpoint_every=every)
    log.record_many([Event.of(ToolResult(call_id=f"c{i}", output=i), session=f"s{i % 3}",
                              actor="a", event_id=f"e{i}") for i in range(n)])
    witness = log.checkpoint()  # the reviewer keeps this one
    return store, witness


def _reviewer_accepts(store: MemoryStore, witness: Any) -> bool:
    try:
        verify_log(store, public_keys=[SIGNER.verifier], trusted_checkpoints=[witness])
    except AuditVerificationError:
        return False
    return True


def _rechain(store: MemoryStore, start: int, *, signer: Signer | None = None) -> None:
    """Rewrite every record from ``start`` with another output, re-chain them and rebuild
    the Merkle nodes, as a thorough attacker holding the database would."""
    rows = store._raw_rows()
    old = list(store.iter_records())
    del rows[start:]
    del store._records[start:]
    nodes = store._raw_nodes()
    for key in [k for k in nodes if (k[1] + 1) << k[0] > start]:
        del nodes[key]
    for rid in [r.id for r in old[start:]]:
        store._by_id.pop(rid, None)
    for r in old[start:]:
        if r.idempotency_key is not None:
            store._by_key.pop(r.idempotency_key, None)
    events = [Event(kind=r.kind, session=r.session, actor=r.actor, id=r.id,
                    timestamp=r.timestamp, payload={**r.payload, "output": -1},
                    idempotency_key=r.idempotency_key) for r in old[start:]]
    store.append(events)
    if signer is not None:
        store._checkpoints.clear()
        AuditLog(store, signer=signer).checkpoint()


@st.composite
def tampering(draw: st.DrawFn) -> tuple[int, int, str, int, int]:
    n = draw(st.integers(min_value=2, max_value=30))
    every = draw(st.sampled_from([0, 1, 4, 7]))
    kind = draw(st.sampled_from(["edit", "edit-rehash", "delete", "insert", "swap",
                                 "rechain", "truncate", "drop-checkpoints",
                                 "drop-all-checkpoints", "resign"]))
    i = draw(st.integers(min_value=0, max_value=n - 1))
    j = draw(st.integers(min_value=0, max_value=n - 1).filter(lambda x: x != i))
    return n, every, kind, i, j


@SETTINGS
@given(case=tampering(), byte=st.integers(min_value=0, max_value=10**6))
def test_every_tampering_class_is_detected(case: tuple[int, int, str, int, int],
                                           byte: int) -> None:
    n, every, kind, i, j = case
    store, witness = _log(n, every)
    assert _reviewer_accepts(store, witness)
    rows = store._raw_rows()
    if kind in ("edit", "edit-rehash"):
        body = bytearray(rows[i].body)
        pos = byte % len(body)
        body[pos] = (body[pos] + 1) % 256 or 1
        h = hashlib.sha256(bytes(body)).hexdigest() if kind == "edit-rehash" else rows[i].hash
        rows[i] = rows[i]._replace(body=bytes(body), hash=h)
    elif kind == "delete":
        del rows[i]
    elif kind == "insert":
        rows.insert(i, rows[j])
    elif kind == "swap":
        rows[i], rows[j] = rows[j], rows[i]
    elif kind == "rechain":
        _rechain(store, i)
    elif kind == "resign":
        _rechain(store, i, signer=Signer.generate("example.org/tamper"))
    elif kind == "truncate":
        del rows[i:]
        store._checkpoints.clear()
    elif kind == "drop-checkpoints":
        for size in [s for s in store._checkpoints if s >= witness.size or s % 2]:
            del store._checkpoints[size]
    else:
        store._checkpoints.clear()
    assert not _reviewer_accepts(store, witness), kind


@SETTINGS
@given(n=st.integers(min_value=1, max_value=20))
def test_with_all_checkpoints_and_no_witness_gone_a_pinned_key_still_refuses(n: int) -> None:
    store, _ = _log(n, 0)
    store._checkpoints.clear()
    with pytest.raises(AuditVerificationError, match="signed by nobody"):
        verify_log(store, public_keys=[SIGNER.verifier])


class _Flaky:
    """A store that fails before or after committing, as the script says."""

    def __init__(self, inner: MemoryStore, script: list[str]) -> None:
        self.inner = inner
        self.script = script

    def append(self, events: Any) -> Any:
        step = self.script.pop(0) if self.script else "ok"
        if step == "before":
            raise AuditStoreError("refused before the commit")
        records = self.inner.append(events)
        if step == "after":
            raise AuditStoreError("reply lost after the commit")
        return records

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@SETTINGS
@given(
    calls=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=25),
    script=st.lists(st.sampled_from(["ok", "before", "after"]), max_size=40),
)
def test_retrying_until_it_succeeds_writes_each_event_exactly_once(
    calls: list[int], script: list[str]
) -> None:
    inner = open_store("memory:")
    assert isinstance(inner, MemoryStore)
    log = AuditLog(_Flaky(inner, list(script)))  # type: ignore[arg-type]
    for call in calls:
        payload = ToolResult(call_id=f"c{call}", output=call)
        for _ in range(50):
            try:
                rec = log.record(payload, session="s", actor="a", event_id=f"s/c{call}")
                break
            except AuditStoreError:
                continue
        assert rec.payload["output"] == call
    keys = [r.idempotency_key for r in inner.iter_records()]
    assert sorted(keys) == sorted({f"s/c{c}" for c in calls})  # no duplicate, none lost
    assert verify_log(inner).records == len(set(calls))
