"""Rendering diagnostics: human (Ruff/rustc style), concise, JSON; colour on demand."""

from __future__ import annotations

import json

from guardgraph.specs import Diagnostic, Severity, render_concise, render_human, render_json
from guardgraph.specs.ast import Span

SOURCE = 'spec bank version 1\n\n\n\n\n\nrule r:\n  require amount <= "5000"\n'
TYPE_ERROR = Diagnostic(
    code="GG203",
    message="type mismatch: expected real, got str",
    span=Span(file="bank.spec", line=8, column=21, end_line=8, end_column=27),
    help="write the number without quotes: 5000",
    notes=("`amount` is declared real at tools.spec:3:17",),
    data=(("label", "expected real"),),
)


def test_human() -> None:
    out = render_human([TYPE_ERROR], {"bank.spec": SOURCE}, color=False)
    assert out == (
        "error[GG203]: type mismatch: expected real, got str\n"
        " --> bank.spec:8:21\n"
        "  |\n"
        '8 |   require amount <= "5000"\n'
        "  |                     ^^^^^^ expected real\n"
        "  |\n"
        "  = note: `amount` is declared real at tools.spec:3:17\n"
        "  = help: write the number without quotes: 5000\n"
    )


def test_human_gutter_grows_with_line_numbers_and_blocks_are_separated() -> None:
    source = "\n" * 11 + "x = 1\n"
    far = Diagnostic(
        code="GG308",
        message="fact is never used",
        span=Span(file="f.spec", line=12, column=1, end_line=12, end_column=2),
    )
    out = render_human([far, far], {"f.spec": source}, color=False)
    block = "warning[GG308]: fact is never used\n  --> f.spec:12:1\n   |\n12 | x = 1\n   | ^\n"
    assert out == block + "\n" + block


def test_human_without_span_or_source() -> None:
    bare = Diagnostic(code="GG112", message="cannot read x.spec", help="check the path")
    assert render_human([bare], {}, color=False) == (
        "error[GG112]: cannot read x.spec\n  = help: check the path\n"
    )
    unknown = Diagnostic(
        code="GG101",
        message="m",
        span=Span(file="gone.spec", line=3, column=2, end_line=3, end_column=3),
    )
    assert render_human([unknown], {}, color=False) == "error[GG101]: m\n --> gone.spec:3:2\n"


def test_caret_counts_display_width_of_tabs_and_wide_characters() -> None:
    source = 'spec t version 1\n\tconst 名前 = "x" @\n'
    d = Diagnostic(
        code="GG102",
        message="unexpected character `@`",
        span=Span(file="t.spec", line=2, column=17, end_line=2, end_column=18),
    )
    lines = render_human([d], {"t.spec": source}, color=False).splitlines()
    code_line, caret_line = lines[3], lines[4]
    assert code_line == '2 |     const 名前 = "x" @'
    # the caret sits under the `@`: tab = 4 cells, each CJK character = 2 cells
    assert caret_line.index("^") == len("2 |     const ") + 4 + len(' = "x" ')


def test_multiline_span_marks_to_the_end_of_its_first_line() -> None:
    d = Diagnostic(
        code="GG301",
        message="rule can never pass",
        span=Span(file="b.spec", line=7, column=1, end_line=8, end_column=10),
    )
    lines = render_human([d], {"b.spec": SOURCE}, color=False).splitlines()
    assert lines[4] == "  | " + "^" * len("rule r:")


def test_color_uses_ansi_only_when_asked() -> None:
    plain = render_human([TYPE_ERROR], {"bank.spec": SOURCE}, color=False)
    colored = render_human([TYPE_ERROR], {"bank.spec": SOURCE}, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;31merror[GG203]\x1b[0m" in colored
    warning = Diagnostic(code="GG203", message="m", severity=Severity.WARNING)
    assert render_human([warning], {}, color=True).startswith("\x1b[1;33mwarning[GG203]")


def test_concise() -> None:
    bare = Diagnostic(code="GG112", message="cannot read x.spec")
    assert render_concise([TYPE_ERROR, bare]) == (
        "bank.spec:8:21: error[GG203] type mismatch: expected real, got str\n"
        "error[GG112] cannot read x.spec\n"
    )


def test_json() -> None:
    witness = Diagnostic(
        code="GG301",
        message="m",
        data=(("witness", {"amount": 5001, "tags": frozenset({"b", "a"})}), ("seen", (1, 2))),
    )
    payload = json.loads(render_json([TYPE_ERROR, witness]))
    assert payload[0] == {
        "code": "GG203",
        "name": "type-mismatch",
        "severity": "error",
        "message": "type mismatch: expected real, got str",
        "file": "bank.spec",
        "line": 8,
        "column": 21,
        "end_line": 8,
        "end_column": 27,
        "help": "write the number without quotes: 5000",
        "notes": ["`amount` is declared real at tools.spec:3:17"],
        "data": {"label": "expected real"},
    }
    assert payload[1]["file"] is None and payload[1]["line"] is None
    assert payload[1]["data"] == {"witness": {"amount": 5001, "tags": ["a", "b"]}, "seen": [1, 2]}
    assert json.loads(render_json([])) == []
