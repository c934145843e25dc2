"""Owns the structlog export of audit records: one structured log line per record.

The sink logs through a logger the caller passes in; it never calls ``structlog.configure``.
``json_logger`` builds a private JSON-lines logger on any text stream for callers who have
no logging set up (the CLI, tests), again without touching global configuration.
"""

from __future__ import annotations

from typing import Any, Protocol, TextIO

import structlog

from guardgraph.audit._semconv import record_attributes
from guardgraph.audit.events import AuditRecord

__all__ = ["EVENT_NAME", "StructlogSink", "json_logger"]

EVENT_NAME = "audit_record"


class _Logger(Protocol):
    def info(self, event: str, **kw: Any) -> Any: ...
    def error(self, event: str, **kw: Any) -> Any: ...


class StructlogSink:
    """A record sink that logs each audit record with its fields and telemetry attributes.

    The line carries the record's own fields (id, seq, timestamp, session, actor, kind,
    decision, rule ids, provenance, spec, hashes) and the same GenAI/guardgraph attributes
    as its span, so logs and traces can be joined on ``trace_id``/``span_id`` or record id.
    """

    __slots__ = ("_capture_content", "_logger")

    def __init__(self, logger: _Logger, *, capture_content: bool = False) -> None:
        self._logger = logger
        self._capture_content = capture_content

    def emit(self, record: AuditRecord) -> None:
        fields: dict[str, Any] = {
            "record_id": record.id,
            "seq": record.seq,
            "timestamp": record.timestamp,
            "session": record.session,
            "actor": record.actor,
            "kind": record.kind.value,
            "decision": record.decision,
            "rule_ids": list(record.rule_ids),
            "provenance": list(record.provenance),
            "spec": _spec(record),
            "trace_id": record.trace_id,
            "span_id": record.span_id,
            "hash": record.hash,
            "prev_hash": record.prev_hash,
        }
        attributes = record_attributes(record, capture_content=self._capture_content)
        fields.update(
            {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()}
        )
        if self._capture_content:
            fields["payload"] = record.payload
        if record.kind.value == "error":
            self._logger.error(EVENT_NAME, **fields)
        else:
            self._logger.info(EVENT_NAME, **fields)


def json_logger(stream: TextIO) -> Any:
    """A structlog logger that writes one sorted-key JSON object per line to ``stream``.

    Built with ``structlog.wrap_logger`` so that global configuration stays the host's.
    """
    return structlog.wrap_logger(
        structlog.WriteLogger(file=stream),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(sort_keys=True, default=str),
        ],
        cache_logger_on_first_use=False,
    )


def _spec(record: AuditRecord) -> str | None:
    if record.spec_name is None:
        return None
    version = "" if record.spec_version is None else f"@{record.spec_version}"
    return f"{record.spec_name}{version}"
