"""What real tool catalogues need from the types (issue #13): an opaque `json` type for
arguments the spec does not constrain, and fields and parameters named like keywords."""

from __future__ import annotations

from guardgraph.guardrails.lint import lint
from guardgraph.specs import format_spec, load_text, parse

CATALOGUE = """spec cat version 1
type Event = {type: str, from: str, on: bool, payload: json}
tool post(url: str, options: json?, body: json, type: str) -> Event
rule r:
  on post
  when present(options)
  require not tainted(body) and result(post).from == "me" and args.type != "x"
"""


def test_keyword_named_fields_and_parameters_parse_and_format() -> None:
    spec, diags = parse(CATALOGUE)
    assert spec is not None, [d.message for d in diags]
    text = format_spec(spec)
    assert "type Event = {type: str, from: str, on: bool, payload: json}" in text
    assert "args.type" in text and "result(post).from" in text
    again, _ = parse(text)
    assert again == spec


def test_json_arguments_load_compile_and_lint_with_null_witnesses() -> None:
    result = load_text(CATALOGUE)
    assert result.spec is not None, [d.message for d in result.diagnostics]
    assert lint(result.spec) == ()
    never = load_text(CATALOGUE.replace('args.type != "x"', "len(url) < 0"))
    assert never.spec is not None
    (finding,) = [d for d in lint(never.spec) if d.code == "GG301"]
    assert any("body=null" in n for n in finding.notes), finding.notes


def test_json_values_are_opaque_to_every_operator() -> None:
    for require in ('body == "x"', "body in {1}", "len(body) > 0", "body.x == 1",
                    'startswith(body, "a")', "body + 1 > 0"):
        result = load_text(CATALOGUE.replace('args.type != "x"', require))
        assert result.spec is None, require
        assert {d.code for d in result.diagnostics} <= {"GG203", "GG207"}, (
            require, [d.message for d in result.diagnostics])


def test_a_keyword_is_still_a_keyword_where_a_name_cannot_stand() -> None:
    _, diags = parse("spec s version 1\ntool f(x: str)\nrule type:\n  on f\n  require true\n")
    assert diags and diags[0].code == "GG101"


def test_the_guard_accepts_any_json_value_for_a_json_argument() -> None:
    from datetime import UTC, datetime

    from guardgraph.guardrails import Action, Decision, Guard, Policy, Session

    guard = Guard(Policy.from_text(CATALOGUE.replace("  when present(options)\n", "")))
    session = Session(id="s", now=datetime(2026, 5, 1, tzinfo=UTC))
    args = {"url": "https://x", "body": {"a": [1, {"b": None}]}, "type": "t"}
    verdict = guard.evaluate(Action(tool="post", args=args, call_id="c1"), session)
    # result(post) is undefined before the first call, so the rule denies; the json
    # argument itself is accepted (no GG404)
    assert verdict.decision is Decision.DENY and verdict.rules == ("r",)
