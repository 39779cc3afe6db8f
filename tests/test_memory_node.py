"""The chatbot memory nodes: the README's example graph run over two turns, and the nodes alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from graphs.client import Hypermnesia
from graphs.memory_node import (
    MEMORY_MESSAGE_ID,
    chat_session_id,
    make_memory_nodes,
    message_role,
    message_text,
)
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError, InvalidNamespaceError
from memory.model import Namespace
from memory.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it in a LangGraph chatbot", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README section has no python example"
    return match.group(1)


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HYPERMNESIA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    monkeypatch.delenv("HYPERMNESIA_LLM_MODEL", raising=False)
    return tmp_path / "data"


@pytest.fixture
def hm(offline_env: Path) -> Iterator[Hypermnesia]:
    client = Hypermnesia.open(offline_env, settings=Settings(), embedder=HashingEmbedder())
    yield client
    client.close()


def test_readme_chatbot_graph_remembers_the_first_turn(
    offline_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scope: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(_readme_example(), str(README), "exec", dont_inherit=True), scope)
    printed = capsys.readouterr().out
    state = scope["state"]
    messages = state["messages"]
    memory = messages[0]
    assert memory.type == "system" and memory.id == MEMORY_MESSAGE_ID
    assert "Biscuit" in memory.content, memory.content
    assert "Biscuit" in printed
    # one memory message, first; then the two exchanges in order
    assert [m.type for m in messages] == ["system", "human", "ai", "human", "ai"]
    assert sum(1 for m in messages if m.id == MEMORY_MESSAGE_ID) == 1
    # the remember node stored both exchanges: the second question is recallable now
    with Hypermnesia.open(offline_env, settings=Settings()) as hm:
        result = hm.recall(Namespace(user_id="sam"), "What is my dog called?", budget=400)
        assert any("dog called" in e.text for e in result.evidence)


def test_nodes_work_on_role_dicts_and_keep_the_system_prompt_first(hm: Hypermnesia) -> None:
    recall, remember = make_memory_nodes(hm, budget=300)
    first = {
        "user_id": "ann",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "My favourite tea is genmaicha.", "id": "m1"},
            {"role": "assistant", "content": "Noted: genmaicha.", "id": "m2"},
        ],
    }
    assert remember(first, {}) == {}
    second = {
        "user_id": "ann",
        "messages": [*first["messages"], {"role": "user", "content": "Which tea do I like?"}],
    }
    update = recall(second, {})["messages"]
    assert update[0].type == "remove"
    roles = [message_role(m) for m in update[1:]]
    assert roles == ["system", "system", "user", "assistant", "user"]
    assert message_text(update[1]) == "You are terse."
    memory = update[2]
    assert isinstance(memory, SystemMessage) and memory.id == MEMORY_MESSAGE_ID
    assert "genmaicha" in memory.content
    turns = hm.store.units(Namespace(user_id="ann"))
    speakers = {u.speaker for u in turns if u.granularity.value == "turn"}
    assert speakers == {"ann", "assistant"}
    assert all(u.session_id == chat_session_id() for u in turns if u.session_id)


def test_user_id_can_come_from_config_and_agent_scopes(hm: Hypermnesia) -> None:
    recall, remember = make_memory_nodes(hm, agent_id="support")
    state = {"messages": [HumanMessage("I live in Lisbon.", id="h1"), AIMessage("Ok.", id="a1")]}
    config: Any = {"configurable": {"user_id": "bo"}}
    remember(state, config)
    assert hm.store.units(Namespace(user_id="bo", agent_id="support"))
    assert not hm.store.units(Namespace(user_id="bo"))
    # the same message remembered twice is one turn (its id makes the turn id)
    before = len(hm.store.units(Namespace(user_id="bo", agent_id="support")))
    remember(state, config)
    assert len(hm.store.units(Namespace(user_id="bo", agent_id="support"))) == before
    out = recall({"messages": [HumanMessage("Where do I live?")]}, config)
    assert "Lisbon" in out["messages"][-2].content


def test_bad_input_is_rejected_and_nothing_is_written(hm: Hypermnesia) -> None:
    recall, remember = make_memory_nodes(hm)
    with pytest.raises(InvalidInputError, match="'user_id'"):
        remember({"messages": [{"role": "user", "content": "hi"}]}, {})
    with pytest.raises(InvalidInputError, match="no 'messages'"):
        recall({"user_id": "x"}, {})
    with pytest.raises(InvalidNamespaceError):
        remember({"user_id": "not ok", "messages": [{"role": "user", "content": "hi"}]}, {})
    with pytest.raises(InvalidInputError, match="budget"):
        make_memory_nodes(hm, budget=0)
    assert recall({"user_id": "x", "messages": [{"role": "assistant", "content": "hi"}]}, {}) == {}
    assert hm.store.stats().turns == 0


def test_message_text_joins_text_blocks() -> None:
    blocks = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": "x"}, "here"]
    assert message_text({"role": "user", "content": blocks}) == "look\nhere"
    assert message_role(HumanMessage("x")) == "user"
    assert message_role({"type": "ai", "content": "x"}) == "assistant"
