"""Owns the compliance report's DATA: what a reviewer needs, computed from the records.

``build_report`` is a pure function of the records (streamed once, in log order, in bounded
memory) and of the verification outcome; the renderers (``render_html``, ``render_markdown``,
``report_as_json``) only format a ``ReportData`` and never look at records, as coverage.py
keeps its report data apart from its HTML templates.

The sections follow what a reviewer under the EU AI Act looks for: Art. 12 record-keeping
(period of use, the inputs that led to each decision, who verified results) and Art. 14 human
oversight (who approved what, and when).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from guardgraph.audit._checkpoint import Verifier
from guardgraph.audit._report_builder import ReportBuilder
from guardgraph.audit._report_data import (
    AgentStat,
    ApprovalRow,
    InputStep,
    LatencyStats,
    Person,
    ReportData,
    RuleStat,
    SeriesPoint,
    SpecUse,
    TimeBucket,
    Verification,
    VerificationStatus,
    Violation,
)
from guardgraph.audit._report_html import write_html as _write_html
from guardgraph.audit._report_md import render_markdown
from guardgraph.audit._store import AuditStore
from guardgraph.audit.events import AuditRecord
from guardgraph.audit.verify import verify_log
from guardgraph.errors import AuditVerificationError

__all__ = [
    "AgentStat",
    "ApprovalRow",
    "InputStep",
    "LatencyStats",
    "Person",
    "ReportData",
    "RuleStat",
    "SeriesPoint",
    "SpecUse",
    "TimeBucket",
    "Verification",
    "VerificationStatus",
    "Violation",
    "build_report",
    "render_report",
    "report_as_json",
    "verification_of",
    "write_html",
]


def build_report(
    records: Iterable[AuditRecord],
    *,
    generated_at: datetime,
    verification: Verification | None = None,
    lookup: Callable[[str], AuditRecord | None] | None = None,
    title: str = "guardgraph audit report",
    source: str = "",
    max_violations: int | None = None,
    window: int = 20_000,
) -> ReportData:
    """Aggregate ``records`` (log order) into a report, in one pass and bounded memory.

    Upstream inputs of a violation are found among the last ``window`` records, then through
    ``lookup`` (e.g. ``store.get``) if given. ``max_violations`` caps the violations listed
    in full (``violations_total`` still counts all); ``None`` lists every one.
    """
    builder = ReportBuilder(lookup=lookup, window=window, max_violations=max_violations)
    for record in records:
        builder.add(record)
    return builder.build(
        generated_at=generated_at,
        verification=verification or Verification(status=VerificationStatus.NOT_CHECKED),
        title=title,
        source=source,
    )


def render_report(data: ReportData, fmt: str, stream: TextIO) -> None:
    """Write the report to ``stream`` as ``"html"`` (one self-contained file), ``"md"`` or
    ``"json"``."""
    if fmt == "html":
        _write_html(data, stream)
    elif fmt == "md":
        stream.write(render_markdown(data))
    elif fmt == "json":
        json.dump(report_as_json(data), stream, indent=2)
        stream.write("\n")
    else:
        raise ValueError(f"expected a report format of html, md or json, got {fmt!r}")


def write_html(data: ReportData, stream: TextIO) -> None:
    """The report as one self-contained HTML page (no network at view time)."""
    render_report(data, "html", stream)


def report_as_json(data: ReportData) -> dict[str, Any]:
    """The report as a JSON-ready dict (``audit report --format json``)."""
    out = dataclasses.asdict(data)
    out["rules"] = [{**r, "total": r["deny"] + r["escalate"] + r["repair"]} for r in out["rules"]]
    return out


def verification_of(
    store: AuditStore, *, public_keys: Sequence[Verifier] | None = None
) -> Verification:
    """Run ``verify_log`` and keep its outcome as report data: a failure is a finding to
    show (which record, which check), not an exception that stops the report."""
    try:
        result = verify_log(store, public_keys=public_keys, unsigned_tail_ok=True)
    except AuditVerificationError as exc:
        return Verification(status=VerificationStatus.FAILED, error_code=exc.code,
                            error_record_id=exc.record_id, error_seq=exc.seq,
                            detail=exc.reason)
    notes = []
    if not result.signatures_checked:
        notes.append("checkpoint signatures not checked (no public key given)")
    if result.unsigned_tail:
        notes.append(f"{result.unsigned_tail:,} record(s) after the last signed checkpoint")
    return Verification(status=VerificationStatus.VERIFIED, records_checked=result.records,
                        checkpoints_verified=result.checkpoints, root_hash=result.root_hash,
                        detail="; ".join(notes) or None)
