"""The texts that dedup compares, at its two units: a whole conversation, and the prompt of a turn sample.

Role labels and the character's system message are left out: every conversation of a character shares
its system message and every transcript shares its labels, and neither makes two conversations copies.
The prompt unit is the last user message with the turn before it (the assistant message it answers), so
that "yes" after two different questions are two prompts, while a pasted prompt is one prompt
wherever it appears. In the lake, a prompt is counted once per user message: a reply and the replies
that regenerated it answer one prompt.
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
    return "\n".join(content for _, content in turns[max(0, last_user - 1) : last_user + 1] if content)


def prompts_of(messages: Sequence[Message]) -> list[tuple[int, str]]:
    """(turn, prompt text) of every assistant message of a conversation that follows a user message."""
    return [
        (i, prompt_text(messages[:i]))
        for i, (role, _) in enumerate(messages)
        if role == "assistant" and i > 0 and messages[i - 1][0] == "user"
    ]


def sample_prompts(messages: Sequence[tuple[str, str, bool]]) -> list[tuple[int, int, str]]:
    """(turn, prompt id turn, prompt text) of every assistant message with a user message before it, from
    (role, content, regenerated) messages.

    The prompt text is `prompt_text` of the sample's prompt as the `samples` view builds it (regenerated
    replies left out). Every reply to one user message (a reply, its regenerations) has the same prompt:
    its prompt id turn is the first of those replies, so a prompt occurrence is counted once.
    """
    out: list[tuple[int, int, str]] = []
    previous: str | None = None  # content of the last non-system message a prompt shows
    prompt: tuple[int, str] | None = None  # (id turn, text) of the current user message's prompt
    last_user: tuple[str | None, str] | None = None  # (message before it, content) of the last user message
    for turn, (role, content, regenerated) in enumerate(messages):
        if role == "user":
            last_user, prompt = (previous, content), None
        elif role == "assistant" and last_user is not None:
            if prompt is None:
                prompt = (turn, "\n".join(c for c in last_user if c))
            out.append((turn, *prompt))
        if role != "system" and not (role == "assistant" and regenerated):
            previous = content
    return out


UNIT_SCHEMA = pa.schema(
    [("key", pa.string()), ("text", pa.string()), ("started_at", pa.timestamp("us", tz="UTC")), ("scope", pa.string())]
)
SAMPLE_PROMPT_SCHEMA = pa.schema(
    [("sample_id", pa.string()), ("conversation_id", pa.string()), ("prompt_id", pa.string())]
)


def lake_units(batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Both units from rows of the lake's `conversations` view (conversation_id, started_at, character_id,
    messages): (conversation units, prompt units, the prompt id of every turn sample). Units are (key,
    text, started_at, scope); a prompt's key is its prompt id (`<conversation_id>:<turn>` of its first
    reply) and its scope the character id."""
    import pyarrow.compute as pc

    messages = batch.column("messages")
    flat = pc.list_flatten(messages)
    roles = pc.struct_field(flat, "role").to_pylist()
    contents = pc.struct_field(flat, "content").to_pylist()
    regenerated = pc.fill_null(pc.struct_field(flat, ["signals", "regenerated"]), False).to_pylist()
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_pylist()
    ids, starts = batch.column("conversation_id").to_pylist(), batch.column("started_at")
    characters = batch.column("character_id").to_pylist()
    texts, prompt_rows, sample_rows = [], [], []
    position = 0
    for row, (cid, length) in enumerate(zip(ids, lengths, strict=True)):
        window = range(position, position + length)
        position += length
        texts.append("\n".join(contents[i] for i in window if roles[i] != "system" and contents[i]))
        triples = [(roles[i], contents[i] or "", regenerated[i]) for i in window]
        for turn, prompt_turn, text in sample_prompts(triples):
            prompt_id = f"{cid}:{prompt_turn}"
            if turn == prompt_turn:
                prompt_rows.append((prompt_id, text, row, characters[row]))
            sample_rows.append((f"{cid}:{turn}", cid, prompt_id))
    conversations = pa.table(
        {
            "key": batch.column("conversation_id"),
            "text": pa.array(texts, pa.string()),
            "started_at": starts,
            "scope": pa.nulls(len(ids), pa.string()),
        },
        schema=UNIT_SCHEMA,
    )
    keys, prompt_texts, rows, scopes = zip(*prompt_rows, strict=True) if prompt_rows else ((), (), (), ())
    prompts = pa.table(
        {
            "key": pa.array(keys, pa.string()),
            "text": pa.array(prompt_texts, pa.string()),
            "started_at": starts.take(pa.array(rows, pa.int64())),
            "scope": pa.array(scopes, pa.string()),
        },
        schema=UNIT_SCHEMA,
    )
    samples = pa.Table.from_arrays(
        [pa.array(list(c), pa.string()) for c in zip(*sample_rows, strict=True)]
        if sample_rows
        else [pa.array([], pa.string())] * 3,
        schema=SAMPLE_PROMPT_SCHEMA,
    )
    return conversations, prompts, samples
