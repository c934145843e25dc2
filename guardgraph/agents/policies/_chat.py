"""Any LangChain chat model as an untrained specialist in a `DomainEnv`.

The model sees the task, what happened so far, and the numbered candidate actions the
shield allows (all valid ones with the shield off), and answers with a number. Its reply
is parsed strictly: anything but one of the offered numbers is "stop" (action 0), never a
guess, so a confused model cannot run an action nobody offered.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guardgraph.guardrails.verdict import json_value

__all__ = ["ChatSpecialist"]

_NUMBER = re.compile(r"-?\d+")

_SYSTEM = ("You are a {agent} agent. Choose the next action for the user's task. "
           "Answer with the number of one action and nothing else; 0 means you are done.")


class ChatSpecialist:
    """``ChatSpecialist(model).act(env) -> int``; ``model`` is any LangChain chat model
    (``invoke(messages) -> AIMessage``)."""

    def __init__(self, model: Any, *, shielded: bool = True) -> None:
        self.model = model
        self.shielded = shielded

    def prompt(self, env: Any) -> list[tuple[str, str]]:
        task = env.task
        mask = env.mask
        lines = []
        for i, action in enumerate(env.candidate_actions):
            if mask is not None and self.shielded and not mask.allowed[i]:
                continue
            if action is None:
                lines.append("0: done (stop)")
            else:
                args = json.dumps({k: json_value(v) for k, v in action.args.items()},
                                  ensure_ascii=False, default=str)
                lines.append(f"{i}: {action.tool}({args})")
        history = env.render_history()
        user = (f"Task: {task.prompt}\n\nSo far:\n{history or '(nothing yet)'}\n\n"
                "Actions:\n" + "\n".join(lines))
        return [("system", _SYSTEM.format(agent=task.specialist)), ("human", user)]

    def act(self, env: Any) -> int:
        offered = {i for i, _ in enumerate(env.candidate_actions)
                   if env.mask is None or not self.shielded or env.mask.allowed[i]}
        reply = self.model.invoke(self.prompt(env))
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        found = _NUMBER.search(text)
        choice = int(found.group()) if found else 0
        return choice if choice in offered else 0
