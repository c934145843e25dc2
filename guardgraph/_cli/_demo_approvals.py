"""Who answers the demo's escalations: an approvals policy (a JSON file, or the built-in
one), or a human at the terminal (``--interactive``).

The file holds an approver's name and answers tried in order; an answer applies when each
rule it names is among the escalation's rules (and its tool, when given, is the call's)::

    {"approver": "ops-oncall",
     "answers": [
       {"rules": ["no_injected_recipient"], "approved": false,
        "reason": "the payee came from untrusted content"},
       {"rules": ["new_payee_needs_approval"], "approved": true,
        "reason": "the customer typed this payee"}]}

An escalation no answer covers is rejected (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Answer", "ApprovalPolicy", "ask_terminal", "load_policy_file"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    rules: frozenset[str]
    approved: bool
    reason: str
    tool: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalPolicy:
    approver: str
    answers: tuple[Answer, ...]

    def answer(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The resume value for one approval request."""
        rules = {str(r) for r in request.get("rules", ())}
        for a in self.answers:
            if a.rules <= rules and (a.tool is None or a.tool == request.get("tool")):
                return {"approved": a.approved, "approver": self.approver, "reason": a.reason}
        return {"approved": False, "approver": self.approver,
                "reason": "no answer in the approvals policy covers this escalation"}


BUILT_IN = ApprovalPolicy(approver="ops-oncall", answers=(
    Answer(rules=frozenset({"no_injected_recipient"}), approved=False,
           reason="the payee came from untrusted content"),
    Answer(rules=frozenset({"no_injected_email_recipient"}), approved=False,
           reason="the address came from untrusted content"),
    Answer(rules=frozenset({"new_payee_needs_approval"}), approved=True,
           reason="the customer typed this payee"),
))


def load_policy_file(path: Path) -> ApprovalPolicy:
    """Read an approvals policy; ValueError naming the file and the field when malformed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the approvals policy: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("approver"), str) \
            or not isinstance(doc.get("answers"), list):
        raise ValueError(f"{path}: expected an object with 'approver' (str) and 'answers' "
                         "(list)")
    answers = []
    for i, item in enumerate(doc["answers"]):
        where = f"{path}: answers[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("approved"), bool):
            raise ValueError(f"{where}: expected an object with 'approved' (bool)")
        rules = item.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ValueError(f"{where}: 'rules' must be a list of rule names")
        tool = item.get("tool")
        if tool is not None and not isinstance(tool, str):
            raise ValueError(f"{where}: 'tool' must be a tool name")
        answers.append(Answer(rules=frozenset(rules), approved=item["approved"],
                              reason=str(item.get("reason", "")), tool=tool))
    return ApprovalPolicy(approver=doc["approver"], answers=tuple(answers))


def ask_terminal(request: Mapping[str, Any], console: Any) -> dict[str, Any]:
    """Ask the person at the terminal about one request."""
    from rich.prompt import Confirm, Prompt

    args = json.dumps(request.get("args", {}), ensure_ascii=False)
    console.print(f"\n[bold]approval needed[/bold] for {request.get('agent')}: "
                  f"{request.get('tool')}({args})")
    console.print(f"  rules: {', '.join(request.get('rules', ()))}")
    console.print(f"  why:   {request.get('message')}")
    approved = Confirm.ask("  approve?", default=False, console=console)
    reason = Prompt.ask("  reason", default="", console=console)
    return {"approved": approved, "approver": "terminal", "reason": reason or
            ("approved at the terminal" if approved else "rejected at the terminal")}
