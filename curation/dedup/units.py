"""The texts that dedup compares, at its two units: a whole conversation, and the prompt of a turn sample.

Role labels and the character's system message are left out: every conversation of a character shares
its system message and every transcript shares its labels, and neither makes two conversations copies.
The prompt unit is the last user message with the turn before it (the assistant message it answers), so
that "yes" after two different questions are two prompts, while a pasted prompt is one prompt
wherever it appears.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

Message = tuple[str, str]  # (role, content)


def conversation_text(messages: Sequence[Message]) -> str:
    return "\n".join(content for role, content in messages if role != "system" and content)


def prompt_text(prompt: Sequence[Message]) -> str:
    """The last user message and the non-system message just before it (if any)."""
    turns = [(role, content) for role, content in prompt if role != "system"]
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        return ""
    return "\n".join(content for _, content in turns[max(0, last_user - 1):last_user + 1] if content)


def prompts_of(messages: Sequence[Message]) -> list[tuple[int, str]]:
    """(turn, prompt text) of every assistant message of a conversation that follows a user message."""
    return [(i, prompt_text(messages[:i])) for i, (role, _) in enumerate(messages)
            if role == "assistant" and i > 0 and messages[i - 1][0] == "user"]


def conversation_units(conversations: pa.Table) -> pa.Table:
    """(key, text, started_at) of the conversation unit from rows with conversation_id, started_at and
    messages (list of {role, content, ...}), as in the lake's `conversations` view."""
    import pyarrow as pa

    texts = [conversation_text([(m["role"], m["content"] or "") for m in messages or []])
             for messages in conversations["messages"].to_pylist()]
    return pa.table({"key": conversations["conversation_id"], "text": pa.array(texts, pa.string()),
                     "started_at": conversations["started_at"]})


def prompt_units(samples: pa.Table) -> pa.Table:
    """(key, text, started_at) of the prompt unit from rows with sample_id, started_at and prompt (list of
    {role, content}), as in the lake's `samples` view."""
    texts = [prompt_text([(m["role"], m["content"] or "") for m in prompt or []])
             for prompt in samples["prompt"].to_pylist()]
    return pa.table({"key": samples["sample_id"], "text": pa.array(texts, pa.string()),
                     "started_at": samples["started_at"]})
