"""Owns the adapters that turn what a user passes as a specialist or a router into one
turn of a LangGraph node: a plain callable, a LangChain chat model with tool calling, or
a local policy that proposes one call at a time (``propose(history)``, the domains'
`Script` protocol and the learners' policies).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage

__all__ = ["Turn", "as_router", "as_turn", "decision_of", "history_of"]

Turn = Callable[[Mapping[str, Any]], AIMessage]
"""One specialist turn: from the graph state to the agent's next message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    tool: str
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    call: _Call
    decision: str
    output: object


def decision_of(message: ToolMessage) -> str:
    """What the guard decided on the call a tool message answers (from the metadata the
    guarded path writes): allow, deny, escalate, repair or rejected."""
    meta = (message.response_metadata or {}).get("guardgraph") or {}
    return str(meta.get("decision", "allow"))


def history_of(messages: Sequence[BaseMessage], *, step_type: Any = None,
               call_type: Any = None) -> list[Any]:
    """The specialist's history as steps (call, decision, output), oldest first.

    ``step_type`` / ``call_type`` build the caller's own step values (e.g. the domains'
    `Step` and `Call`); by default small frozen values with the same fields."""
    make_step = step_type or _Step
    make_call = call_type or _Call
    answers = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    steps = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for tc in message.tool_calls:
            answer = answers.get(tc.get("id") or "")
            if answer is None:
                continue
            output = answer.artifact if answer.artifact is not None else answer.content
            steps.append(make_step(call=make_call(tool=tc["name"], args=dict(tc["args"])),
                                   decision=decision_of(answer), output=output))
    return steps


def _ids_for(message: AIMessage, agent: str, turn: int) -> AIMessage:
    """Give every tool call an id, deterministic in (agent, turn, position), so that a
    re-run of the turn proposes the same call ids (idempotency keys)."""
    if all(tc.get("id") for tc in message.tool_calls):
        return message
    calls = []
    for i, tc in enumerate(message.tool_calls):
        cid = tc.get("id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"gg:{agent}:{turn}:{i}"))
        calls.append({**tc, "id": cid})
    return AIMessage(content=message.content, tool_calls=calls, name=message.name,
                     id=message.id)


def as_turn(agent: object, tools: Sequence[Any], name: str) -> Turn:
    """The turn function of a specialist ``agent`` with ``tools``.

    A chat model (``bind_tools``) is bound to the tools and given the messages; an object
    with ``propose(history)`` proposes one call per turn (None: done); a plain callable is
    given the state and returns an ``AIMessage`` or a final answer string.
    """
    if hasattr(agent, "bind_tools") and hasattr(agent, "invoke"):
        bound = agent.bind_tools(list(tools))

        def model_turn(state: Mapping[str, Any]) -> AIMessage:
            reply = bound.invoke(list(state.get("messages", ())))
            if not isinstance(reply, AIMessage):
                reply = AIMessage(content=str(getattr(reply, "content", reply)))
            return _ids_for(reply, name, len(state.get("messages", ())))
        return model_turn
    propose = getattr(agent, "propose", None)
    if callable(propose):
        def policy_turn(state: Mapping[str, Any]) -> AIMessage:
            messages = list(state.get("messages", ()))
            history = history_of(_own(messages, name))
            call = propose(history)
            if call is None:
                return AIMessage(content=f"{name}: done", name=name)
            tc = {"name": call.tool, "args": dict(call.args), "type": "tool_call",
                  "id": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                       f"gg:{name}:{len(messages)}:{call.tool}"))}
            return AIMessage(content="", tool_calls=[tc], name=name)
        return policy_turn
    if callable(agent):
        fn: Callable[[Mapping[str, Any]], object] = agent

        def callable_turn(state: Mapping[str, Any]) -> AIMessage:
            reply = fn(state)
            if isinstance(reply, str):
                return AIMessage(content=reply, name=name)
            if not isinstance(reply, AIMessage):
                raise TypeError(f"specialist {name!r} returned {type(reply).__name__}; "
                                "expected an AIMessage or a str")
            return _ids_for(reply, name, len(state.get("messages", ())))
        return callable_turn
    raise TypeError(f"specialist {name!r}: expected a callable, a chat model with "
                    f"bind_tools, or an object with propose(history); got "
                    f"{type(agent).__name__}")


def _own(messages: list[BaseMessage], name: str) -> list[BaseMessage]:
    """The messages of this specialist's turns and their answers."""
    own_ids = {tc.get("id") for m in messages if isinstance(m, AIMessage) and m.name == name
               for tc in m.tool_calls}
    return [m for m in messages
            if (isinstance(m, AIMessage) and m.name == name)
            or (isinstance(m, ToolMessage) and m.tool_call_id in own_ids)]


def as_router(router: object, targets: Sequence[str]) -> Callable[[Mapping[str, Any]], str]:
    """The routing function: a callable from the state to a specialist name, or a chat
    model asked to answer with one of the names."""
    if hasattr(router, "invoke") and not callable(getattr(router, "route", None)) \
            and hasattr(router, "bind_tools"):
        model: Any = router
        prompt = ("Answer with exactly one of these specialist names and nothing else: "
                  + ", ".join(targets))

        def model_route(state: Mapping[str, Any]) -> str:
            reply = model.invoke([SystemMessage(content=prompt),
                                  *list(state.get("messages", ()))])
            text = str(getattr(reply, "content", reply)).strip()
            for target in targets:
                if text == target or text.startswith(target):
                    return target
            return text
        return model_route
    route = getattr(router, "route", None)
    if callable(route):
        return lambda state: str(route(state))
    if callable(router):
        fn: Callable[[Mapping[str, Any]], object] = router
        return lambda state: str(fn(state))
    raise TypeError(f"router: expected a callable or a chat model, got {type(router).__name__}")
