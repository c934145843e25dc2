"""Redaction: fields a spec marks sensitive are stored as salted hashes, never in clear.

The value is replaced by ``hmac-sha256:<hex>`` of its canonical JSON under a per-log salt
kept beside the signing key, not in the database: a reviewer handed the log can verify
every hash and proof without seeing the personal data, cannot test guesses without the
salt, and the operator can still show that a given value is the one recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from guardgraph.audit._canonical import canonical_json
from guardgraph.errors import AuditKeyError

__all__ = [
    "REDACTED_PREFIX",
    "Redactor",
    "digest_arguments",
    "load_or_create_salt",
    "redacted_matches",
    "redaction_digest",
]

REDACTED_PREFIX = "hmac-sha256:"
ANY_TOOL = "*"
# Where a tool's arguments appear in a payload: the call, and a guard's proposed repair.
_ARGUMENT_KEYS = ("args", "repair")


def redaction_digest(salt: bytes, value: Any) -> str:
    """What a sensitive ``value`` is stored as.

    >>> redaction_digest(b"salt", "GB29NWBK60161331926819")[:20]
    'hmac-sha256:5d24a8f7'
    """
    mac = hmac.new(salt, canonical_json(value), hashlib.sha256).hexdigest()
    return REDACTED_PREFIX + mac


def redacted_matches(salt: bytes, value: Any, stored: str) -> bool:
    """Whether ``stored`` is the redaction of ``value`` (constant-time comparison)."""
    return hmac.compare_digest(redaction_digest(salt, value), stored)


def digest_arguments(
    payload: Mapping[str, Any], names: Sequence[str], *, key: bytes
) -> Mapping[str, Any]:
    """``payload`` with the arguments ``names`` (under ``args`` and ``repair``, where tool
    arguments live) replaced by their keyed digests; the same object when none is there.

    Equal values give equal digests under one key, so a reviewer can still see that two
    calls paid the same recipient without learning who it was.

    >>> out = digest_arguments({"args": {"iban": "GB29", "amount": 5}}, ["iban"], key=b"k" * 16)
    >>> out["args"]["iban"][:12], out["args"]["amount"]
    ('hmac-sha256:', 5)
    """
    if len(key) < 16:
        raise AuditKeyError(f"a digest key needs at least 16 bytes, got {len(key)}")
    out: dict[str, Any] | None = None
    for where in _ARGUMENT_KEYS:
        inner = payload.get(where)
        if not isinstance(inner, Mapping):
            continue
        hits = [n for n in names if n in inner and not (
            isinstance(inner[n], str) and inner[n].startswith(REDACTED_PREFIX))]
        if not hits:
            continue
        if out is None:
            out = dict(payload)
        out[where] = {k: redaction_digest(key, v) if k in hits else v
                      for k, v in inner.items()}
    return payload if out is None else out


class Redactor:
    """Applies ``fields``: tool name (or ``"*"`` for every event) to payload paths.

    A path is dotted from the payload root (``"args.recipient"``); a bare name also
    matches the same key under ``payload["args"]`` and ``payload["repair"]``, where tool
    arguments live, so a spec's ``sensitive`` parameters map directly:
    ``{tool.name: [p.name for p in tool.params if p.sensitive]}``.
    """

    __slots__ = ("_fields", "_salt")

    def __init__(self, fields: Mapping[str, Sequence[str]], *, salt: bytes) -> None:
        if len(salt) < 16:
            raise AuditKeyError(f"a redaction salt needs at least 16 bytes, got {len(salt)}")
        for tool, paths in fields.items():
            if isinstance(paths, str):
                raise TypeError(
                    f"redact[{tool!r}] must be a sequence of field paths, got the string "
                    f"{paths!r}; write ({paths!r},)"
                )
        self._fields = {tool: tuple(paths) for tool, paths in fields.items()}
        self._salt = salt

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload with its sensitive fields hashed (the same object when none match)."""
        tool = payload.get("tool")
        paths = self._fields.get(ANY_TOOL, ()) + (
            self._fields.get(tool, ()) if isinstance(tool, str) else ()
        )
        if not paths:
            return payload
        out = _copy(payload)
        changed = False
        for path in paths:
            parts = path.split(".")
            changed |= self._redact_at(out, parts)
            if len(parts) == 1:
                for where in _ARGUMENT_KEYS:
                    inner = out.get(where)
                    if isinstance(inner, dict):
                        changed |= self._redact_at(inner, parts)
        return out if changed else payload

    def _redact_at(self, node: Any, parts: Sequence[str]) -> bool:
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        last = parts[-1]
        if not isinstance(node, dict) or last not in node:
            return False
        value = node[last]
        if isinstance(value, str) and value.startswith(REDACTED_PREFIX):
            return False  # already redacted (a replayed event): hashing twice would differ
        node[last] = redaction_digest(self._salt, value)
        return True


def _copy(value: Any) -> Any:
    # Containers only: the caller's payload must stay as it was.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def load_or_create_salt(path: Path) -> bytes:
    """The per-log salt kept at ``path`` (mode 0600), 32 random bytes made on first use."""
    try:
        if path.exists():
            salt = bytes.fromhex(path.read_text(encoding="utf-8").strip())
        else:
            salt = secrets.token_bytes(32)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return load_or_create_salt(path)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(salt.hex() + "\n")
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"cannot read or create the redaction salt {path}: {exc}") from None
    return salt
