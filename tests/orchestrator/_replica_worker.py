"""One replica of the several-replicas test: the same guarded graph as every other replica,
configured only by URLs (PostgreSQL checkpoints, store and audit log; Redis guard state).

argv: MODE (run | recover) EFFECTS_FILE SLOW_SECONDS THREAD [THREAD ...]; the URLs come
from the environment (GG_PG, GG_AUDIT, GG_REDIS, GG_KEY). Every thread of the user spends
from one guard session ("anna"), so the replicas compete for one daily budget.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from _orch_support import KNOWN, SPEC, Scripted, call

from guardgraph.guardrails import Guard, Policy, Session
from guardgraph.orchestrator import AgentGraph, open_backends, user_task


def main(mode: str, effects: Path, slow: float, threads: list[str]) -> None:
    def send_money(recipient: str, amount: float) -> str:
        """Send money (appends one line per execution: the side effect counted)."""
        with effects.open("a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {recipient} {amount}\n")
            out.flush()
            os.fsync(out.fileno())
        time.sleep(slow)  # the parent kills a slow replica here, mid-call
        return f"sent {amount}"

    def session(thread: str, state: Any, config: Any) -> Session:
        return Session(id="anna", user="anna")

    with open_backends(checkpoints=os.environ["GG_PG"], audit=os.environ["GG_AUDIT"],
                       audit_key=Path(os.environ["GG_KEY"]), guard_state=os.environ["GG_REDIS"],
                       setup=False) as parts:
        guard = Guard(Policy.from_text(SPEC), store=parts.guard_store)
        for thread in threads:
            payments = Scripted("payments", [call("send_money", {"recipient": KNOWN,
                                                                 "amount": 3000},
                                                  f"{thread}-c1")], "ok")
            graph = (AgentGraph().add_specialist("payments", payments, tools=[send_money])
                     .compile(guard=guard, session=session, **parts.compile_options()))
            cfg: Any = {"configurable": {"thread_id": thread}}
            snapshot = graph.get_state(cfg)
            if mode == "recover" and snapshot.values:
                if snapshot.next:
                    graph.invoke(None, cfg)  # finish what the dead replica left
                continue
            graph.invoke(user_task("pay 3000", user="anna"), cfg)
            print(thread, "done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
