"""`flywheel scrub --in IN.jsonl --out OUT.jsonl`: scrub one text per line.

Input lines: `{"id": ..., "text": "..."}`, optionally with `conversation_id` (lines that share it are one
conversation: consistent placeholders across them), `character` (the character's name, or its record
with `name`, `description`, `instructions`; its names are kept) and `persona` (text whose names are kept). Each line without `conversation_id` is its own conversation.
Output lines: `{"id", "text" (scrubbed), "entities": [{"type", "start", "end", "score"}]}` with offsets
into the input text, plus `conversation_id` when the input had one.

A malformed line is an error naming the line, and nothing is written: the output appears (atomically)
only when every line was scrubbed.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation.scrub.config import ScrubConfig
from curation.scrub.scrubber import Conversation, Scrubber
from lakehouse.errors import InputError
from lakehouse.jsonl import text_records

BATCH_LINES = 5_000


class ScrubInputError(InputError):
    """A line of the input is not a JSON object with an `id` and a string `text`."""


@dataclass
class Line:
    number: int
    record: dict
    conversation: str

    @property
    def text(self) -> str:
        return self.record["text"]


@dataclass
class JsonlSummary:
    lines: int = 0
    conversations: int = 0
    entities: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(self.entities.items())) or "none"
        return f"scrub: {self.lines:,} lines, {self.conversations:,} conversations; entities replaced: {detail}"


def _parse(path: Path) -> Iterator[Line]:
    for number, record in text_records(path, ScrubInputError):
        conversation = record.get("conversation_id")
        key = f"conversation:{conversation}" if conversation is not None else f"line:{number}"
        yield Line(number, record, key)


def _character(members: list[Line]) -> tuple[str | None, str | None]:
    """The conversation's character name and persona text, from the first line that has them.

    `character` is a name or a character record (`name`, `description`, `instructions`, as in the
    traffic format); `character_name` and `persona` are accepted too."""
    name = persona = None
    for member in members:
        record = member.record
        character = record.get("character")
        if isinstance(character, dict):
            name = name or character.get("name")
            persona = persona or " ".join(
                str(character[k]) for k in ("description", "instructions") if character.get(k)
            )
        elif character:
            name = name or str(character)
        name = name or record.get("character_name")
        persona = persona or record.get("persona")
    return (str(name) if name else None), (str(persona) if persona else None)


def _dumps(record: dict) -> str:
    """JSON with readable non-ASCII text; escaped when the text holds lone surrogates (not UTF-8)."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record)
    return line


def _batches(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    batch: list[Line] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def scrub_jsonl(in_path: Path, out_path: Path, config: ScrubConfig | None = None) -> JsonlSummary:
    scrubber = Scrubber(config)
    replacers: dict = {}
    summary = JsonlSummary()
    seen_conversations: set[str] = set()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            for batch in _batches(_parse(in_path), BATCH_LINES):
                grouped: dict[str, list[Line]] = {}
                for line in batch:
                    grouped.setdefault(line.conversation, []).append(line)
                conversations = []
                for key, members in grouped.items():
                    first = members[0].record
                    # The seed of surrogates: the conversation id, else the line's own id.
                    seed_id = str(first.get("conversation_id", first["id"]))
                    character, persona = _character(members)
                    conversations.append(Conversation(seed_id, [m.text for m in members], character, persona, key=key))
                keyed = {key: index for index, key in enumerate(grouped)}
                scrubbed = scrubber.scrub(conversations, replacers=replacers)
                results: dict[int, tuple[str, list]] = {}
                for key, members in grouped.items():
                    result = scrubbed[keyed[key]]
                    for member, text, found in zip(members, result.texts, result.entities, strict=True):
                        results[member.number] = (text, found)
                    seen_conversations.add(key)
                for line in batch:
                    text, found = results[line.number]
                    record = {"id": line.record["id"], "text": text, "entities": [f.to_json() for f in found]}
                    if "conversation_id" in line.record:
                        record["conversation_id"] = line.record["conversation_id"]
                    out.write(_dumps(record) + "\n")
                    summary.lines += 1
                    summary.entities.update(f.entity_type for f in found)
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    summary.conversations = len(seen_conversations)
    return summary
