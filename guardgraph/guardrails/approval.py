"""Human approval of one escalated call: `Approval`, bound to a call id and the exact
arguments approved (`args_sha256`).

>>> args_sha256({"b": 1, "a": "x"})[:16]
'cdab067e9f3beb32'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from guardgraph.guardrails.verdict import json_value

__all__ = ["Approval", "args_sha256"]


def args_sha256(args: Mapping[str, object]) -> str:
    """SHA-256 hex of the arguments as sorted-key compact JSON (DESIGN.md): what an
    approval binds to, and what the audit record and the interrupt payload carry."""
    text = json.dumps(json_value(args), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A human's yes to one call: ``approved`` holds in the rules only for the call whose
    id is ``call_id`` and whose checked arguments hash to ``args_sha256`` (a changed amount
    after approval is not approved). The guard re-checks the call in full when the
    approval is applied: the spec, facts and session state in force at that moment.
    """

    approver: str
    call_id: str
    args_sha256: str
    at: datetime
    reason: str = ""
