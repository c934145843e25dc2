"""How much time does guardgraph add to each tool-call step of a LangGraph graph?

One graph, three ways, measured side by side in the same process, interleaved:

* ``langgraph``: ``agent -> ToolNode -> agent ...`` (the baseline: LangGraph's own cost);
* ``guarded, audit off``: the same graph with ``GuardedToolNode`` (the guard checks and
  commits every call in its session, labels every output, keeps the execution ledger);
* ``guarded, audit on``: the same, every step also written to a signed SQLite audit log
  (proposal, verdict, execution, result: four durable records per call).

A "tool-call step" is one model turn that proposes one call plus the tool node that runs it
(two LangGraph supersteps, with an in-memory checkpointer). The agent is a plain function
(no model), the tool returns a constant, so what is measured is the framework. Each run is
one thread of ``--steps`` steps; the figure is the median over ``--runs`` runs of the
per-step time, with the overhead relative to the baseline.

    .venv/bin/python benchmarks/langgraph_overhead.py --steps 200 --runs 7 \
        --out benchmarks/results/langgraph_overhead.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

SPEC = """\
spec bench version 1

tool send_money(recipient: str, amount: real) -> str
tool read_email(folder: str) -> str untrusted

rule cap:
  on send_money
  require 0 < amount and amount <= 5000
  repair amount

rule daily_budget:
  on send_money
  require sum(send_money.amount within 24h) + amount <= 1000000

rule new_payee:
  on send_money
  when not startswith(recipient, "GB29")
  require approved
  else escalate "payment to a new payee"

rule no_injected_recipient:
  on send_money
  when tainted(recipient)
  require from_user(recipient)

rule payments_only:
  on send_money
  require agent == "payments"
"""

PAYEE = "GB29NWBK60161331926819"


def _graph(kind: str, steps: int, audit: Any) -> Any:
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    from guardgraph.guardrails import Guard
    from guardgraph.orchestrator import GuardedToolNode

    def send_money(recipient: str, amount: float) -> str:
        """Send money."""
        return "sent"

    def agent(state: MessagesState) -> dict[str, Any]:
        n = sum(1 for m in state["messages"] if isinstance(m, AIMessage))
        if n >= steps:
            return {"messages": [AIMessage(content="done")]}
        return {"messages": [AIMessage(content="", tool_calls=[{
            "name": "send_money", "args": {"recipient": PAYEE, "amount": 1.0},
            "id": f"c{n}", "type": "tool_call"}])]}

    if kind == "langgraph":
        tools: Any = ToolNode([send_money])
    else:
        tools = GuardedToolNode([send_money], guard=Guard.from_text(SPEC), audit=audit,
                                agent="payments")
    g: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_node("tools", tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", tools_condition, ["tools", END])
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=InMemorySaver())


def _run(graph: Any, steps: int, thread: str) -> float:
    started = time.perf_counter()
    out = graph.invoke({"messages": [("user", "pay")]},
                       {"configurable": {"thread_id": thread},
                        "recursion_limit": 2 * steps + 10})
    elapsed = time.perf_counter() - started
    assert len(out["messages"]) == 2 * steps + 2, "the graph did not run every step"
    return elapsed / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="tool-call steps per run")
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (median)")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    from guardgraph.audit import open_log

    with tempfile.TemporaryDirectory() as tmp:
        log = open_log(Path(tmp) / "audit.db", checkpoint_every=0)
        graphs = {"langgraph": _graph("langgraph", args.steps, None),
                  "guarded, audit off": _graph("guarded", args.steps, None),
                  "guarded, audit on (SQLite)": _graph("guarded", args.steps, log)}
        for name, graph in graphs.items():  # warm-up: imports, compiled guard, tables
            _run(graph, args.steps, f"warm-{name}")
        times: dict[str, list[float]] = {name: [] for name in graphs}
        for r in range(args.runs):  # interleaved, so that load drifts hit all alike
            for name, graph in graphs.items():
                times[name].append(_run(graph, args.steps, f"{name}-{r}"))
        records = log.store.size()
        log.close()
    base = statistics.median(times["langgraph"])
    lines = [
        f"# LangGraph overhead ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, langgraph "
        f"{version('langgraph')}, load {os.getloadavg()[0]:.2f})",
        "",
        f"{args.steps} tool-call steps per run, median of {args.runs} runs; "
        f"{records} audit records written.",
        "",
        "| variant | per step (µs) | added (µs) | added vs LangGraph | target |",
        "|---|---:|---:|---:|---|",
    ]
    targets = {"langgraph": "-", "guarded, audit off": "<= 10 %",
               "guarded, audit on (SQLite)": "<= 25 %"}
    for name, samples in times.items():
        med = statistics.median(samples)
        added = med - base
        lines.append(f"| {name} | {med * 1e6:,.0f} | {added * 1e6:,.0f} | "
                     f"{added / base * 100:.1f} % | {targets[name]} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
