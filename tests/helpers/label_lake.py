"""A tiny real lake for the labeling tests: bronze conversations written through the lakehouse, so the
`samples` view the queues read is the catalog's own SQL, not an imitation of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

CHARACTERS = [
    {
        "character_id": "ch-captain",
        "name": "Captain Mira",
        "description": "A cheerful starship captain.",
        "instructions": "Stay in character. Never mention being an AI.",
    },
    {
        "character_id": "ch-chef",
        "name": "Chef Bruno",
        "description": "A grumpy but kind Italian chef.",
        "instructions": "Answer cooking questions with a recipe tip.",
    },
]


def _message(role: str, content: str, ts: dt.datetime, **signals) -> dict:
    full = {"continued": None, "thumb": None, "love": None, "regenerated": None, "reported": None, "feedback": None}
    full.update(signals)
    return {"role": role, "content": content, "ts": ts, "signals": full if role == "assistant" else None}


def conversation(
    i: int, *, model_version: str = "gen-1", regenerate: bool = False, turns: int = 2, user_text: str | None = None
) -> dict:
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)
    character = CHARACTERS[i % len(CHARACTERS)]
    messages = []
    for t in range(turns):
        messages.append(_message("user", user_text or f"Hello number {i}, turn {t}: what now?", start))
        if regenerate and t == 0:
            messages.append(_message("assistant", f"I cannot help with that ({i}).", start, regenerated=True, thumb=-1))
            messages.append(_message("assistant", f"Aye! Let us chart a course, friend {i}.", start, continued=True))
        else:
            messages.append(
                _message(
                    "assistant",
                    f"Reply {t} of {character['name']} to {i}.",
                    start,
                    continued=t < turns - 1,
                    thumb=1 if t == 0 else 0,
                )
            )
    return {
        "conversation_id": f"c{i:04d}",
        "source": "user",
        "started_at": start,
        "user_id": None,
        "character": character,
        "model_version": model_version,
        "experiment": None,
        "app": "web",
        "locale": "en",
        "messages": messages,
        "content_hash": f"h{i}",
        "origin": None,
    }


def make_lake(root: Path, conversations: list[dict] | None = None) -> Path:
    """Write conversations to bronze/conversations and build the catalog; returns the lake root."""
    import pyarrow as pa

    from lakehouse import catalog, schemas
    from lakehouse.lake import Lake

    if conversations is None:
        conversations = [conversation(i, regenerate=i % 3 == 0) for i in range(12)]
    lake = Lake(root)
    with lake.transaction() as tx:
        tx.write("bronze/conversations", pa.Table.from_pylist(conversations, schema=schemas.BRONZE_CONVERSATIONS))
    catalog.refresh(lake)
    return lake.root
