"""From a release to what a TRL trainer or a generation run consumes.

A release is verified against its manifest before anything reads it (a changed byte refuses the run),
and its type must fit the trainer. Rows that cannot be used (an `sft` conversation without an assistant
reply, a preference pair whose sides are not single assistant messages) are counted by reason and
reported, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.releases import SPLITS, Release, ReleaseError, resolve, verify

# Which release types each trainer accepts (KTO also takes preference pairs, unpaired into two rows).
ACCEPTS = {
    "sft": ("sft",),
    "reward": ("preference",),
    "dpo": ("preference",),
    "kto": ("unpaired", "preference"),
    "grpo": ("prompt",),
    "online-dpo": ("prompt",),
    "signals": ("signals",),
    "prompts": ("prompt", "sft", "preference", "unpaired"),
}
ONLINE = ("grpo", "online-dpo")  # trainers that sample replies during training: their rows are prompts
PROVENANCE = ("source", "conversation_id", "turn", "topic_cluster", "dedup_cluster", "model_version")


class DataError(UserError, ValueError):
    """A release cannot be used for this step; the message says why."""


def open_release(lake: Lake, ref: str, purpose: str) -> Release:
    """Resolve `NAME[@VERSION]`, verify it against its manifest and check its type fits `purpose`."""
    try:
        release = resolve(lake, ref)
    except ReleaseError as exc:
        raise DataError(str(exc)) from None
    problems = verify(release)
    if problems:
        raise DataError(f"release {release.ref} does not match its manifest; refusing to start: " + "; ".join(problems))
    kind = release.manifest["type"]
    if kind not in ACCEPTS[purpose]:
        raise DataError(
            f"release {release.ref} is a {kind!r} release; {purpose} needs one of {', '.join(ACCEPTS[purpose])}"
        )
    return release


def splits(release: Release) -> list[str]:
    return [s for s in SPLITS if release.data_files(s)]


def messages(value) -> list[dict]:
    """A message list as plain {role, content} dicts (extra struct fields such as ts are dropped)."""
    return [{"role": m["role"], "content": m["content"] or ""} for m in (value or [])]


def _single_reply(value) -> bool:
    return bool(value) and len(value) == 1 and value[0]["role"] == "assistant"


@dataclass
class Rows:
    """Training rows of one split, plus the rows left out and why."""

    rows: list[dict]
    dropped: Counter = field(default_factory=Counter)


def _sft_row(row: dict, dropped: Counter) -> dict | None:
    conversation = messages(row.get("messages"))
    if not any(m["role"] == "assistant" for m in conversation):
        dropped["no_assistant_message"] += 1
        return None
    return {"messages": conversation}


def _preference_row(row: dict, dropped: Counter) -> dict | None:
    prompt, chosen, rejected = (messages(row.get(k)) for k in ("prompt", "chosen", "rejected"))
    if not prompt:
        dropped["empty_prompt"] += 1
        return None
    if not (_single_reply(chosen) and _single_reply(rejected)):
        dropped["not_single_assistant_reply"] += 1
        return None
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _unpaired_rows(row: dict, release_type: str, dropped: Counter) -> list[dict]:
    if release_type == "preference":
        pair = _preference_row(row, dropped)
        if pair is None:
            return []
        return [
            {"prompt": pair["prompt"], "completion": pair["chosen"], "label": True},
            {"prompt": pair["prompt"], "completion": pair["rejected"], "label": False},
        ]
    prompt, completion = messages(row.get("prompt")), messages(row.get("completion"))
    if not prompt:
        dropped["empty_prompt"] += 1
        return []
    if not _single_reply(completion):
        dropped["not_single_assistant_reply"] += 1
        return []
    if row.get("label") is None:
        dropped["missing_label"] += 1
        return []
    return [{"prompt": prompt, "completion": completion, "label": bool(row["label"])}]


def training_rows(release: Release, split: str, trainer: str) -> Rows:
    """The rows of `split` in the trainer's TRL format (conversational)."""
    if not release.data_files(split):
        return Rows([])
    release_type = release.manifest["type"]
    dropped: Counter = Counter()
    out: list[dict] = []
    if trainer in ONLINE:
        return _prompt_rows(release, split)
    for row in release.read(split).to_pylist():
        if trainer == "sft":
            converted = _sft_row(row, dropped)
            out.extend([converted] if converted else [])
        elif trainer in ("reward", "dpo"):
            converted = _preference_row(row, dropped)
            out.extend([converted] if converted else [])
        else:
            out.extend(_unpaired_rows(row, release_type, dropped))
    return Rows(out, dropped)


def _prompt_rows(release: Release, split: str) -> Rows:
    """Online trainers sample their own replies: each row is a conversation ending in a user turn."""
    found, dropped = prompts(release, split)
    return Rows([{"prompt": p.messages} for p in found], dropped)


def to_dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list(rows)


def texts(release: Release):
    """Every message text of the release (all splits): what `--model tiny` trains its tokenizer on."""
    columns = ("messages", "prompt", "chosen", "rejected", "completion")
    for split in splits(release):
        table = release.read(split)
        for column in columns:
            if column in table.column_names:
                for value in table.column(column).to_pylist():
                    for message in value or []:
                        yield message["content"] or ""


@dataclass(frozen=True)
class Prompt:
    """One prompt to generate from, with the provenance the lake keeps alongside every sample."""

    sample_id: str
    split: str
    messages: list[dict]
    provenance: dict

    @property
    def source(self) -> str | None:
        return self.provenance.get("source")

    @property
    def last_user_message(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


def _prompt_messages(row: dict, release_type: str) -> list[dict]:
    if release_type != "sft":
        return messages(row.get("prompt"))
    conversation = messages(row.get("messages"))
    last = max((i for i, m in enumerate(conversation) if m["role"] == "assistant"), default=len(conversation))
    return conversation[:last]


def prompts(release: Release, split: str | None = None, limit: int | None = None) -> tuple[list[Prompt], Counter]:
    """The prompts of a release (a prompt release's `prompt`; the context before the last reply of an
    `sft` conversation; the `prompt` of pairs), in release order, and the rows skipped by reason."""
    release_type = release.manifest["type"]
    chosen = [split] if split else splits(release)
    if split and not release.data_files(split):
        raise DataError(f"release {release.ref} has no {split!r} split (it has {', '.join(splits(release))})")
    out: list[Prompt] = []
    dropped: Counter[str] = Counter()
    for name in chosen:
        table: pa.Table = release.read(name)
        for row in table.to_pylist():
            conversation = _prompt_messages(row, release_type)
            if not conversation or conversation[-1]["role"] == "assistant":
                dropped["no_prompt"] += 1
                continue
            if row.get("sample_id") is None:
                dropped["no_sample_id"] += 1
                continue
            provenance = {k: row.get(k) for k in PROVENANCE if k in row}
            out.append(Prompt(str(row["sample_id"]), name, conversation, provenance))
            if limit is not None and len(out) >= limit:
                return out, dropped
    return out, dropped


def provenance_columns(release: Release) -> pa.Schema:
    """The provenance fields the release actually carries, with their types (to copy them faithfully)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(release.data_files()[0]) if release.data_files() else pa.schema([])
    return pa.schema([schema.field(name) for name in PROVENANCE if name in schema.names])
