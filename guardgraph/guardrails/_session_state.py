"""A session's state: how committed events fold into it (the `StateCodec` the guard
hands its store), its compact encoding, and the exported session blob.

The blob (`Guard.export_session`) is opaque and versioned: a magic line, then zlib-packed
JSON naming the format, the session id and the policy sha256 it was written under, so a
blob restored under another policy is refused instead of misread. The state inside is
exactly what the monitor needs (accumulators, not the history), so a blob stays small
enough for a LangGraph checkpoint whatever the session's length.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from guardgraph.guardrails._errors import SessionStateError, StoreError
from guardgraph.guardrails._monitor import Accumulator, MonitorState
from guardgraph.guardrails._provenance import output_leaves, text_tokens
from guardgraph.guardrails._runtime import Runtime
from guardgraph.guardrails._store import Event, decode_value, encode_value
from guardgraph.guardrails._validate import BadValue, validate

__all__ = ["Codec", "executed_tool", "read_blob", "write_blob"]

_FORMAT = 2
_MAGIC = b"guardgraph-session/1\n"


class Codec:
    """The guard's `StateCodec`: deterministic, so replicas that replay the same events
    reach the same state."""

    __slots__ = ("_rt",)

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def new(self) -> MonitorState:
        return MonitorState()

    def apply(self, state: MonitorState, event: Event) -> None:
        kind = event[0]
        state.seq += 1
        if kind == "call":
            _, tool, args, now, call_id, fingerprint = event
            state.observe(self._rt.tracks, tool, args, now, describe=call_id)
            state.committed[call_id] = fingerprint
        elif kind == "route":
            _, call_id, fingerprint, _now = event
            state.committed[call_id] = fingerprint
        elif kind == "result":
            _, call_id, output, trusted = event
            tool = executed_tool(state, call_id)
            if tool is None:
                return
            spec = self._rt.spec
            decl = spec.tool(tool)
            state.label_output(tool, output_leaves(output, decl, trusted=trusted))
            if decl is not None and decl.returns is not None:
                try:
                    state.record_result(tool, validate(output, decl.returns, spec, "result"))
                except BadValue:
                    state.results.pop(tool, None)  # result(t) stays undefined: fail closed
        elif kind == "user":
            state.label_user(text_tokens(event[1]))

    def check_event(self, event: Event) -> None:
        """Refuse, at write time, an event no replica could fold (issue 11)."""
        ok = False
        if isinstance(event, tuple) and event:
            kind = event[0]
            if kind == "call" and len(event) == 6:
                _, tool, args, now, call_id, fp = event
                ok = (tool in self._rt.programs and isinstance(args, Mapping)
                      and all(type(k) is str for k in args) and type(now) is int
                      and _id(call_id) and type(fp) is str)
            elif kind == "route" and len(event) == 4:
                ok = _id(event[1]) and type(event[2]) is str and type(event[3]) is int
            elif kind == "result" and len(event) == 4:
                ok = _id(event[1]) and (event[3] is None or type(event[3]) is bool)
            elif kind == "user" and len(event) == 2:
                ok = type(event[1]) is str
        if not ok:
            raise StoreError(f"refusing to write a malformed session event {event!r:.120}",
                             code="GG408")

    def encode(self, state: MonitorState) -> bytes:
        doc = {
            "format": _FORMAT,
            "last": state.last_us,
            "events": state.events,
            "seq": state.seq,
            "accs": {k: [encode_value(x) for x in a.s] for k, a in state.accs.items()},
            "poisoned": state.poisoned,
            "results": {k: encode_value(v) for k, v in state.results.items()},
            "committed": state.committed,
            "prov": state.prov,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")

    def decode(self, data: bytes) -> MonitorState:
        """The state `encode` wrote; `StoreError` (GG414) on anything else."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                got = doc.get("format") if isinstance(doc, dict) else None
                raise StoreError(f"session state format {got!r}, expected {_FORMAT}")
            state = MonitorState()
            state.last_us = _int(doc["last"])
            state.events = _int(doc["events"])
            state.seq = _int(doc["seq"])
            state.accs = {str(k): Accumulator([decode_value(x) for x in s])
                          for k, s in doc["accs"].items()}
            state.poisoned = {str(k): str(v) for k, v in doc["poisoned"].items()}
            state.results = {str(k): decode_value(v) for k, v in doc["results"].items()}
            state.committed = {str(k): str(v) for k, v in doc["committed"].items()}
            prov = doc["prov"]
            if not isinstance(prov, dict) or set(prov) != {"u", "s", "user"}:
                raise StoreError("corrupt session state: bad provenance table")
            state.prov = prov
        except StoreError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError,
                ZeroDivisionError) as exc:
            raise StoreError(f"corrupt session state: {type(exc).__name__}: {exc}") from None
        return state


def executed_tool(state: MonitorState, call_id: str) -> str | None:
    """The tool of an executed call (None for a route or an unknown id)."""
    fingerprint = state.committed.get(call_id)
    if fingerprint is None:
        return None
    tool = fingerprint.partition(":")[0]
    return None if tool == "route" else tool


def _id(value: object) -> bool:
    return type(value) is str and bool(value)


def _int(value: object) -> int:
    if type(value) is not int:
        raise StoreError(f"corrupt session state: expected an int, got {value!r:.40}")
    return value


def write_blob(session_id: str, policy_sha256: str, state: bytes) -> bytes:
    doc: dict[str, Any] = {"format": _FORMAT, "session": session_id,
                           "policy": policy_sha256, "state": state.decode("utf-8")}
    return _MAGIC + zlib.compress(json.dumps(doc, separators=(",", ":"),
                                             ensure_ascii=False).encode("utf-8"), 6)


def read_blob(blob: bytes, policy_sha256: str) -> tuple[str, bytes]:
    """(session id, encoded state) of a blob written under this policy."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise SessionStateError(f"expected a session blob (bytes), got {type(blob).__name__}")
    data = bytes(blob)
    if not data.startswith(_MAGIC):
        raise SessionStateError("not a guardgraph session blob (it does not start with "
                                f"{_MAGIC[:-1].decode()!r})")
    try:
        doc = json.loads(zlib.decompress(data[len(_MAGIC):]))
    except (zlib.error, ValueError) as exc:
        raise SessionStateError(f"corrupt session blob: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else None
        raise SessionStateError(f"session blob format {got!r}; this guardgraph reads "
                                f"format {_FORMAT}")
    if doc.get("policy") != policy_sha256:
        raise SessionStateError(
            f"session blob of {doc.get('session')!r} was written under policy sha256 "
            f"{str(doc.get('policy'))[:12]}, this guard enforces {policy_sha256[:12]}; "
            "restore it with the policy it was written under, or start a new session")
    sid, state = doc.get("session"), doc.get("state")
    if type(sid) is not str or type(state) is not str:
        raise SessionStateError("corrupt session blob: missing session id or state")
    return sid, state.encode("utf-8")
