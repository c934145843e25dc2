"""Private: the long form of every diagnostic and guard code, for `guardgraph explain`
and docs/errors.md.

The registry (`guardgraph.specs.CODES`) holds each code's name, severity and summary;
this table adds what it means, how to fix it, and an example. An example is an input, not
a transcript: ``explain`` runs it (the spec front end, lint, or the guard on the calls
given) and prints what guardgraph says, so the output shown can never go stale.
``tests/cli/test_cli_explain.py`` checks that every registered code has an entry, that each
example produces its code, and that docs/errors.md is what ``guardgraph explain --all
--format markdown`` prints.
"""

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EXPLANATIONS", "Example", "Explanation", "Kind"]


class Kind(StrEnum):
    SPEC = "spec"  # load the spec text: a GG1xx / GG2xx diagnostic
    LINT = "lint"  # load and lint it: a GG3xx finding
    GUARD = "guard"  # load it, then check and commit ``calls`` in one session: a GG4xx
    OUTPUT = "output"  # a transcript of a command (inputs that a table cannot hold)


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    kind: Kind
    text: str
    # For GUARD: (tool, args as JSON[, options as JSON]) per call, in order; options:
    # "call_id", "minutes" (the call's time after the example's clock), "route" (a route
    # to that target instead of a tool call), "drop" (drop the session's state first).
    calls: tuple[tuple[str, ...], ...] = ()
    facts: str = "{}"  # For GUARD: the fact values, as JSON
    shown: str = ""  # what to print instead of the last line of ``text`` (a huge input)


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    code: str
    means: str
    fix: str
    example: Example


def _spec(text: str, *, shown: str = "") -> Example:
    return Example(kind=Kind.SPEC, text=text, shown=shown)


def _lint(text: str) -> Example:
    return Example(kind=Kind.LINT, text=text)


def _guard(text: str, *calls: tuple[str, ...], facts: str = "{}") -> Example:
    return Example(kind=Kind.GUARD, text=text, calls=calls, facts=facts)


def _output(text: str) -> Example:
    return Example(kind=Kind.OUTPUT, text=text)


_PAY = "spec payments version 1\n\ntool send_money(recipient: str, amount: real)\n"
_READ = "spec files version 1\n\ntool read_file(path: str) -> str untrusted\n"

_ENTRIES: tuple[Explanation, ...] = (
    # ---------------------------------------------------------------- GG1xx: syntax
    Explanation(
        code="GG101", means="The parser met a token that cannot continue the spec at that "
        "point: a keyword out of place, a missing `:` after a rule name, an operator where "
        "a value belongs.",
        fix="Read the `expected` list in the message; compare with docs/language.md.",
        example=_spec(_PAY + "\nrule cap\n  on send_money\n  require amount <= 5000\n")),
    Explanation(
        code="GG102", means="A character that no token of the language starts with (`$`, "
        "`;`, a smart quote pasted from a document).",
        fix="Delete it, or put it inside a string literal.",
        example=_spec(_PAY + "\nrule cap:\n  on send_money\n  require amount <= $5000\n")),
    Explanation(
        code="GG103", means="A string literal runs to the end of its line without its "
        "closing quote. Strings cannot span lines.",
        fix="Close the string on the same line; write a newline as `\\n`.",
        example=_spec(_PAY + '\nrule r:\n  on send_money\n  require recipient != "DE89\n')),
    Explanation(
        code="GG104", means="Every spec file starts with its header, `spec NAME version N`, "
        "which names the policy and its version in verdicts and audit records.",
        fix="Add the header as the first line.",
        example=_spec("tool send_money(recipient: str, amount: real)\n")),
    Explanation(
        code="GG105", means="A number or a duration that does not read as one: two decimal "
        "points, a unit the language does not know (durations are s, m, h, d).",
        fix="Write numbers as `5000` or `0.5`, durations as `90s`, `15m`, `24h`, `7d`.",
        example=_spec(_PAY + "\nrule budget:\n  on send_money\n"
                      "  require sum(send_money.amount within 24x) <= 10000\n")),
    Explanation(
        code="GG106", means="A backslash in a string that starts no known escape. Known: "
        "`\\\\`, `\\\"`, `\\n`, `\\t`, `\\r`, `\\uXXXX`.",
        fix="Double the backslash for a literal one (`\"C:\\\\\\\\tmp\"`).",
        example=_spec(_READ + '\nrule r:\n  on read_file\n  require path != "C:\\q"\n')),
    Explanation(
        code="GG107", means="The file holds so many errors that the parser stopped "
        "reporting them; the ones shown come first in the file.",
        fix="Fix the first errors and run again; later ones are often consequences.",
        example=_spec("spec noisy version 1\n" + "rule ?\n" * 60)),
    Explanation(
        code="GG110", means="An `include` names a file that does not exist. Included paths "
        "are relative to the including file's directory.",
        fix="Check the path from the including file's folder.",
        example=_spec('spec bank version 1\n\ninclude "no-such-tools.spec"\n')),
    Explanation(
        code="GG111", means="Files include each other in a circle; a spec must be a tree "
        "of includes.",
        fix="Move the shared declarations into a third file that both include.",
        example=_output('$ cat a.spec\nspec a version 1\ninclude "b.spec"\n$ cat b.spec\n'
                        'spec b version 1\ninclude "a.spec"\n$ guardgraph lint a.spec\n'
                        'error[GG111]: include cycle: a.spec -> b.spec -> a.spec\n'
                        ' --> b.spec:2:1\n  |\n2 | include "a.spec"\n  | ^^^^^^^^^^^^^^^^\n'
                        '  |\n  = help: move the shared declarations into a file both can '
                        'include')),
    Explanation(
        code="GG112", means="A spec file (or an included one) cannot be read, or is not "
        "UTF-8 text.",
        fix="Check the file's permissions and encoding (`file -i`); save it as UTF-8.",
        example=_output("$ guardgraph lint latin1.spec\nerror[GG112]: latin1.spec: not UTF-8 "
                        "text (invalid continuation byte at byte 28)")),
    # ---------------------------------------------------------------- GG2xx: names, types
    Explanation(
        code="GG201", means="A name that is neither an argument of the rule's tool, a "
        "fact, a const, nor a context name (agent, task, session, approved...).",
        fix="Check the spelling (the help line suggests the nearest name), or declare it.",
        example=_spec(_PAY + "\nrule cap:\n  on send_money\n  require amonut <= 5000\n")),
    Explanation(
        code="GG202", means="A rule's `on` line, an aggregate or a temporal operator names "
        "a tool that no `tool` line declares.",
        fix="Declare the tool (or include the file that does), or fix the name.",
        example=_spec(_PAY + "\nrule cap:\n  on send_mony\n  require amount <= 5000\n")),
    Explanation(
        code="GG203", means="An operator or a function got a value of another type than it "
        "needs: a string compared with a number, a number where a condition belongs.",
        fix="Use a value of the declared type (`5000`, not `\"5000\"`), or convert it.",
        example=_spec(_PAY + "\nrule cap:\n  on send_money\n  require amount <= \"5000\"\n")),
    Explanation(
        code="GG204", means="A function called with more or fewer arguments than it takes.",
        fix="See the function's signature in docs/language.md.",
        example=_spec(_PAY + "\nrule r:\n  on send_money\n"
                      "  require startswith(recipient)\n")),
    Explanation(
        code="GG205", means="Two rules share a name. Rule names identify rules in "
        "verdicts, audit records and lint findings, so they must be unique.",
        fix="Rename one of them.",
        example=_spec(_PAY + "\nrule cap:\n  on send_money\n  require amount <= 5000\n\n"
                      "rule cap:\n  on send_money\n  require amount > 0\n")),
    Explanation(
        code="GG206", means="A tool, fact, const or type is declared twice (also across "
        "included files, and for tool names that differ only in case or look-alike "
        "characters).",
        fix="Keep one declaration.",
        example=_spec(_PAY + "tool send_money(recipient: str, amount: int)\n")),
    Explanation(
        code="GG207", means="A field access names a field the record type does not have.",
        fix="Check the type's declaration for the field names.",
        example=_spec("spec shop version 1\n\ntype Order = {id: str, total: real}\n"
                      "tool refund(order: Order)\n\nrule r:\n  on refund\n"
                      "  require order.amount <= 100\n")),
    Explanation(
        code="GG208", means="A declaration uses a type name that is neither built in "
        "(str, int, real, bool, duration, set[...], list[...], json) nor declared with "
        "`type`.",
        fix="Declare the type, or use a built-in one.",
        example=_spec("spec shop version 1\n\ntool refund(order: Order)\n")),
    Explanation(
        code="GG209", means="A name that exists but not here: `target` outside an `on "
        "route` rule, a tool's arguments in a rule about another tool.",
        fix="Move the condition to a rule where the name is in scope.",
        example=_spec(_PAY + "\nrule r:\n  on send_money\n  require target == \"payments\"\n")),
    Explanation(
        code="GG210", means="A `matches` pattern that is not a valid regular expression, or "
        "uses a construct the linear-time engine refuses (backreferences, lookaround).",
        fix="Rewrite the pattern without the construct named in the message.",
        example=_spec(_PAY + '\nrule r:\n  on send_money\n'
                      '  require matches(recipient, "[A-Z")\n')),
    Explanation(
        code="GG211", means="A `repair` clause names something the guard cannot change: not "
        "an argument of the tool, or an argument of a type that cannot be repaired.",
        fix="Name an argument of the rule's tool with a numeric type.",
        example=_spec(_PAY + "\nrule cap:\n  on send_money\n  require amount <= 5000\n"
                      "  repair total\n")),
    Explanation(
        code="GG212", means="A tool declares the same parameter twice.",
        fix="Rename or remove one of them.",
        example=_spec("spec p version 1\n\ntool pay(amount: real, amount: int)\n")),
    Explanation(
        code="GG213", means="`untrusted(field)` names a field the tool's output does not "
        "have (or the output is not a record or a list of records).",
        fix="Name a field of the declared output type.",
        example=_spec("spec mail version 1\n\ntype Mail = {sender: str, body: str}\n"
                      "tool inbox() -> list[Mail] untrusted(subject)\n")),
    Explanation(
        code="GG214", means="A `const` must be a literal, or a set or list of literals, so "
        "that its value is known when the spec loads.",
        fix="Use a `fact` for values the host supplies at run time.",
        example=_spec("spec p version 1\n\nconst cap = 2 * limit\n")),
    Explanation(
        code="GG215", means="A duration appears outside a `within` window, where it would "
        "have no meaning.",
        fix="Use durations only as `within 24h` in aggregates and temporal operators.",
        example=_spec(_PAY + "\nrule r:\n  on send_money\n  require amount <= 24h\n")),
    Explanation(
        code="GG216", means="A rule's `on` line mixes `route` or `any` with tool names; a "
        "rule is about tool calls, about routing, or about every tool.",
        fix="Split it into one rule per kind of target.",
        example=_spec(_PAY + "\nrule r:\n  on route, send_money\n  require true\n")),
    Explanation(
        code="GG217", means="An expression nested so deeply that checking it would exhaust "
        "the checker's stack.",
        fix="Name parts of it with `const`, or split the rule.",
        example=_spec(_PAY + "\nrule r:\n  on send_money\n  require " + "not " * 600
                      + "true\n", shown="require not not not ... (600 times) true")),
)

_ENTRIES += (
    # ---------------------------------------------------------------- GG3xx: lint
    Explanation(
        code="GG218", means="Two tools whose names are equal after Unicode NFKC "
        "normalisation and case folding (`send_money`, `Send_Money`, a Cyrillic look-alike). "
        "Calls are matched by that canonical form, so the spec must not declare both.",
        fix="Keep one name.",
        example=_spec(_PAY + "tool Send_Money(recipient: str, amount: real)\n")),
    Explanation(
        code="GG219", means="A tool argument named like a context name (`agent`, `task`, "
        "`session`, `approved`, ...): in a rule the name would silently mean one or the other.",
        fix="Rename the argument (the host can map it, e.g. `agent_name`).",
        example=_spec("spec crm version 1\n\ntool assign(ticket: str, agent: str)\n")),
)

_ENTRIES += (
    Explanation(
        code="GG301", means="Whenever the rule applies, its requirement is false: every "
        "call it applies to is denied. Usually a `when` and a `require` that contradict.",
        fix="Look at the witness: it is a call the rule applies to; fix the bounds.",
        example=_lint(_PAY + "\nrule cap:\n  on send_money\n  when amount > 10\n"
                      "  require amount <= 5\n")),
    Explanation(
        code="GG302", means="The rule's `when` can never hold (for the tool's declared "
        "argument types), so the rule never applies.",
        fix="Fix the condition, or delete the rule.",
        example=_lint(_PAY + "\nrule r:\n  on send_money\n  when amount > 5 and amount < 2\n"
                      "  require recipient != \"\"\n")),
    Explanation(
        code="GG303", means="The rules on a tool together deny every possible call of it; "
        "no rule alone does, so each looks fine on its own.",
        fix="Read the rules named in the finding together; one bound is on the wrong side.",
        example=_lint(_PAY + "\nrule low:\n  on send_money\n  require amount < 10\n\n"
                      "rule high:\n  on send_money\n  require amount > 20\n")),
    Explanation(
        code="GG304", means="Every call this rule denies is also denied by another rule, "
        "so removing it changes nothing (it may still be wanted for its message).",
        fix="Delete it, or merge its message into the other rule.",
        example=_lint(_PAY + "\nrule cap:\n  on send_money\n  require amount <= 5000\n\n"
                      "rule tight:\n  on send_money\n  require amount <= 6000\n")),
    Explanation(
        code="GG305", means="Two rules contradict on every call they both apply to: no call "
        "can satisfy both.",
        fix="Decide which rule is right; the witness shows a call that both reach.",
        example=_lint(_PAY + "\nrule a:\n  on send_money\n  when amount > 100\n"
                      "  require recipient == \"x\"\n\nrule b:\n  on send_money\n"
                      "  when amount > 100\n  require recipient != \"x\"\n")),
    Explanation(
        code="GG306", means="Every call that one rule escalates to a human is denied by "
        "another rule anyway, so the escalation never reaches anyone.",
        fix="Narrow the deny rule, or drop the escalation.",
        example=_lint(_PAY + "\nrule cap:\n  on send_money\n  require amount <= 5000\n\n"
                      "rule review:\n  on send_money\n  when amount > 8000\n"
                      "  require approved\n  else escalate \"large transfers need review\"\n")),
    Explanation(
        code="GG307", means="A `repair` clause can never produce a compliant call: changing "
        "the named argument alone cannot satisfy the rule.",
        fix="Repair the argument the requirement constrains, or drop `repair`.",
        example=_lint(_PAY + "\nrule r:\n  on send_money\n  require recipient != \"\"\n"
                      "  repair amount\n")),
    Explanation(
        code="GG308", means="A fact is declared but no rule reads it; a host that supplies "
        "it wastes the effort, and a rule that should use it may be missing.",
        fix="Remove it, or write the rule that needs it.",
        example=_lint(_PAY + "fact trusted_payees: set[str]\n\nrule cap:\n  on send_money\n"
                      "  require amount <= 5000\n")),
    Explanation(
        code="GG309", means="A tool has no rule, so every call of it is allowed. Often a "
        "tools-only file linted alone: lint the files together (`guardgraph lint a.spec "
        "b.spec`), as the guard loads them.",
        fix="Add a rule, or lint all the spec's files in one command.",
        example=_lint(_PAY + "tool get_balance() -> real\n\nrule cap:\n  on send_money\n"
                      "  require amount <= 5000\n")),
    Explanation(
        code="GG310", means="Z3 could not decide a question within the time limit (or "
        "answered unknown); the finding it would have given is not known either way. "
        "guardgraph never treats unknown as an answer.",
        fix="Raise `--timeout`, or simplify the rule (string lengths and regexes cost most).",
        example=_output("$ guardgraph lint --timeout 1 big.spec\nwarning[GG310]: the solver "
                        "could not decide whether rule `r` can pass (unknown: timeout)")),
    Explanation(
        code="GG311", means="The requirement holds for every call the rule applies to, so "
        "the rule never fires: `x == x`, a bound looser than the argument's type, or a "
        "condition its `when` already implies.",
        fix="The rule probably compares the wrong names; fix or delete it.",
        example=_lint(_PAY + "\nrule r:\n  on send_money\n  when amount > 10\n"
                      "  require amount > 5\n")),
)

_CAP = _PAY + "\nrule cap:\n  on send_money\n  require amount <= 5000\n"
_OK = ("send_money", '{"recipient": "DE89370400440532013000", "amount": 100}')

_ENTRIES += (
    Explanation(
        code="GG312", means="A condition that is always true or always false wherever it "
        "stands: a comparison of an expression with itself, or a `where` filter that holds "
        "for every call of its tool, or for none. Inside `where`, bare names are the earlier "
        "call's arguments, so `once(lookup_order where order_id == order_id)` compares the "
        "earlier call with itself and holds for any lookup.",
        fix="To say that this call's argument equals an earlier call's, write `order_id in "
        "lookup_order.order_id`; otherwise compare the names you meant.",
        example=_lint("spec shop version 1\n\ntool lookup_order(order_id: str)\n"
                      "tool refund(order_id: str, amount: real)\n\nrule looked_up_first:\n"
                      "  on refund\n  require once(lookup_order where order_id == order_id)\n")),
)

_ENTRIES += (
    Explanation(
        code="GG320", means="A `matches` pattern that the guard reads differently from "
        "Python's `re`, where patterns are usually tried out, in the direction that makes "
        "the rule more permissive than its author would think: here `.` matches a newline "
        "too, and `\\d \\w \\s` are ASCII only.",
        fix="Say what you mean plainly: `[^\\n]` for any character but a newline, "
        "`[0-9]` for digits.",
        example=_lint("spec shell version 1\n\ntool run(cmd: str)\n\nrule versions_only:\n"
                      "  on run\n  require matches(cmd, \"[0-9]+.[0-9]+\")\n")),
)

_ENTRIES += (
    # ---------------------------------------------------------------- GG4xx: guard
    Explanation(
        code="GG400", means="A rule did not hold for the call: the verdict names the "
        "rule, its message, the part of its `require` that failed and the values it read. "
        "The decision is the rule's `else` (deny, escalate) or a repair.",
        fix="Nothing is wrong with guardgraph: the call broke the policy. The agent sees "
        "the message and can re-plan.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": 7200}'))),
    Explanation(
        code="GG401", means="A call of a tool the spec does not declare. Unknown tools are "
        "denied, never allowed; a name that only looks like a declared tool (other case, "
        "look-alike letters) is named in the hint.",
        fix="Declare the tool in the spec, or fix the agent's tool name.",
        example=_guard(_CAP, ("send_mony", '{"recipient": "DE89", "amount": 1}'))),
    Explanation(
        code="GG402", means="A declared argument is missing from the call (and is not "
        "declared optional).",
        fix="Pass every argument the tool declares.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89"}'))),
    Explanation(
        code="GG403", means="The call passes an argument the tool does not declare; the "
        "guard checks only what it knows, so it refuses what it does not.",
        fix="Declare the argument, or stop passing it.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": 1, "memo": "x"}'))),
    Explanation(
        code="GG404", means="An argument (or a context value: agent, labels, call id) does "
        "not have the declared type. Nothing is coerced: the string \"12\" is not a number.",
        fix="Pass a value of the declared type.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": "12e"}'))),
    Explanation(
        code="GG405", means="A fact the call's rules read has no value, or its provider "
        "raised an exception (any exception, even SystemExit): the guard fails closed.",
        fix="Give the fact a value (Guard(facts=...), a session's facts, check-trace "
        "--facts), or fix the provider.",
        example=_guard(_PAY + "fact limit: real\n\nrule cap:\n  on send_money\n"
                       "  require amount <= limit\n", _OK)),
    Explanation(
        code="GG406", means="A fact provider did not answer within its time limit "
        "(`fact_timeout_s`, 1 s by default); the call is denied rather than left waiting.",
        fix="Make the provider faster, cache its answer, or raise the limit.",
        example=_output("verdict: deny GG406: fact 'trusted_payees': provider timed out "
                        "after 1.0 s")),
    Explanation(
        code="GG407", means="The spec did not load. Today's guard never runs without a "
        "spec — `load_policy` raises `SpecLoadError` with the diagnostics — so this code "
        "appears only in verdicts and audit records written by older versions.",
        fix="Fix the spec errors `guardgraph lint` reports.",
        example=_output("# a verdict written by guardgraph 0.1 when the spec did not load:\n"
                        "{\"decision\": \"deny\", \"code\": \"GG407\", \"message\": "
                        "\"GG407: spec not loaded: ...\"}\n# today the load itself fails:\n"
                        "$ guardgraph check-trace --spec nope.spec trace.jsonl\nerror: cannot "
                        "read spec file nope.spec: No such file or directory; no call was "
                        "checked\nhint: fix the spec, then run check-trace again")),
    Explanation(
        code="GG408", means="The guard itself failed while checking (a bug, or a store "
        "that raised); the call is denied, and the message names the exception.",
        fix="Report it with the message; the deny is the safe answer meanwhile.",
        example=_output("verdict: deny GG408: internal guard error: KeyError: 'amount'")),
    Explanation(
        code="GG409", means="The check needed Z3 (a condition the fast path cannot decide) "
        "and Z3 returned unknown or ran out of time. Unknown is never an allow.",
        fix="Raise `solver_timeout_ms`, or simplify the rule; lint's GG310 flags such rules "
        "ahead of time.",
        example=_output("verdict: deny GG409: rule new_payee: the solver could not decide "
                        "(unknown or time-out)")),
    Explanation(
        code="GG410", means="A trace line is not JSON, does not follow the trace format "
        "(docs/trace-format.md), or repeats a session id of an earlier line. check-trace "
        "names the line and exits 2.",
        fix="Fix the line; for sessions spread over lines pass --continue-sessions.",
        example=_output("$ guardgraph check-trace --spec bank.spec trace.jsonl\nerror: GG410: "
                        "trace.jsonl:3: session 's1' already appeared on line 1; a session is "
                        "one line\nhint: pass --continue-sessions if line 3 continues the "
                        "session of line 1")),
    Explanation(
        code="GG411", means="The facts file of check-trace is not a JSON object of fact "
        "values, names a fact the spec does not declare, or gives a value of the wrong type.",
        fix="Write one JSON object: fact name -> value (sets as lists).",
        example=_output("$ echo '[1, 2]' > facts.json\n$ guardgraph check-trace --spec "
                        "bank.spec --facts facts.json trace.jsonl\nerror: GG411: facts.json: "
                        "expected a JSON object of fact values")),
    Explanation(
        code="GG412", means="A call id names one call. A second commit of the same call is "
        "answered with the first verdict and counts once (an allow with GG412 says so); "
        "another action under a call id already committed is denied.",
        fix="Give every proposed call its own id (LangGraph's tool call ids are).",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": 10}',
                              '{"call_id": "c1"}'),
                       ("send_money", '{"recipient": "DE89", "amount": 4000}',
                        '{"call_id": "c1"}'))),
    Explanation(
        code="GG413", means="The check's time is earlier than the session's last committed "
        "event (history never runs backwards, or a budget window could be replayed), or "
        "further ahead of the guard's clock than the allowed skew.",
        fix="Pass the real time of the call; keep the hosts' clocks in sync.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": 10}',
                              '{"call_id": "c1", "minutes": 30}'),
                       ("send_money", '{"recipient": "DE89", "amount": 10}',
                        '{"call_id": "c2", "minutes": 0}'))),
    Explanation(
        code="GG414", means="The session's state is missing, dropped, rewound or corrupt in "
        "the store. A session that has committed events is never treated as a fresh, empty "
        "one (that would reset its budgets): its checks are denied until the state is "
        "restored.",
        fix="Restore the session (`Guard.restore_session` with its exported blob); the "
        "message names the store's repair command where there is one.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": 10}',
                              '{"call_id": "c1"}'),
                       ("send_money", '{"recipient": "DE89", "amount": 10}',
                        '{"call_id": "c2", "drop": true}'))),
    Explanation(
        code="GG415", means="The API was handed something of the wrong shape: not an "
        "`Action` or a `Session`, an approval that is not an `Approval`, a route action that "
        "carries a tool or arguments, a verdict from another guard or a pickled one to "
        "commit.",
        fix="Build actions with `Action(...)` / `Action.route(...)` and commit the verdict "
        "the same guard returned.",
        example=_output(">>> guard.evaluate({\"tool\": \"send_money\"}, session)\n"
                        "Verdict(decision=<Decision.DENY: 'deny'>, code='GG415', "
                        "message='GG415: expected an Action, got dict', ...)")),
    Explanation(
        code="GG416", means="A routing decision on a spec that has no `on route` rules: the "
        "spec does not say which routes are allowed, so the guard denies the route.",
        fix="Add a route rule, e.g. `rule routes: on route require target in {...}`.",
        example=_guard(_CAP, ("route", "{}", '{"route": "support"}'))),
    Explanation(
        code="GG420", means="A string holds a lone surrogate (half of a UTF-16 pair), so it "
        "is not valid Unicode: nothing could store it faithfully, the audit log included.",
        fix="Decode the text correctly where it enters the agent.",
        example=_guard(_CAP, ("send_money", '{"recipient": "\\ud800", "amount": 1}'))),
    Explanation(
        code="GG421", means="A value with no exact built-in reading: an arbitrary object, a "
        "NaN or infinity, a number type that would lose precision. The guard checks exact "
        "copies only, so that what it checked is what runs.",
        fix="Pass plain str, int, float, bool, None, lists and dicts of them.",
        example=_guard(_CAP, ("send_money", '{"recipient": "DE89", "amount": NaN}'))),
    Explanation(
        code="GG422", means="A value beyond the caps on what one check reads: 32 levels of "
        "nesting, 10,000 items per container, 100,000 values, 100,000 characters per string, "
        "1,000,000 characters in all.",
        fix="Pass a reference (an id, a path) instead of the whole document.",
        example=_guard("spec notify version 1\n\ntool notify(to: list[str])\n",
                       ("notify", '{"to": ' + "[" * 40 + "]" * 40 + "}"))),
    # ---------------------------------------------------------------- GG5xx: audit
    Explanation(
        code="GG501", means="A record's `previous hash` is not the hash of the record "
        "before it: a record was inserted, removed or reordered in the chain.",
        fix="Treat the log as tampered from the named record on; compare with a backup and "
        "the last signed checkpoint you hold.",
        example=_output("$ guardgraph audit verify audit.db\nerror[GG501]: record 40 "
                        "(1d0c...): the record does not commit to its predecessor: prev_hash "
                        "5be0f1c2a9d4e7b1… but record 39 hashes to 0a4c9e2f71d3b6a8…")),
    Explanation(
        code="GG502", means="A record's content does not match its own hash: it was edited "
        "in place after it was written.",
        fix="Treat the record as tampered; the chain before it is intact.",
        example=_output("$ guardgraph audit verify audit.db\nerror[GG502]: record 12 "
                        "(eeeacbe2-26e8-4555-9790-f82ec1d3fcff): the record's content does not "
                        "match its hash (edited)")),
    Explanation(
        code="GG503", means="A signed checkpoint names a tree head (size and Merkle root) "
        "that the log's records do not produce: records covered by it were changed or "
        "dropped.",
        fix="Compare the log with the checkpoint's size; restore from a copy you trust.",
        example=_output("$ guardgraph audit verify audit.db\nerror[GG503]: record 812 (...): "
                        "the signed tree head of size 2599 does not match the records: "
                        "history before it was rewritten (records after 811 differ from what "
                        "was signed)")),
    Explanation(
        code="GG504", means="A checkpoint's signature does not verify with the public key "
        "given (or pinned): someone else signed it, or it was altered.",
        fix="Check that --public-key is the log's real key; otherwise treat the checkpoint "
        "as forged.",
        example=_output("$ guardgraph audit verify audit.db --public-key other.pub\n"
                        "error[GG504]: the checkpoint of size 2599 carries no valid "
                        "signature by a trusted key (signed by guardgraph/audit.db)")),
    Explanation(
        code="GG505", means="Two checkpoints cannot both be true: the later one does not "
        "extend the earlier (a fork, or a log rolled back and rewritten).",
        fix="Keep both checkpoints as evidence; the log was rewritten after the earlier one.",
        example=_output("$ guardgraph audit verify audit.db --checkpoint mine.checkpoint\n"
                        "error[GG505]: fork: two signed checkpoints of size 2599 with "
                        "different roots (64b292137951c666… and 9f1e03aa52c7d410…)")),
    Explanation(
        code="GG506", means="An inclusion or consistency proof does not verify against the "
        "checkpoint it names: the record is not in that log, or the proof was altered.",
        fix="Ask for a fresh proof from the log; do not trust the record meanwhile.",
        example=_output("$ guardgraph audit check-proof proof.json --public-key audit.db.pub\n"
                        "error[GG506]: the inclusion proof of record 12 does not verify")),
    Explanation(
        code="GG507", means="Sequence numbers are missing, repeated or out of order: a "
        "record was deleted or duplicated.",
        fix="Treat the log as tampered from the named record on.",
        example=_output("$ guardgraph audit verify audit.db\nerror[GG507]: record 40: "
                        "expected record 40 next, found record 41: records are missing or out "
                        "of order")),
)

EXPLANATIONS: dict[str, Explanation] = {e.code: e for e in _ENTRIES}
