"""Owns the HTML rendering of a ``ReportData``: one self-contained file, no network.

Styles, charts (inline SVG) and the one small filter script are inline; nothing is fetched
when the file is opened, so a reviewer can read it offline or from an evidence archive.
Numbers a test reads back carry ``data-testid`` attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from html import escape
from typing import TextIO

from guardgraph.audit._report_data import ReportData, Verification, VerificationStatus, Violation
from guardgraph.audit._report_svg import DECISION_COLOURS, PALETTE, hbars, lines, stacked_columns

__all__ = ["render_html", "write_html"]

_CSS = """
:root{--ink:#1d2430;--muted:#5d6675;--line:#e3e6ea;--bg:#f6f7f9;--card:#fff;
--deny:#c8413b;--escalate:#e0a526;--repair:#3f78b5;--allow:#4e9a6f}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#1d2430;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9ced6}main{max-width:1180px;margin:0 auto;padding:20px 32px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:16px 20px;margin:16px 0}h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px;color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:#fbfbfc}
.card .n{font-size:22px;font-weight:600}.card .l{color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;
font-weight:600;color:#fff}.verified{background:var(--allow)}.failed{background:var(--deny)}
.not_checked{background:#7d7d7d}.deny{color:var(--deny)}.escalate{color:#a97800}
.repair{color:var(--repair)}.allow{color:var(--allow)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;
padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.chart{width:100%;height:auto}.chart .grid{stroke:#eceef1}
.chart .tick{font-size:11px;fill:var(--muted)}.chart .name{font-size:12px;fill:var(--ink)}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
details{border-bottom:1px solid var(--line);padding:4px 0}summary{cursor:pointer}
ol.inputs{margin:6px 0 6px 8px;color:var(--muted);font-size:12px}
.untrusted{color:var(--deny);font-weight:600}code{font-size:12px}
input[type=search]{width:320px;padding:6px 8px;border:1px solid var(--line);border-radius:4px}
td code,summary code{white-space:nowrap}time{white-space:nowrap}
"""

_SCRIPT = """
document.getElementById('vfilter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase(), shown = 0;
  document.querySelectorAll('#violations details').forEach(function (d) {
    var hit = d.textContent.toLowerCase().indexOf(q) !== -1;
    d.style.display = hit ? '' : 'none'; if (hit) { shown += 1; }
  });
  document.getElementById('vcount').textContent = String(shown);
});
"""


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    return "".join(_chunks(data))


def write_html(data: ReportData, stream: TextIO) -> None:
    """Write the report to ``stream`` piece by piece: a report listing tens of thousands of
    violations never exists as one string in memory."""
    for chunk in _chunks(data):
        stream.write(chunk)


def _chunks(data: ReportData) -> Iterator[str]:
    yield "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    yield "<meta name='viewport' content='width=device-width,initial-scale=1'>"
    yield f"<title>{escape(data.title)}</title><style>{_CSS}</style></head><body>"
    yield (f"<header><h1>{escape(data.title)}</h1><p>{escape(data.source)} · generated "
           f"{_when(data.generated_at)} · period {_when(data.period_start)} to "
           f"{_when(data.period_end)}</p></header><main>")
    yield _summary(data)
    yield _integrity(data.verification)
    yield _over_time(data)
    yield _by_rule_and_agent(data)
    yield _oversight(data)
    yield _record_keeping(data)
    yield from _violations(data)
    yield "</main>"
    yield f"<script>{_SCRIPT}</script>"
    yield "</body></html>"


def _n(testid: str, value: object) -> str:
    return f'<span data-testid="{escape(testid)}">{escape(_fmt(value))}</span>'


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _when(stamp: str | None) -> str:
    """A timestamp shown to the second, with the full stored value on hover."""
    if not stamp:
        return "-"
    short = stamp[:19].replace("T", " ")
    return f'<time datetime="{escape(stamp)}" title="{escape(stamp)}">{escape(short)}</time>'


def _duration(seconds: float | None) -> str:
    """
    >>> _duration(220.2), _duration(3725.0), _duration(None)
    ('3m 40s', '1h 02m', '-')
    """
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _seconds(testid: str, seconds: float | None) -> str:
    # Shown as a duration; the exact seconds stay machine-readable for tests and scrapers.
    raw = "" if seconds is None else f"{seconds:.3f}"
    return (f'<span data-testid="{escape(testid)}" data-seconds="{raw}">'
            f"{_duration(seconds)}</span>")


def _card(testid: str, value: object, label: str) -> str:
    return _card_html(_n(testid, value), label)


def _card_html(shown: str, label: str) -> str:
    return f'<div class="card"><div class="n">{shown}</div>' \
           f'<div class="l">{escape(label)}</div></div>'


def _summary(d: ReportData) -> str:
    lat = d.approval_latency
    cards = [
        _card("total-records", d.records, "records"),
        _card("sessions", d.sessions, "sessions"),
        _card("decisions-total", d.decisions_total, "guard decisions"),
        *(_card(f"decision-{k}", d.decision_count(k), k) for k in DECISION_COLOURS),
        _card("violations-total", d.violations_total, "violations (deny+escalate+repair)"),
        _card("approvals-count", lat.count, "human approvals answered"),
        _card_html(_seconds("latency-median", lat.median_s), "median approval latency"),
        _card("errors", d.errors, "errors"),
    ]
    return f'<section><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'


def _integrity(v: Verification) -> str:
    status = v.status.value
    rows = [("Chain, Merkle tree and checkpoints",
             f'<span class="badge {status}" data-testid="verification-status">{status}</span>'),
            ("Records checked", _n("verified-records", v.records_checked)),
            ("Signed checkpoints verified", _n("verified-checkpoints", v.checkpoints_verified)),
            ("Tree root", f"<code>{escape(v.root_hash or '-')}</code>")]
    if v.status is VerificationStatus.FAILED:
        rows.append(("First failure", f"{escape(v.error_code or '')} at record "
                     f"<code>{escape(v.error_record_id or '?')}</code> (seq {_fmt(v.error_seq)}): "
                     f"{escape(v.detail or '')}"))
    elif v.detail:
        rows.append(("Note", escape(v.detail)))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{val}</td></tr>" for k, val in rows)
    return f"<section><h2>Integrity</h2><table>{body}</table></section>"


def _legend(items: Iterable[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i style="background:{c}"></i>{escape(n)}</span>' for n, c in items)
    return f'<div class="legend">{spans}</div>'


def _short_dates(d: ReportData) -> list[str]:
    if d.bucket in ("hour", "6 hours"):
        return [b.start[5:16].replace("T", " ") for b in d.buckets]
    return [b.start[:10] for b in d.buckets]


def _over_time(d: ReportData) -> str:
    if not d.buckets:
        return "<section><h2>Over time</h2><p>No records.</p></section>"
    cols = _short_dates(d)
    decisions = [(k, DECISION_COLOURS[k], [getattr(b, k) for b in d.buckets])
                 for k in ("deny", "escalate", "repair")]
    rules = [(s.name, s.counts) for s in d.rule_series]
    agents = [(s.name, s.counts) for s in d.agent_series]
    return (
        f"<section><h2>Over time <small>(per {escape(d.bucket)})</small></h2>"
        "<h3>Denials, escalations and repairs</h3>"
        + _legend((k, c) for k, c, _ in decisions)
        + stacked_columns("chart-decisions", "violations over time", cols, decisions)
        + "<h3>Violations by rule</h3>"
        + _legend((n, PALETTE[i % len(PALETTE)]) for i, (n, _) in enumerate(rules))
        + lines("chart-rules-time", "violations by rule over time", cols, rules)
        + "<h3>Violations by agent</h3>"
        + _legend((n, PALETTE[i % len(PALETTE)]) for i, (n, _) in enumerate(agents))
        + lines("chart-agents-time", "violations by agent over time", cols, agents)
        + "</section>"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: int = 0) -> str:
    # The last ``numeric`` columns are right-aligned counts.
    def cell(tag: str, i: int, text: str) -> str:
        cls = ' class="num"' if i >= len(head) - numeric else ""
        return f"<{tag}{cls}>{text}</{tag}>"

    th = "".join(cell("th", i, escape(h)) for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _by_rule_and_agent(d: ReportData) -> str:
    seg = ("deny", "escalate", "repair")
    rule_rows = [(r.rule, [(k, DECISION_COLOURS[k], getattr(r, k)) for k in seg])
                 for r in d.rules]
    agent_rows = [(a.agent, [(k, DECISION_COLOURS[k], getattr(a, k)) for k in seg])
                  for a in d.agents]
    rules = _table(("rule", "deny", "escalate", "repair", "total"), (
        (escape(r.rule), _n(f"rule-{r.rule}-deny", r.deny),
         _n(f"rule-{r.rule}-escalate", r.escalate), _n(f"rule-{r.rule}-repair", r.repair),
         _n(f"rule-{r.rule}-total", r.total)) for r in d.rules), numeric=4)
    agents = _table(("agent", "proposals", "allow", "deny", "escalate", "repair"), (
        (escape(a.agent), _n(f"agent-{a.agent}-proposals", a.proposals),
         _n(f"agent-{a.agent}-allow", a.allow), _n(f"agent-{a.agent}-deny", a.deny),
         _n(f"agent-{a.agent}-escalate", a.escalate), _n(f"agent-{a.agent}-repair", a.repair))
        for a in d.agents), numeric=5)
    legend = _legend((k, DECISION_COLOURS[k]) for k in seg)
    return (
        "<section><h2>By rule</h2>" + legend
        + hbars("chart-rules", "violations by rule", rule_rows) + rules + "</section>"
        + "<section><h2>By agent</h2>" + legend
        + hbars("chart-agents", "violations by agent", agent_rows) + agents + "</section>"
    )


def _oversight(d: ReportData) -> str:
    lat = d.approval_latency
    stats = _table(("answered", "pending", "median", "p90", "max"), [(
        _n("latency-count", lat.count), _n("latency-pending", lat.pending),
        _seconds("latency-median-2", lat.median_s), _seconds("latency-p90", lat.p90_s),
        _seconds("latency-max", lat.max_s))], numeric=5)
    histogram = hbars("chart-latency", "approval latency", [
        (label, [("approvals", "#3f78b5", n)]) for label, n in lat.histogram])
    rows = (
        (_when(a.requested_at), _when(a.answered_at) if a.answered_at else "pending",
         escape(a.approver or "-"),
         ('<span class="allow">approved</span>' if a.approved else
          '<span class="deny">rejected</span>' if a.approved is False else "-"),
         escape(f"{a.agent or '?'} → {a.tool or '?'}"), escape(", ".join(a.rules)),
         f"<code>{escape(a.session)}</code>", _duration(a.latency_s))
        for a in d.approvals)
    table = _table(("requested", "answered", "by", "answer", "action", "rules", "session",
                    "latency"), rows, numeric=1)
    return ("<section><h2>Human oversight (EU AI Act Art. 14)</h2>"
            "<p>Who approved what, and when. Every escalated action and its answer.</p>"
            f"{stats}<h3>Approval latency</h3>{histogram}"
            f"<h3>People verifying results</h3>{_persons(d)}"
            f'<h3>Approvals (<span data-testid="approvals-rows">{len(d.approvals)}</span>)</h3>'
            f"{table}</section>")


def _persons(d: ReportData) -> str:
    return _table(("person", "approved", "rejected", "first", "last"), (
        (escape(p.who), _n(f"person-{p.who}-approved", p.approvals),
         _n(f"person-{p.who}-rejected", p.rejections), _when(p.first_seen),
         _when(p.last_seen)) for p in d.persons), numeric=0)


def _record_keeping(d: ReportData) -> str:
    specs = _table(("spec", "version", "content hash", "first decision", "last decision",
                    "decisions"), (
        (escape(s.name), _fmt(s.version), f"<code>{escape((s.hash or '-')[:23])}</code>",
         _when(s.first_seen), _when(s.last_seen), _n(f"spec-{s.name}-{s.version}", s.decisions))
        for s in d.specs), numeric=1)
    rows = [
        ("Period of use (Art. 12(3)(a))", f"{_when(d.period_start)} to "
         f"{_when(d.period_end)}, {_n('active-days', d.active_days)} active day(s)"),
        ("Decisions traceable to their inputs (Art. 12(3)(c))",
         f"{_n('decisions-with-inputs', d.decisions_with_inputs)} of "
         f"{_fmt(d.decisions_total)}"),
        ("Proposals using untrusted tool output", _n("untrusted-inputs", d.untrusted_inputs_used)),
        ("Persons verifying results (Art. 12(3)(d))",
         escape(", ".join(p.who for p in d.persons) or "none")),
        ("Record kinds", escape(", ".join(f"{k}: {n:,}" for k, n in d.kinds))),
        ("Tools proposed", escape(", ".join(f"{k}: {n:,}" for k, n in d.tools))),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return ("<section><h2>Record-keeping (EU AI Act Art. 12)</h2>"
            f"<table>{body}</table><h3>Spec versions in force</h3>{specs}</section>")


def _violation(v: Violation, *, open_: bool) -> str:
    inputs = "".join(
        f'<li{" class=untrusted" if s.untrusted else ""}>{"· " * (s.depth - 1)}'
        f"{escape(s.summary)} · {_when(s.timestamp)} <code>{escape(s.record_id[:8])}</code>"
        "</li>" for s in v.inputs)
    return (
        f'<details data-testid="violation" data-record="{escape(v.record_id)}"'
        f'{" open" if open_ else ""}><summary>{_when(v.timestamp)} · '
        f"<code>{escape(v.session)}</code> · "
        f'<b class="{escape(v.decision)}">{escape(v.decision.upper())}</b> '
        f"{escape(v.agent or '?')} → {escape(v.tool or '?')} · "
        f"{escape(', '.join(v.rule_ids))} · {escape(v.outcome)}</summary>"
        f"<div>{escape(v.message or '')} <small>({escape(v.spec or 'no spec')}, record "
        f"<code>{escape(v.record_id)}</code>)</small></div>"
        f'<ol class="inputs">{inputs}</ol></details>'
    )


def _violations(d: ReportData) -> Iterator[str]:
    # Open one example of each story (an untrusted input, a denial, a repair) so that a
    # reader sees a provenance at once; the rest stay folded.
    examples = (lambda v: any(s.untrusted for s in v.inputs), lambda v: v.decision == "deny",
                lambda v: v.decision == "repair")
    firsts = {found.record_id for pick in examples
              if (found := next((v for v in d.violations if pick(v)), None)) is not None}
    note = ""
    if len(d.violations) < d.violations_total:
        note = (f"<p>Listing the first {len(d.violations):,} of {d.violations_total:,}; "
                "the JSON report or a larger limit lists every one.</p>")
    yield (
        "<section id='violations'><h2>Violations and their provenance</h2>"
        "<p>Every denial, escalation and repair, with the records that led to it "
        "(untrusted inputs in red).</p>" + note +
        "<p><input type='search' id='vfilter' placeholder='filter: rule, agent, session…' "
        f"aria-label='filter violations'> <span id='vcount'>{len(d.violations)}</span> shown"
        "</p>"
    )
    for v in d.violations:
        yield _violation(v, open_=v.record_id in firsts)
    yield "</section>"
