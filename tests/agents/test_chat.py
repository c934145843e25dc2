"""A LangChain chat model as an untrained specialist in the same environment."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from toydomain import ToyDomain

from guardgraph.agents.env import DomainEnv
from guardgraph.agents.policies import ChatSpecialist


def test_chat_model_picks_an_offered_action_and_sees_only_allowed_ones() -> None:
    env = DomainEnv(ToyDomain())
    env.reset(seed=0, options={"task_index": 0})
    verify = next(i for i, a in enumerate(env.candidate_actions)
                  if a is not None and a.tool == "verify_identity" and env.mask.allowed[i])
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"I pick {verify}.")]))
    agent = ChatSpecialist(model)
    text = agent.prompt(env)[1][1]
    assert "send_money" not in text  # masked by verify_first: never offered
    assert agent.act(env) == verify


def test_a_reply_that_names_no_offered_action_means_stop() -> None:
    env = DomainEnv(ToyDomain())
    env.reset(seed=0, options={"task_index": 0})
    pay = next(i for i, a in enumerate(env.candidate_actions)
               if a is not None and a.tool == "send_money")
    replies = iter([AIMessage(content=str(pay)), AIMessage(content="no idea")])
    agent = ChatSpecialist(GenericFakeChatModel(messages=replies))
    assert agent.act(env) == 0  # a denied action, asked for by number: refused
    assert agent.act(env) == 0  # no number at all
