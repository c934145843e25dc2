"""Diagnostics as values, and the one registry of their stable codes.

Library code never prints a diagnostic; it returns them. The CLI renders them (human,
concise, JSON). Codes: GG1xx syntax and files, GG2xx names and types, GG3xx static
checks, GG4xx guard, GG5xx audit. A code, once published, keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from guardgraph.specs.ast import Span

__all__ = ["CODES", "Code", "Diagnostic", "Severity", "code"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    code: str
    name: str
    severity: Severity
    summary: str


def _registry(*codes: Code) -> dict[str, Code]:
    table: dict[str, Code] = {}
    for c in codes:
        if c.code in table:  # pragma: no cover - guards the literal below
            raise ValueError(f"duplicate diagnostic code {c.code}")
        table[c.code] = c
    return table


E, W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = _registry(
    # GG1xx: syntax and files
    Code(code="GG101", name="unexpected-token", severity=E, summary="unexpected token"),
    Code(code="GG102", name="unexpected-character", severity=E, summary="unexpected character"),
    Code(code="GG103", name="unterminated-string", severity=E, summary="unterminated string"),
    Code(code="GG104", name="missing-header", severity=E,
         summary="a spec file must start with `spec NAME version N`"),
    Code(code="GG105", name="bad-literal", severity=E, summary="malformed number or duration"),
    Code(code="GG106", name="bad-escape", severity=E, summary="invalid escape in string"),
    Code(code="GG107", name="too-many-errors", severity=E, summary="too many errors; stopped"),
    Code(code="GG110", name="include-not-found", severity=E, summary="included file not found"),
    Code(code="GG111", name="include-cycle", severity=E, summary="include cycle"),
    Code(code="GG112", name="unreadable-file", severity=E,
         summary="file cannot be read or is not UTF-8"),
    # GG2xx: names and types
    Code(code="GG201", name="unknown-name", severity=E, summary="unknown name"),
    Code(code="GG202", name="unknown-tool", severity=E, summary="unknown tool"),
    Code(code="GG203", name="type-mismatch", severity=E, summary="type mismatch"),
    Code(code="GG204", name="wrong-arity", severity=E, summary="wrong number of arguments"),
    Code(code="GG205", name="duplicate-rule", severity=E, summary="duplicate rule name"),
    Code(code="GG206", name="duplicate-declaration", severity=E,
         summary="name declared twice"),
    Code(code="GG207", name="unknown-field", severity=E, summary="unknown field"),
    Code(code="GG208", name="unknown-type", severity=E, summary="unknown type"),
    Code(code="GG209", name="out-of-scope", severity=E,
         summary="name not available in this context"),
    Code(code="GG210", name="bad-regex", severity=E, summary="invalid regular expression"),
    Code(code="GG211", name="bad-repair", severity=E,
         summary="repair names an argument that cannot be repaired"),
    Code(code="GG212", name="duplicate-parameter", severity=E, summary="parameter declared twice"),
    Code(code="GG213", name="bad-untrusted-field", severity=E,
         summary="untrusted field is not a field of the tool's output"),
    Code(code="GG214", name="not-constant", severity=E,
         summary="a const must be a literal or a set/list of literals"),
    Code(code="GG215", name="bad-window", severity=E,
         summary="a duration is only valid as a `within` window"),
    Code(code="GG216", name="bad-target", severity=E,
         summary="`route` and `any` cannot be mixed with tool names"),
    Code(code="GG217", name="nested-too-deeply", severity=E,
         summary="expression nested too deeply to check"),
    Code(code="GG218", name="confusable-tools", severity=E,
         summary="two tools are the same name after NFKC and case folding"),
    Code(code="GG219", name="shadows-context", severity=E,
         summary="a tool argument is named like a context name"),
    # GG3xx: static checks (lint)
    Code(code="GG301", name="never-passes", severity=E,
         summary="rule can never pass when it applies"),
    Code(code="GG302", name="never-applies", severity=W, summary="rule never applies"),
    Code(code="GG303", name="tool-blocked", severity=E,
         summary="rules together block every call of a tool"),
    Code(code="GG304", name="redundant-rule", severity=W,
         summary="rule is implied by another rule"),
    Code(code="GG305", name="contradictory-rules", severity=E,
         summary="rules contradict each other on every applicable call"),
    Code(code="GG306", name="overlapping-verdicts", severity=W,
         summary="a call is both denied and escalated by different rules"),
    Code(code="GG307", name="unreachable-repair", severity=W,
         summary="repair clause can never produce a compliant call"),
    Code(code="GG308", name="unused-fact", severity=W, summary="fact is never used"),
    Code(code="GG309", name="unused-tool", severity=W, summary="tool has no rule"),
    Code(code="GG310", name="solver-unknown", severity=W,
         summary="the solver could not decide (unknown or time-out)"),
    Code(code="GG311", name="always-passes", severity=W,
         summary="rule's requirement holds for every call it applies to"),
    Code(code="GG312", name="trivial-condition", severity=W,
         summary="a condition or filter is always true or always false"),
    # GG320: regexes (guardrails/_regex_notes.py)
    Code(code="GG320", name="regex-reading", severity=W,
         summary="a regex that Python's re reads otherwise, in the permissive direction"),
    # GG4xx: guard (a deny or escalate reason at run time)
    Code(code="GG400", name="rule-violated", severity=E, summary="a rule did not hold"),
    Code(code="GG401", name="unknown-tool-call", severity=E, summary="call of an undeclared tool"),
    Code(code="GG402", name="missing-argument", severity=E, summary="required argument missing"),
    Code(code="GG403", name="extra-argument", severity=E, summary="undeclared argument"),
    Code(code="GG404", name="bad-argument", severity=E,
         summary="argument does not have the declared type"),
    Code(code="GG405", name="fact-failed", severity=E, summary="a fact provider failed"),
    Code(code="GG406", name="fact-timeout", severity=E, summary="a fact provider timed out"),
    Code(code="GG407", name="spec-not-loaded", severity=E, summary="the spec did not load"),
    Code(code="GG408", name="internal-error", severity=E, summary="internal guard error"),
    Code(code="GG409", name="solver-undecided", severity=E,
         summary="the solver returned unknown or timed out"),
    Code(code="GG410", name="bad-trace", severity=E, summary="malformed trace line"),
    Code(code="GG411", name="bad-facts", severity=E, summary="malformed facts file"),
    # GG412-GG416: session history and the shape of an action (guardrails/guard.py)
    Code(code="GG412", name="call-id-reused", severity=E,
         summary="a call id already committed for another action"),
    Code(code="GG413", name="bad-timestamp", severity=E,
         summary="check time before the last committed event, or beyond the clock skew"),
    Code(code="GG414", name="session-state", severity=E,
         summary="session state dropped, missing, rewound or corrupt"),
    Code(code="GG415", name="bad-action", severity=E,
         summary="an action, approval or verdict of the wrong shape or kind"),
    Code(code="GG416", name="route-unspecified", severity=E,
         summary="a route on a spec that has no route rules"),
    # GG420-GG429: values that cannot be taken as given (guardrails/_freeze.py)
    Code(code="GG420", name="bad-string", severity=E,
         summary="a string that is not valid Unicode (a lone surrogate)"),
    Code(code="GG421", name="inexact-value", severity=E,
         summary="a value with no exact built-in reading (an object, NaN, a lossy number)"),
    Code(code="GG422", name="value-too-large", severity=E,
         summary="a value beyond the size or nesting caps"),
    # GG5xx: audit
    Code(code="GG501", name="chain-broken", severity=E,
         summary="a record does not commit to its predecessor"),
    Code(code="GG502", name="record-hash-mismatch", severity=E,
         summary="a record's content does not match its hash"),
    Code(code="GG503", name="tree-head-mismatch", severity=E,
         summary="a signed tree head does not match the log"),
    Code(code="GG504", name="bad-signature", severity=E, summary="a signature does not verify"),
    Code(code="GG505", name="inconsistent-checkpoints", severity=E,
         summary="two checkpoints contradict each other (fork or rollback)"),
    Code(code="GG506", name="bad-proof", severity=E,
         summary="an inclusion or consistency proof does not verify"),
    Code(code="GG507", name="bad-sequence", severity=E,
         summary="records are missing, duplicated or out of order"),
)


def code(code_id: str) -> Code:
    """The registered code; an unknown id is a programming error."""
    return CODES[code_id]


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """A finding about the user's input.

    ``span`` points at the primary location; ``help`` says what was expected or how to
    fix it; ``notes`` carry secondary facts (a witness action, the other rule's place).
    ``data`` carries machine-readable extras (e.g. a lint witness) as JSON-safe pairs.
    """

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[str, ...] = ()
    severity: Severity | None = None
    data: tuple[tuple[str, object], ...] = field(default=())

    @property
    def level(self) -> Severity:
        return self.severity or CODES[self.code].severity

    @property
    def name(self) -> str:
        return CODES[self.code].name
