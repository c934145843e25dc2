"""One process of the restart test: builds the guarded graph over SQLite checkpoints and
a SQLite store in DIR, runs one phase, and exits. Tools append to DIR/effects.txt, so the
parent counts side effects across processes."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from _orch_support import KNOWN, Scripted, call, make_guard
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.sqlite import SqliteStore
from langgraph.types import Command

from guardgraph.audit import open_log
from guardgraph.orchestrator import AgentGraph, user_task

NEW = "NL91ABNA0417164300"


def main(folder: Path, phase: str) -> None:
    effects = folder / "effects.txt"

    def send_money(recipient: str, amount: float) -> str:
        """Send money."""
        with effects.open("a", encoding="utf-8") as out:
            out.write(f"{recipient} {amount}\n")
        return f"sent {amount} to {recipient}"

    conn = sqlite3.connect(folder / "graph.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    store = SqliteStore(sqlite3.connect(folder / "store.db", check_same_thread=False,
                                        isolation_level=None))
    store.setup()
    payments = Scripted("payments",
                        [call("send_money", {"recipient": KNOWN, "amount": 4000}, "a1"),
                         call("send_money", {"recipient": NEW, "amount": 5000}, "a2")],
                        [call("send_money", {"recipient": KNOWN, "amount": 3000}, "a3")],
                        "ok")
    with open_log(folder / "audit.db") as log:
        graph = (AgentGraph().add_specialist("payments", payments, tools=[send_money])
                 .compile(guard=make_guard(), audit=log, checkpointer=saver, store=store))
        cfg = {"configurable": {"thread_id": "t-restart"}}
        if phase == "start":
            graph.invoke(user_task("pay three"), cfg)
        elif phase == "resume":
            graph.invoke(Command(resume={"approved": True, "approver": "carla",
                                         "reason": "ok"}), cfg)
        elif phase == "replay":
            for snapshot in list(graph.get_state_history(cfg))[1:]:
                graph.invoke(None, snapshot.config)
        print(graph.get_state(cfg).values["messages"][-1].content)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
