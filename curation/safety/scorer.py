"""Scoring the messages of conversations: Arrow in, rows of `attributes/safety` out.

The messages of a batch are flattened in Arrow (no Python dict per message), the roles the recipe names
are kept, and each distinct text is scored once per classifier: chat traffic repeats itself (openers,
stock replies), and every classifier is far faster on one long list than on a call per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.safety import classifiers as classifier_loader
from curation.safety.config import SafetyConfig
from lakehouse.schemas import SAFETY, SAFETY_SCORE


@dataclass
class Counts:
    """What the scorer did, for the stage's summary: messages, distinct texts (per scoring call, so a text
    in two calls counts twice), flags per classifier."""

    messages: int = 0
    distinct: int = 0
    flagged: int = 0
    by_classifier: dict[str, int] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.messages += other.messages
        self.distinct += other.distinct
        self.flagged += other.flagged
        for name, n in other.by_classifier.items():
            self.by_classifier[name] = self.by_classifier.get(name, 0) + n


class SafetyScorer:
    """Every classifier of a config, loaded once; `score_conversations` scores a batch of conversations."""

    def __init__(self, config: SafetyConfig):
        self.config = config
        self.classifiers = [classifier_loader.load(c, f"classifiers.{i}") for i, c in enumerate(config.classifiers)]
        self.names = [c.name for c in self.classifiers]

    def score_texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(scores, flags), each of shape (len(texts), classifiers)."""
        scores = (
            np.stack([c.score(texts) for c in self.classifiers], axis=1)
            if texts
            else np.zeros((0, len(self.classifiers)), np.float32)
        )
        thresholds = np.array([c.threshold for c in self.classifiers], np.float32)
        return scores, scores >= thresholds

    def score_conversations(self, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, Counts]:
        """One `attributes/safety` row per message of the configured roles, in conversation and turn order."""
        return self.score_tables([batch])[0]

    def score_tables(self, parts: list[pa.RecordBatch | pa.Table]) -> list[tuple[pa.Table, Counts]]:
        """`score_conversations` of several tables with one classifier call each: a call has a fixed cost
        (several milliseconds for the profanity model), so many small files are scored together."""
        flats = [_flatten(part, self.config.roles) for part in parts]
        content = pa.chunked_array([f.column("content") for f in flats], pa.string()).combine_chunks()
        distinct = pc.unique(content)
        scores, flags = self.score_texts(distinct.to_pylist())
        index = pc.index_in(content, distinct).to_numpy(zero_copy_only=False)
        out, start = [], 0
        for number, messages in enumerate(flats):
            mine = index[start : start + messages.num_rows]
            start += messages.num_rows
            part_flags = flags[mine]
            counts = Counts(
                messages.num_rows,
                len(distinct) if number == 0 else 0,
                int(part_flags.any(axis=1).sum()) if len(mine) else 0,
                {name: int(part_flags[:, k].sum()) for k, name in enumerate(self.names)},
            )
            out.append((_rows(messages, self.names, scores[mine], part_flags), counts))
        return out


def _flatten(batch: pa.RecordBatch | pa.Table, roles: Sequence[str]) -> pa.Table:
    """conversation_id, turn, role, content of every message whose role is in `roles` and has text."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    lists = table.column("messages").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.cumsum(lengths) - lengths
    parents = np.repeat(np.arange(len(lengths)), lengths)
    flat = pc.list_flatten(lists)
    flat_table = pa.table(
        {
            "conversation_id": pc.take(table.column("conversation_id"), pa.array(parents, pa.int64())),
            "turn": pa.array(np.arange(len(parents)) - starts[parents], pa.int32()),
            "role": pc.struct_field(flat, "role"),
            "content": pc.struct_field(flat, "content"),
        }
    )
    keep = pc.and_(
        pc.is_in(flat_table["role"], pa.array(roles, pa.string())), pc.invert(pc.is_null(flat_table["content"]))
    )
    return flat_table.filter(pc.fill_null(keep, False))


def _rows(messages: pa.Table, names: list[str], scores: np.ndarray, flags: np.ndarray) -> pa.Table:
    n, k = scores.shape
    entries = pa.StructArray.from_arrays(
        [
            pa.array(np.tile(np.array(names, dtype=object), n), pa.string()),
            pa.array(scores.reshape(-1), pa.float32()),
            pa.array(flags.reshape(-1), pa.bool_()),
        ],
        fields=list(SAFETY_SCORE),
    )
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k), pa.int32()), entries)
    return pa.table(
        {
            "conversation_id": messages["conversation_id"],
            "turn": messages["turn"],
            "role": messages["role"],
            "scores": lists,
            "flagged": pa.array(flags.any(axis=1) if k else np.zeros(n, bool), pa.bool_()),
        },
        schema=SAFETY,
    )
