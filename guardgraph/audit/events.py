"""The shared event model: every event kind, its typed payload, and the record it becomes.

One payload class per :class:`EventKind`, each a frozen value with a written schema
(docs/audit-records.md). An event is built from one with :meth:`Event.of`, which checks
the record-level fields too; every store checks the payload against its kind's schema
again when it seals the record, so nothing reaches the log that the schema does not
describe. This module depends on nothing of ours but the errors.

>>> ev = Event.of(ActionProposed(tool="send_money", call_id="c1", agent="payments",
...                              args={"amount": 100}), session="s1", actor="payments")
>>> ev.kind.value, ev.payload["args"]
('action_proposed', {'amount': 100})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from guardgraph.audit._json_value import check_text
from guardgraph.audit._schema import FieldSpec, compile_fields, plain_payload, type_name
from guardgraph.errors import AuditPayloadError

__all__ = [
    "DECISIONS",
    "ActionExecuted",
    "ActionProposed",
    "ApprovalAnswered",
    "ApprovalRequested",
    "AuditRecord",
    "ErrorOccurred",
    "Event",
    "EventKind",
    "ModelDeployed",
    "ModelTrained",
    "Payload",
    "RouteDecided",
    "SpecChanged",
    "SpecLoaded",
    "TaskReceived",
    "ToolResult",
    "UserMessage",
    "VerdictReached",
    "parse_payload",
]

DECISIONS = ("allow", "deny", "escalate", "repair")
ERROR_STAGES = ("tool", "guard", "orchestrator", "approval", "learner")


class EventKind(StrEnum):
    TASK_RECEIVED = "task_received"
    USER_MESSAGE = "user_message"
    ROUTE_DECIDED = "route_decided"
    ACTION_PROPOSED = "action_proposed"
    VERDICT = "verdict"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_ANSWERED = "approval_answered"
    ACTION_EXECUTED = "action_executed"
    TOOL_RESULT = "tool_result"
    ERROR = "error"
    SPEC_LOADED = "spec_loaded"
    SPEC_CHANGED = "spec_changed"
    MODEL_TRAINED = "model_trained"
    MODEL_DEPLOYED = "model_deployed"


# A field annotated ``Json`` holds any JSON value; ``JsonObject`` a JSON object.
Json = Any
JsonObject = Mapping[str, Any]


class Payload:
    """Base of the typed payloads: ``to_json`` gives the dict stored in the record.

    Subclasses are frozen dataclasses; ``KIND`` names their event kind. Users build them,
    never subclass them.
    """

    __slots__ = ()
    KIND: ClassVar[EventKind]

    def __post_init__(self) -> None:
        specs, names = _SPECS[type(self)]
        given = {spec.name: getattr(self, spec.name) for spec in specs}
        for name, value in plain_payload(self.KIND.value, specs, names, given).items():
            object.__setattr__(self, name, _frozen(value))

    def to_json(self) -> dict[str, Any]:
        """The payload as stored: plain JSON, every field present."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _frozen(value: Any) -> Any:
    # JSON copied once, then read-only: a payload value cannot change after the check.
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReceived(Payload):
    """A task arrived from a user: the text as typed, who sent it, its labels."""

    KIND = EventKind.TASK_RECEIVED
    task: str
    user: str = ""
    labels: tuple[str, ...] = ()
    task_kind: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessage(Payload):
    """A later message from the user in the same session (``from_user`` reads these)."""

    KIND = EventKind.USER_MESSAGE
    text: str
    user: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecided(Payload):
    """The router sent the task to ``target`` (after the guard allowed the route)."""

    KIND = EventKind.ROUTE_DECIDED
    target: str
    router: str = ""
    call_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionProposed(Payload):
    """An agent proposed an action: a tool call, or a route (``tool`` = ``"route"``).

    ``arg_sources`` maps an argument to the ids of the records its value came from.
    """

    KIND = EventKind.ACTION_PROPOSED
    tool: str
    call_id: str
    agent: str
    args: JsonObject = field(default_factory=dict)
    args_sha256: str = ""
    action: str = field(default="tool_call", metadata={"choices": ("tool_call", "route")})
    target: str | None = None
    arg_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictReached(Payload):
    """The guard's verdict on a proposal; the decision and the rules are the record's own
    ``decision`` and ``rule_ids``. ``args`` are the checked (frozen) arguments, ``repair``
    the changed ones, ``code`` the GG4xx code of a fail-closed deny."""

    KIND = EventKind.VERDICT
    tool: str
    call_id: str
    agent: str = ""
    message: str = ""
    code: str | None = None
    args: JsonObject | None = None
    args_sha256: str = ""
    repair: JsonObject | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequested(Payload):
    """An escalated call waits for a human; the approval binds to ``args_sha256``."""

    KIND = EventKind.APPROVAL_REQUESTED
    tool: str
    call_id: str
    agent: str = ""
    reason: str = ""
    rules: tuple[str, ...] = ()
    args: JsonObject | None = None
    args_sha256: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalAnswered(Payload):
    """A human's answer to an approval request."""

    KIND = EventKind.APPROVAL_ANSWERED
    tool: str
    call_id: str
    approved: bool
    approver: str
    agent: str = ""
    reason: str = ""
    args_sha256: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecuted(Payload):
    """The tool ran with ``args`` (the verdict's frozen, possibly repaired, arguments)."""

    KIND = EventKind.ACTION_EXECUTED
    tool: str
    call_id: str
    agent: str = ""
    args: JsonObject = field(default_factory=dict)
    args_sha256: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(Payload):
    """What the tool returned; ``trusted`` is False for output that may carry injected
    text, ``untrusted_fields`` names the attacker-controlled fields of a record output."""

    KIND = EventKind.TOOL_RESULT
    call_id: str
    tool: str = ""
    agent: str = ""
    output: Json = None
    trusted: bool = True
    untrusted_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorOccurred(Payload):
    """Something failed: a tool (``stage="tool"``), the guard itself (``"guard"``: the call
    was denied, fail closed), the orchestrator, an approval or a learner."""

    KIND = EventKind.ERROR
    message: str
    error_type: str
    stage: str = field(default="tool", metadata={"choices": ERROR_STAGES})
    tool: str = ""
    call_id: str = ""
    agent: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecLoaded(Payload):
    """A spec version came into force: its name, version, sha256 and rule ids."""

    KIND = EventKind.SPEC_LOADED
    spec: str
    version: int
    hash: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecChanged(Payload):
    """A new spec version replaced ``previous_version``."""

    KIND = EventKind.SPEC_CHANGED
    spec: str
    version: int
    hash: str
    rules: tuple[str, ...] = ()
    previous_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelTrained(Payload):
    """A policy was trained: its name, the sha256 of its weights, how, and its metrics."""

    KIND = EventKind.MODEL_TRAINED
    model: str
    sha256: str
    algorithm: str = ""
    metrics: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelDeployed(Payload):
    """A trained policy passed (or failed) the deployment gate."""

    KIND = EventKind.MODEL_DEPLOYED
    model: str
    sha256: str
    passed: bool
    gate: str = ""
    metrics: JsonObject = field(default_factory=dict)


PAYLOAD_TYPES: Mapping[EventKind, type[Payload]] = MappingProxyType({
    cls.KIND: cls
    for cls in (TaskReceived, UserMessage, RouteDecided, ActionProposed, VerdictReached,
                ApprovalRequested, ApprovalAnswered, ActionExecuted, ToolResult,
                ErrorOccurred, SpecLoaded, SpecChanged, ModelTrained, ModelDeployed)
})
# Compiled once: (field specs, field names) per payload class.
_SPECS: Mapping[type[Payload], tuple[tuple[FieldSpec, ...], frozenset[str]]] = MappingProxyType({
    cls: (specs, frozenset(s.name for s in specs))
    for cls in PAYLOAD_TYPES.values() for specs in [compile_fields(cls)]
})


def _payload_type(kind: EventKind | str) -> type[Payload]:
    try:
        return PAYLOAD_TYPES[EventKind(kind)]
    except ValueError:
        raise AuditPayloadError(
            f"unknown event kind {kind!r}; expected one of "
            + ", ".join(k.value for k in EventKind)
        ) from None


def parse_payload(kind: EventKind | str, data: Mapping[str, Any]) -> Payload:
    """The typed payload of ``kind`` from its stored (or hand-written) JSON object.

    Raises :class:`AuditPayloadError` naming the unknown, missing or mistyped field.

    >>> parse_payload("user_message", {"text": "hi"})
    UserMessage(text='hi', user='')
    """
    cls = _payload_type(kind)
    specs, names = _SPECS[cls]
    return cls(**plain_payload(cls.KIND.value, specs, names, data))


def payload_json(kind: EventKind, payload: Payload | Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of ``payload`` for an event of ``kind``, checked against the schema."""
    if isinstance(payload, Payload):
        if payload.KIND is not kind:
            raise AuditPayloadError(
                f"a {type(payload).__name__} payload belongs to {payload.KIND.value} events, "
                f"not {kind.value}"
            )
        return payload.to_json()
    cls = _payload_type(kind)
    specs, names = _SPECS[cls]
    return plain_payload(kind.value, specs, names, payload)


def _rfc3339(at: datetime | str | None) -> str | None:
    if at is None or isinstance(at, str):
        return at
    if at.tzinfo is None:
        raise AuditPayloadError(f"at: expected an aware datetime, got {at!r}")
    from guardgraph.audit._timestamps import format_rfc3339

    return format_rfc3339(at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """An event before it is appended: the store assigns sequence and hashes.

    Build one with :meth:`Event.of`. ``payload`` is checked against ``kind``'s schema when
    the event is sealed. ``provenance`` holds the ids of the records this one derives from.
    ``idempotency_key`` (the event id) makes a retried append return the record already
    committed instead of a duplicate. ``sensitive`` names arguments the log stores as
    keyed digests; it is not itself stored.
    """

    kind: EventKind
    session: str
    actor: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    provenance: tuple[str, ...] = ()
    spec_name: str | None = None
    spec_version: int | None = None
    spec_hash: str | None = None
    decision: str | None = None
    rule_ids: tuple[str, ...] = ()
    trace_id: str | None = None
    span_id: str | None = None
    idempotency_key: str | None = None
    timestamp: str | None = None  # RFC 3339; the store's clock fills it when None
    id: str | None = None  # the record id; the log's id factory fills it when None
    sensitive: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        payload: Payload,
        *,
        session: str,
        actor: str,
        spec: tuple[str, int, str] | None = None,
        verdict: tuple[str, Sequence[str]] | None = None,
        provenance: Sequence[str] = (),
        event_id: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        at: datetime | str | None = None,
        record_id: str | None = None,
        sensitive: Sequence[str] = (),
    ) -> Event:
        """The event for a typed ``payload``: the one way records are built.

        ``spec`` is ``(name, version, sha256)`` of the spec in force; ``verdict`` is
        ``(decision, rule ids)``, required for a verdict and refused for other kinds;
        ``event_id`` makes the append idempotent.
        """
        if not isinstance(payload, Payload):
            raise AuditPayloadError(
                f"expected a typed payload (e.g. ActionProposed), got {type_name(payload)}"
            )
        kind = payload.KIND
        decision: str | None = None
        rules: tuple[str, ...] = ()
        if verdict is not None:
            if kind is not EventKind.VERDICT:
                raise AuditPayloadError(f"verdict= is for verdict events, not {kind.value}")
            decision, rules = verdict[0], tuple(verdict[1])
        elif kind is EventKind.VERDICT:
            raise AuditPayloadError("a verdict event needs verdict=(decision, rules)")
        name = version = digest = None
        if spec is not None:
            name, version, digest = spec
        ev = cls(
            kind=kind, session=session, actor=actor, payload=payload.to_json(),
            provenance=tuple(provenance), spec_name=name, spec_version=version,
            spec_hash=digest, decision=decision, rule_ids=rules, trace_id=trace_id,
            span_id=span_id, idempotency_key=event_id, timestamp=_rfc3339(at), id=record_id,
            sensitive=tuple(sensitive),
        )
        check_event(ev)
        return ev


_OPTIONAL_TEXT = ("spec_name", "spec_hash", "trace_id", "span_id", "idempotency_key",
                  "timestamp", "id")


def _text_field(value: object, name: str, *, optional: bool) -> None:
    if type(value) is str:
        if not value.isascii():
            check_text(value, name)
    elif not (optional and value is None):
        raise AuditPayloadError(f"{name}: expected str, got {type_name(value)}")


def _strings_field(value: object, name: str) -> None:
    if not isinstance(value, tuple | list) or not all(type(x) is str for x in value):
        raise AuditPayloadError(f"{name}: expected a tuple of str, got {type_name(value)}")


def check_event(ev: Event) -> None:
    """The record-level fields of ``ev`` against the record schema (the payload is checked
    by :func:`payload_json`)."""
    if type(ev.kind) is not EventKind:
        raise AuditPayloadError(f"kind: expected an EventKind, got {type_name(ev.kind)}")
    _text_field(ev.session, "session", optional=False)
    _text_field(ev.actor, "actor", optional=False)
    for name in _OPTIONAL_TEXT:
        value = getattr(ev, name)
        if value is not None:
            _text_field(value, name, optional=True)
    if ev.spec_version is not None and type(ev.spec_version) is not int:
        raise AuditPayloadError(f"spec_version: expected int, got {type_name(ev.spec_version)}")
    if ev.provenance:
        _strings_field(ev.provenance, "provenance")
    if ev.rule_ids:
        _strings_field(ev.rule_ids, "rule_ids")
    if ev.sensitive:
        _strings_field(ev.sensitive, "sensitive")
    if ev.kind is EventKind.VERDICT:
        if ev.decision not in DECISIONS:
            raise AuditPayloadError(
                f"decision: expected one of {', '.join(DECISIONS)}, got {ev.decision!r}"
            )
    elif ev.decision is not None or ev.rule_ids:
        raise AuditPayloadError(
            f"decision and rule_ids are for verdict events, not {ev.kind.value}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One record of the append-only, hash-chained log (DESIGN.md: audit record)."""

    id: str
    seq: int
    timestamp: str
    session: str
    trace_id: str | None
    span_id: str | None
    actor: str
    kind: EventKind
    payload: dict[str, Any]
    spec_name: str | None
    spec_version: int | None
    spec_hash: str | None
    decision: str | None
    rule_ids: tuple[str, ...]
    provenance: tuple[str, ...]
    idempotency_key: str | None
    prev_hash: str
    hash: str

    def typed_payload(self) -> Payload:
        """The payload as its kind's typed value."""
        return parse_payload(self.kind, self.payload)

    @property
    def tool(self) -> str | None:
        """The tool the record is about: ``payload["tool"]`` when it names one."""
        tool = self.payload.get("tool")
        return tool if isinstance(tool, str) and tool else None

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (one line of ``audit query --format jsonl``)."""
        return {
            "id": self.id,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "session": self.session,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "actor": self.actor,
            "kind": self.kind.value,
            "tool": self.tool,
            "decision": self.decision,
            "rule_ids": list(self.rule_ids),
            "payload": self.payload,
            "spec": None if self.spec_name is None else {
                "name": self.spec_name, "version": self.spec_version, "hash": self.spec_hash},
            "provenance": list(self.provenance),
            "idempotency_key": self.idempotency_key,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
