"""Hypothesis: over random logs, every honest proof verifies and every corruption of a
proof (bit flips, wrong index or size, parts removed, inserted or appended) is rejected;
every single-record mutation of a stored log is caught by verification."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardgraph.audit import (
    AuditLog,
    AuditVerificationError,
    ConsistencyProof,
    Event,
    EventKind,
    InclusionProof,
    Signer,
    open_store,
    proof_from_json,
    verify_consistency_proof,
    verify_inclusion_proof,
    verify_log,
)
from guardgraph.audit._canonical import canonical_json

SIGNER = Signer.generate("example.org/prop")
KEYS = [SIGNER.verifier]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _log(n: int) -> AuditLog:
    log = AuditLog(open_store("memory:"), signer=SIGNER, checkpoint_every=0,
                   id_factory=iter(f"r{i}" for i in range(10**6)).__next__,
                   clock=lambda: "2026-05-01T10:00:00.000000Z")
    log.record_many([Event(kind=EventKind.TOOL_RESULT, session=f"s{i % 3}", actor="a",
                           payload={"call_id": f"c{i}", "output": i}) for i in range(n)])
    log.checkpoint()
    return log


def _flip(b: bytes, bit: int) -> bytes:
    bit %= len(b) * 8
    out = bytearray(b)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _rejected(check, proof) -> None:
    with pytest.raises(AuditVerificationError):
        check(proof, verifiers=KEYS)


@st.composite
def log_and_index(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    return n, draw(st.integers(min_value=0, max_value=n - 1))


MUTATIONS = st.sampled_from(["flip", "drop", "insert", "append", "index", "size", "swap"])


@SETTINGS
@given(case=log_and_index(), how=MUTATIONS, where=st.integers(0, 10**6),
       extra=st.binary(min_size=32, max_size=32))
def test_every_corruption_of_an_inclusion_proof_is_rejected(case, how, where, extra) -> None:
    n, index = case
    log = _log(n)
    proof = log.prove_inclusion(str(index))
    verify_inclusion_proof(proof, verifiers=KEYS)
    # the JSON round trip is lossless
    verify_inclusion_proof(proof_from_json(proof.to_json()), verifiers=KEYS)
    path = list(proof.path)
    if how == "flip" and path:
        i = where % len(path)
        path[i] = _flip(path[i], where)
    elif how == "drop" and path:
        del path[where % len(path)]
    elif how == "insert":
        path.insert(where % (len(path) + 1), extra)
    elif how == "append":
        path.append(extra)
    elif how == "swap" and len(path) >= 2 and path[0] != path[1]:
        path[0], path[1] = path[1], path[0]
    elif how in ("index", "size"):
        pass
    else:
        path.append(extra)
    bad: InclusionProof = dataclasses.replace(proof, path=tuple(path))
    if how == "index":
        other = (index + 1 + where % n) % n
        if other == index:
            return
        rec = dataclasses.replace(proof.record, seq=other)
        bad = dataclasses.replace(proof, record=rec)
    if how == "size":
        bad = dataclasses.replace(proof, tree_size=proof.tree_size + 1 + where % 5)
    _rejected(verify_inclusion_proof, bad)


@SETTINGS
@given(n=st.integers(2, 40), data=st.data(), how=MUTATIONS, where=st.integers(0, 10**6),
       extra=st.binary(min_size=32, max_size=32))
def test_every_corruption_of_a_consistency_proof_is_rejected(n, data, how, where, extra):
    old = data.draw(st.integers(1, n - 1))
    log = _log(n)
    proof = log.prove_consistency(old)
    verify_consistency_proof(proof, verifiers=KEYS)
    verify_consistency_proof(proof_from_json(proof.to_json()), verifiers=KEYS)
    path = list(proof.path)
    if how == "flip":
        i = where % len(path)
        path[i] = _flip(path[i], where)
    elif how == "drop":
        del path[where % len(path)]
    elif how == "insert":
        path.insert(where % (len(path) + 1), extra)
    elif how == "swap" and len(path) >= 2 and path[0] != path[1]:
        path[0], path[1] = path[1], path[0]
    else:
        path.append(extra)
    bad: ConsistencyProof = dataclasses.replace(proof, path=tuple(path))
    if how == "index":
        bad = dataclasses.replace(proof, old_root=_flip(proof.old_root, where))
    if how == "size":
        delta = 1 + where % 3
        bad = dataclasses.replace(proof, old_size=proof.old_size + delta)
        if bad.old_size >= n:
            bad = dataclasses.replace(proof, old_size=proof.old_size - 1)
            if bad.old_size == 0:
                return
    _rejected(verify_consistency_proof, bad)


@SETTINGS
@given(n=st.integers(2, 30), data=st.data())
def test_a_proof_signed_by_another_key_or_for_another_record_is_rejected(n, data) -> None:
    log = _log(n)
    index = data.draw(st.integers(0, n - 1))
    proof = log.prove_inclusion(str(index))
    with pytest.raises(AuditVerificationError, match="trusted key"):
        verify_inclusion_proof(proof, verifiers=[Signer.generate("example.org/prop").verifier])
    forged_payload = dataclasses.replace(proof.record, payload={"call_id": "c0", "output": -1})
    _rejected(verify_inclusion_proof, dataclasses.replace(proof, record=forged_payload))


RECORD_MUTATIONS = st.sampled_from(["edit", "rehash", "delete", "insert", "swap"])


@SETTINGS
@given(n=st.integers(3, 30), data=st.data(), how=RECORD_MUTATIONS)
def test_every_single_record_mutation_of_a_stored_log_is_detected(n, data, how) -> None:
    log = _log(n)
    store = log.store
    rows = store._raw_rows()  # type: ignore[attr-defined]
    k = data.draw(st.integers(0, n - 1))
    first = k  # the first record that differs from the honest log
    row = rows[k]
    if how in ("edit", "rehash"):
        import json

        fields = json.loads(row.body)
        fields["payload"] = {"i": -1}
        body = canonical_json(fields)
        digest = hashlib.sha256(body).hexdigest() if how == "rehash" else row.hash
        rows[k] = row._replace(body=body, hash=digest)
    elif how == "delete":
        del rows[k]
    elif how == "insert":
        rows.insert(k, rows[k])
    else:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != k))
        rows[k], rows[j] = rows[j], rows[k]
        first = min(k, j)
    with pytest.raises(AuditVerificationError) as info:
        verify_log(store, public_keys=KEYS)
    err = info.value
    assert err.code in {"GG501", "GG502", "GG503", "GG505", "GG507"}
    # named at the mutated record, or the next one when only the chain link shows it
    assert err.seq in {first, first + 1}, (how, k, err)


@SETTINGS
@given(n=st.integers(1, 20), data=st.data())
def test_a_corrupted_checkpoint_note_is_rejected(n, data) -> None:
    log = _log(n)
    proof = log.prove_inclusion(str(data.draw(st.integers(0, n - 1))))
    doc = proof.to_json()
    note = doc["checkpoint"]
    body_end = note.index("\n\n")
    i = data.draw(st.integers(0, len(note) - 1).filter(lambda i: note[i] != "\n"))
    replacement = data.draw(st.sampled_from("0123456789abcdefABCDEF+/=x "))
    if replacement == note[i]:
        return
    doc["checkpoint"] = note[:i] + replacement + note[i + 1:]
    with pytest.raises(AuditVerificationError) as info:
        verify_inclusion_proof(proof_from_json(doc), verifiers=KEYS)
    assert info.value.code in ({"GG503", "GG504", "GG506"} if i < body_end else
                               {"GG504", "GG506"})


@SETTINGS
@given(n=st.integers(1, 12), data=st.data(),
       junk=st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers())))
def test_a_malformed_proof_document_is_a_verification_error_never_a_crash(n, data, junk):
    log = _log(n)
    doc = log.prove_inclusion("0").to_json() if data.draw(st.booleans()) else (
        log.prove_consistency(n - 1 if n > 1 else 0).to_json())
    key = data.draw(st.sampled_from(sorted(doc)))
    if data.draw(st.booleans()):
        del doc[key]
    elif doc[key] == junk:
        return  # not a change
    else:
        doc[key] = junk
    try:
        proof = proof_from_json(doc)
        if isinstance(proof, InclusionProof):
            verify_inclusion_proof(proof, verifiers=KEYS)
        else:
            verify_consistency_proof(proof, verifiers=KEYS)
    except AuditVerificationError:
        return
    pytest.fail(f"accepted a proof with {key} changed to {junk!r}")
