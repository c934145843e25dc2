"""Owns the Markdown rendering of a ``ReportData`` (for pull requests and wikis)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from guardgraph.audit._report_data import ReportData, VerificationStatus

__all__ = ["render_markdown"]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    # A pipe or newline would break the table row.
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return [*out, ""]


def render_markdown(data: ReportData) -> str:
    """The report as GitHub-flavoured Markdown (tables, no charts)."""
    v = data.verification
    lat = data.approval_latency
    lines = [
        f"# {data.title}",
        "",
        f"Source `{data.source}`, generated {data.generated_at}; period "
        f"{data.period_start or '-'} to {data.period_end or '-'} "
        f"({data.active_days} active day(s)).",
        "",
        "## Integrity",
        "",
        f"**{v.status.value}**: {v.records_checked:,} records, {v.checkpoints_verified} signed "
        f"checkpoint(s), root `{v.root_hash or '-'}`.",
    ]
    if v.status is VerificationStatus.FAILED:
        lines.append(f"First failure: {v.error_code} at record `{v.error_record_id}` "
                     f"(seq {v.error_seq}): {v.detail}")
    lines += ["", "## Summary", ""]
    lines += _table(("records", "sessions", "decisions", *(d for d, _ in data.decisions),
                     "violations", "errors"),
                    [(data.records, data.sessions, data.decisions_total,
                      *(n for _, n in data.decisions), data.violations_total, data.errors)])
    lines += ["## Over time", ""]
    lines += _table(("bucket start", "records", "allow", "deny", "escalate", "repair"),
                    ((b.start, b.records, b.allow, b.deny, b.escalate, b.repair)
                     for b in data.buckets))
    lines += ["## By rule", ""]
    lines += _table(("rule", "deny", "escalate", "repair", "total"),
                    ((r.rule, r.deny, r.escalate, r.repair, r.total) for r in data.rules))
    lines += ["## By agent", ""]
    lines += _table(("agent", "proposals", "allow", "deny", "escalate", "repair"),
                    ((a.agent, a.proposals, a.allow, a.deny, a.escalate, a.repair)
                     for a in data.agents))
    lines += ["## Human oversight (EU AI Act Art. 14)", ""]
    lines += _table(("answered", "pending", "median (s)", "p90 (s)", "max (s)"),
                    [(lat.count, lat.pending, lat.median_s, lat.p90_s, lat.max_s)])
    lines += _table(("person", "approved", "rejected", "first", "last"),
                    ((p.who, p.approvals, p.rejections, p.first_seen, p.last_seen)
                     for p in data.persons))
    lines += _table(("requested", "answered", "by", "approved", "agent", "tool", "rules",
                     "session", "latency (s)"),
                    ((a.requested_at, a.answered_at, a.approver, a.approved, a.agent, a.tool,
                      ", ".join(a.rules), a.session, a.latency_s) for a in data.approvals))
    lines += ["## Record-keeping (EU AI Act Art. 12)", "",
              f"- Period of use: {data.period_start or '-'} to {data.period_end or '-'}",
              f"- Decisions traceable to their inputs: {data.decisions_with_inputs:,} of "
              f"{data.decisions_total:,}",
              f"- Proposals using untrusted tool output: {data.untrusted_inputs_used:,}",
              "- Persons verifying results: "
              + (", ".join(p.who for p in data.persons) or "none"), ""]
    lines += _table(("spec", "version", "hash", "first decision", "last decision", "decisions"),
                    ((s.name, s.version, s.hash, s.first_seen, s.last_seen, s.decisions)
                     for s in data.specs))
    lines += ["## Violations and their provenance", ""]
    if len(data.violations) < data.violations_total:
        lines += [f"Listing {len(data.violations):,} of {data.violations_total:,}.", ""]
    for item in data.violations:
        lines.append(f"- **{item.decision}** {item.timestamp} `{item.session}` "
                     f"{item.agent or '?'} → {item.tool or '?'} "
                     f"[{', '.join(item.rule_ids)}] {item.outcome}: {item.message or ''} "
                     f"(record `{item.record_id}`)")
        for step in item.inputs:
            flag = " **untrusted**" if step.untrusted else ""
            lines.append(f"  {'  ' * step.depth}- {step.summary}{flag} ({step.timestamp})")
    lines.append("")
    return "\n".join(lines)
