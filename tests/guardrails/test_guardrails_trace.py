"""The trace line format: strict, and every error names the field."""

from __future__ import annotations

import pytest

from guardgraph.guardrails import TraceError, parse_trace_line
from guardgraph.guardrails.trace import TraceCall, TraceResult, TraceUserMessage

LINE = (
    '{"session": "s1", "context": {"user": "u1", "now": "2026-05-01T10:00:00Z", "facts": {}},'
    ' "events": [{"kind": "user_message", "content": "Pay my rent"},'
    ' {"kind": "tool_call", "id": "c1", "agent": "payments", "tool": "get_balance", "args": {}},'
    ' {"kind": "tool_result", "call_id": "c1", "output": 1810.0, "trusted": true}]}'
)


def test_design_example_parses_into_typed_events() -> None:
    line = parse_trace_line(LINE)
    assert line.session == "s1" and line.context.user == "u1"
    kinds = [type(e) for e in line.events]
    assert kinds == [TraceUserMessage, TraceCall, TraceResult]
    assert line.context.now is not None and line.context.now.year == 2026


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            '{"session": "s", "events": [{"kind": "tool_call", "tool": "t"}]}',
            "events.0.tool_call.id",
        ),
        ('{"session": "s", "events": [{"kind": "teleport"}]}', "events.0"),
        ('{"session": 7, "events": []}', "session"),
        ('{"session": "s", "events": [], "extra": 1}', "extra"),
        ("{not json", ""),
    ],
)
def test_bad_lines_name_what_is_wrong(text: str, where: str) -> None:
    with pytest.raises(TraceError) as info:
        parse_trace_line(text)
    assert str(info.value).startswith(where)
