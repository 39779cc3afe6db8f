"""Memory for any LangGraph chatbot: a recall node before the model and a remember node after it.

::

    recall, remember = make_memory_nodes(hm)
    builder.add_edge(START, "recall"); builder.add_edge("recall", "model")
    builder.add_edge("model", "remember"); builder.add_edge("remember", END)

The chatbot's state needs ``messages`` with LangGraph's ``add_messages`` reducer (``MessagesState``
has it) and the user id under ``user_key`` (in the state, or in ``config["configurable"]``).
Messages may be LangChain message objects (``.type`` / ``.content``) or ``{"role", "content"}``
dicts. The recall node adds one system message holding the evidence packed into ``budget`` tokens,
right after the chatbot's own leading system messages; it has a fixed id and replaces the previous
turn's memory message, so memory messages do not pile up in the history. The remember node stores
the last user message and the assistant's reply after it as turns of a session named after the day
(``chat-2024-05-08``), each marked with its role: the reply is the assistant's whatever name it
carries, so it can never pass for the user's own word.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from langchain_core.messages import RemoveMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.message import REMOVE_ALL_MESSAGES

from agents.results import RecallResult
from graphs.client import Hypermnesia
from memory.errors import InvalidInputError
from memory.model import Namespace, Turn, utcnow

__all__ = [
    "MEMORY_MESSAGE_ID",
    "MemoryNode",
    "chat_session_id",
    "format_evidence",
    "make_memory_nodes",
    "message_role",
    "message_text",
    "namespace_for",
]

#: Id of the system message the recall node writes (and rewrites on every turn).
MEMORY_MESSAGE_ID = "hypermnesia-memory"

MemoryNode = Callable[[Mapping[str, Any], RunnableConfig], dict[str, Any]]
"""A LangGraph node: reads the state (and the run config), returns the keys it changes."""

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


def message_role(message: Any) -> str:
    """``user``, ``assistant``, ``system``, ``tool``… for a LangChain message or a role dict."""
    if isinstance(message, Mapping):
        raw = message.get("role", message.get("type", ""))
    else:
        raw = getattr(message, "type", "")
    role = str(raw)
    return _ROLES.get(role, role)


def message_text(message: Any) -> str:
    """The text of a message; the text blocks of a multi-part content, joined."""
    content = message.get("content") if isinstance(message, Mapping) else message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(p for p in parts if p)


def _message_id(message: Any) -> str | None:
    raw = message.get("id") if isinstance(message, Mapping) else getattr(message, "id", None)
    return str(raw) if raw else None


def _message_name(message: Any) -> str | None:
    raw = message.get("name") if isinstance(message, Mapping) else getattr(message, "name", None)
    return str(raw).strip() if raw and str(raw).strip() else None


def _turn_id(session: str, message: Any) -> str:
    """The message's id makes the turn id (remembering a message twice is a no-op); a message
    without one gets a random id, a very long one a digest."""
    mid = _message_id(message) or uuid.uuid4().hex
    if len(mid) > 64:
        mid = hashlib.sha256(mid.encode("utf-8")).hexdigest()[:32]
    return f"{session}:{mid}"


def namespace_for(user_id: str, agent_id: str = "default") -> Namespace:
    """The namespace of a user and agent (a malformed id raises InvalidNamespaceError)."""
    return Namespace(user_id=user_id, agent_id=agent_id)


def chat_session_id(day: date | None = None) -> str:
    """The session a chat exchange is remembered in: one per calendar day."""
    return f"chat-{(day or date.today()).isoformat()}"


def format_evidence(result: RecallResult) -> str:
    """The evidence of a recall as the text of a system message."""
    if not result.evidence:
        return "Long-term memory: nothing stored about this user matches the message."
    lines = ["Long-term memory about this user (use it when relevant; newer facts win):"]
    lines += [f"- {e.text}" for e in result.evidence]
    return "\n".join(lines)


def _namespace(state: Mapping[str, Any], config: RunnableConfig, key: str, agent: str) -> Namespace:
    user = state.get(key)
    if user is None:
        user = (config.get("configurable") or {}).get(key)
    if user is None:
        raise InvalidInputError(
            f"no user id: put it in the state or in config['configurable'] under {key!r}"
        )
    return namespace_for(str(user), agent)


def _messages(state: Mapping[str, Any]) -> Sequence[Any]:
    messages = state.get("messages")
    if messages is None:
        raise InvalidInputError("the state has no 'messages'")
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"state 'messages' is a {type(messages).__name__}, not a list")
    return messages


def _last_user_index(messages: Sequence[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if message_role(messages[i]) == "user" and message_text(messages[i]).strip():
            return i
    return None


def make_memory_nodes(
    hm: Hypermnesia,
    *,
    user_key: str = "user_id",
    agent_id: str = "default",
    budget: int = 800,
    max_iterations: int = 3,
    assistant_name: str = "assistant",
    session_end: bool = False,
) -> tuple[MemoryNode, MemoryNode]:
    """``(recall_node, remember_node)`` for a chatbot graph: recall before the model, remember
    after it. ``session_end`` is passed to every ``remember`` (True runs the session-level work
    after each exchange)."""
    if budget < 1:
        raise InvalidInputError(f"budget must be a positive number of tokens, got {budget}")
    namespace_for("check", agent_id)  # a bad agent id fails here, not mid-chat

    def recall_node(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages = _messages(state)
        last = _last_user_index(messages)
        if last is None:
            return {}
        ns = _namespace(state, config, user_key, agent_id)
        question = message_text(messages[last]).strip()
        result = hm.recall(ns, question, budget=budget, max_iterations=max_iterations)
        memory = SystemMessage(content=format_evidence(result), id=MEMORY_MESSAGE_ID)
        rest = [m for m in messages if _message_id(m) != MEMORY_MESSAGE_ID]
        lead = 0
        while lead < len(rest) and message_role(rest[lead]) == "system":
            lead += 1
        # Rewrite the list so the memory sits right after the chatbot's own system prompt.
        reordered = [*rest[:lead], memory, *rest[lead:]]
        return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *reordered]}

    def remember_node(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages = _messages(state)
        last = _last_user_index(messages)
        if last is None:
            return {}
        ns = _namespace(state, config, user_key, agent_id)
        hm.remember(
            ns, _exchange_turns(ns, messages, last, assistant_name), session_end=session_end
        )
        return {}

    return recall_node, remember_node


def _exchange_turns(
    ns: Namespace, messages: Sequence[Any], last: int, assistant_name: str
) -> list[Turn]:
    """The user message at ``last`` and the assistant's last reply after it, as turns of today's
    chat session."""
    session = chat_session_id()
    now = utcnow()
    exchange = [(last, messages[last])]
    replies = [
        (i, m)
        for i, m in enumerate(messages[last + 1 :], start=last + 1)
        if message_role(m) == "assistant" and message_text(m).strip()
    ]
    exchange += replies[-1:]
    turns = []
    for position, message in exchange:
        is_user = message_role(message) == "user"
        speaker = _message_name(message) or (ns.user_id if is_user else assistant_name)
        turns.append(
            Turn(
                id=_turn_id(session, message),
                session_id=session,
                speaker=speaker,
                text=message_text(message).strip(),
                session_time=now,
                index=position,
                role="user" if is_user else "assistant",
            )
        )
    return turns
