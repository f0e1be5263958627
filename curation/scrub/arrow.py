"""The scrub stage as a pure function over Arrow record batches of conversations (docs/architecture.md, Scale).

Input: a batch with `conversation_id`, `messages` (list<struct<role, content, ...>>) and optionally
`character` (struct<name, description, instructions>) and `locale` (the language when the text does not
say): the bronze conversations schema. Output: the same
batch with every message's `content` scrubbed (all other fields untouched) and a `pii_counts` column
(list<struct<entity_type, count>>, sorted by type): how many entities of each type were replaced, never
their values.
"""

from __future__ import annotations

import pyarrow as pa

from curation.scrub.config import ScrubConfig
from curation.scrub.scrubber import Conversation, Scrubber
from lakehouse.schemas import PII_COUNTS


def character_and_persona(character: dict | None) -> tuple[str | None, str | None]:
    """The character's name and the persona text (description and instructions) whose names are kept."""
    if not character:
        return None, None
    persona = " ".join(filter(None, [character.get("description"), character.get("instructions")]))
    return character.get("name"), persona or None


def scrub_record_batch(
    batch: pa.RecordBatch, config: ScrubConfig | None = None, scrubber: Scrubber | None = None
) -> pa.RecordBatch:
    """`batch` with scrubbed message contents and a `pii_counts` column."""
    scrubber = scrubber or Scrubber(config)
    ids = batch.column("conversation_id").to_pylist()
    messages = _compact(batch.column("messages"))
    characters = batch.column("character").to_pylist() if "character" in batch.schema.names else [None] * len(ids)
    locales = batch.column("locale").to_pylist() if "locale" in batch.schema.names else [None] * len(ids)
    contents = messages.flatten().field("content").to_pylist() if len(messages) else []
    offsets = messages.offsets.to_pylist()
    conversations = []
    for row, conversation_id in enumerate(ids):
        name, persona = character_and_persona(characters[row])
        texts = [c or "" for c in contents[offsets[row] : offsets[row + 1]]] if messages[row].is_valid else []
        conversations.append(Conversation(conversation_id, texts, name, persona, locale=locales[row]))
    results = scrubber.scrub(conversations)
    scrubbed: list[str | None] = []
    for row, result in enumerate(results):
        originals = contents[offsets[row] : offsets[row + 1]] if messages[row].is_valid else []
        scrubbed += [None if original is None else text for original, text in zip(originals, result.texts, strict=True)]
    counts = [[{"entity_type": t, "count": n} for t, n in sorted(r.counts.items())] for r in results]
    new_messages = _replace_content(messages, pa.array(scrubbed, pa.string()))
    columns = [new_messages if name == "messages" else batch.column(name) for name in batch.schema.names]
    schema = batch.schema
    if "pii_counts" in schema.names:
        columns[schema.get_field_index("pii_counts")] = pa.array(counts, PII_COUNTS)
    else:
        columns.append(pa.array(counts, PII_COUNTS))
        schema = schema.append(pa.field("pii_counts", PII_COUNTS))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _compact(messages: pa.ListArray) -> pa.ListArray:
    """The same lists with offsets from 0 and no unreferenced values (a sliced batch has neither)."""
    import pyarrow.compute as pc

    if (
        messages.offset == 0
        and messages.offsets[0].as_py() == 0
        and len(messages.values) == messages.offsets[-1].as_py()
    ):
        return messages
    return pc.take(messages, pa.array(range(len(messages)), pa.int64()))


def _replace_content(messages: pa.ListArray, content: pa.Array) -> pa.ListArray:
    """`messages` with the `content` field of its structs replaced, keeping offsets, nulls and types."""
    structs = messages.values
    kind = structs.type
    fields = [content if kind.field(i).name == "content" else structs.field(i) for i in range(kind.num_fields)]
    new_structs = pa.StructArray.from_arrays(fields, fields=list(kind), mask=structs.is_null())
    return pa.ListArray.from_arrays(messages.offsets, new_structs, type=messages.type, mask=messages.is_null())
