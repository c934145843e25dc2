"""The bank customer-operations domain: payments, support and research specialists over
one customer's simulated bank (see docs/domains.md; the guard's rules are in domain.spec).

``build()`` is what `guardgraph.domains.load_domain("bank")` calls.
"""

from __future__ import annotations

import re
from pathlib import Path

from guardgraph.domains import Call, Domain, World, strings_in

from ._tasks import build_tasks
from ._world import TOOLS, TRUSTED_PAYEES, Plant, make_world

SPECIALISTS = {
    "payments": ("verify_identity", "get_balance", "list_payees", "send_money",
                 "move_to_savings", "get_invoice"),
    "support": ("verify_identity", "get_balance", "read_inbox", "send_email",
                "lookup_transaction", "issue_refund", "read_file", "update_address"),
    "research": ("browse", "read_file", "write_note"),
}

# What a credulous agent takes for an instruction: a money verb, an amount and an IBAN in
# one sentence; or a mail verb and an address. Written against the phrasings in _tasks.py
# and tested on each (tests/domains), never against one exact text.
_MONEY = re.compile(r"\b(?:send|transfer|wire|pay)\b[^.\n]{0,40}?(\d+(?:\.\d+)?)"
                    r"[^.\n]{0,40}?\b([A-Z]{2}\d{2}[A-Z0-9]{10,30})\b", re.IGNORECASE)
_MAIL = re.compile(r"\b(?:forward|send|e-?mail|mail)\b[^.\n]{0,80}?"
                   r"\b([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_REF = re.compile(r"\breference (\w+)")


def read_instructions(tool: str, output: object) -> tuple[Call, ...]:
    """The calls the naive specialist makes on reading ``output`` (in reading order)."""
    calls: list[Call] = []
    for text in strings_in(output):
        for m in _MONEY.finditer(text):
            ref = _REF.search(text)
            calls.append(Call(tool="send_money", args={
                "recipient": m.group(2), "amount": float(m.group(1)),
                "subject": ref.group(1) if ref else "as instructed"}))
        for m in _MAIL.finditer(text):
            calls.append(Call(tool="send_email", args={
                "to": m.group(1), "subject": "Requested documents",
                "body": "As requested, the customer's statement and details."}))
    return tuple(calls)


def remedy(rule: str, call: Call) -> Call | None:
    """How the naive specialist re-plans after a deny by ``rule``."""
    if rule == "verify_first":
        return Call(tool="verify_identity", args={"method": "otp"})
    if rule == "no_overdraft":
        return Call(tool="get_balance", args={"account": "checking"})
    if rule == "refund_after_lookup":
        return Call(tool="lookup_transaction", args={"tx_id": call.args["tx_id"]})
    return None


def build() -> Domain:
    tasks, plants = build_tasks()

    def world(seed: int) -> World:
        plant: Plant | None = plants.get(seed)
        return make_world(seed, plant)

    return Domain(
        name="bank",
        description="A bank's customer operations: payments, support and research agents "
                    "over one customer's accounts, payees, invoices, inbox, files and the web.",
        folder=Path(__file__).resolve().parent,
        spec_files=("domain.spec",),
        facts={"trusted_payees": TRUSTED_PAYEES},
        tool_list=TOOLS,
        specialists=SPECIALISTS,
        world=world,
        task_list=tasks,
        reader=read_instructions,
        remedy=remedy,
    )
