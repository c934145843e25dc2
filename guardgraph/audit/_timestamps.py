"""Owns parsing of the RFC 3339 timestamps that audit records carry."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_rfc3339", "parse_rfc3339", "to_unix_nanos"]


def parse_rfc3339(text: str, *, what: str = "timestamp") -> datetime:
    """Parse an RFC 3339 timestamp (or a bare date) into an aware UTC datetime.

    >>> parse_rfc3339("2026-05-01T10:00:00Z").isoformat()
    '2026-05-01T10:00:00+00:00'
    >>> parse_rfc3339("2026-05-01").isoformat()
    '2026-05-01T00:00:00+00:00'
    """
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected an RFC 3339 {what} such as 2026-05-01T10:00:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        # Records are written in UTC; a naive bound given by a user means UTC too.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_rfc3339(value: datetime) -> str:
    """UTC RFC 3339 with microseconds and ``Z``: the store's fixed-width form, so that
    timestamps compare correctly as strings.

    >>> format_rfc3339(parse_rfc3339("2026-05-01T12:00:00+02:00"))
    '2026-05-01T10:00:00.000000Z'
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_unix_nanos(text: str) -> int:
    """Nanoseconds since the epoch, as OpenTelemetry wants start and end times."""
    value = parse_rfc3339(text)
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1_000
