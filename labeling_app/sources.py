"""Where queue items come from: SQL over the catalog, a named preset, or a release (directory or NAME@VERSION).

Every source becomes rows of one shape per kind, then task payloads:
- single-reply kinds (questionnaire, rating, rewrite): sample_id, prompt, response
- pairwise: sample_id_a, sample_id_b, prompt, response_a, response_b
plus optional character_id/_name/_description/_instructions, model_version(_a/_b), conversation_id,
turn and source. A query missing a required column is refused with the columns it lacks; a row that
cannot become a task (no prompt, empty reply) is counted by reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse import sql_guard
from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.location import ObjectPath

SINGLE_COLUMNS = ("sample_id", "prompt", "response")
PAIR_COLUMNS = ("sample_id_a", "sample_id_b", "prompt", "response_a", "response_b")
CHARACTER_COLUMNS = ("character_id", "character_name", "character_description", "character_instructions")

REGENERATIONS_SQL = """
SELECT o.sample_id AS sample_id_a, r.sample_id AS sample_id_b, o.prompt,
       o.response AS response_a, r.response AS response_b,
       o.model_version AS model_version_a, r.model_version AS model_version_b,
       o.character_id, o.character_name, o.character_description, o.character_instructions,
       o.conversation_id, o.turn, o.source
FROM samples o JOIN samples r ON r.conversation_id = o.conversation_id AND r.turn = o.replacement_turn
WHERE o.regenerated
ORDER BY o.conversation_id, o.turn
"""

# Two model versions' replies to the same prompt (same character and context); one pair per prompt.
MODEL_VERSIONS_SQL = """
WITH s AS (SELECT *, md5(CAST(prompt AS VARCHAR)) AS prompt_hash FROM samples WHERE response IS NOT NULL)
SELECT a.sample_id AS sample_id_a, b.sample_id AS sample_id_b, a.prompt,
       a.response AS response_a, b.response AS response_b,
       a.model_version AS model_version_a, b.model_version AS model_version_b,
       a.character_id, a.character_name, a.character_description, a.character_instructions,
       a.conversation_id, a.turn, a.source
FROM s a JOIN s b ON a.prompt_hash = b.prompt_hash
WHERE a.model_version = $first AND b.model_version = $second
QUALIFY row_number() OVER (PARTITION BY a.prompt_hash ORDER BY a.sample_id, b.sample_id) = 1
ORDER BY a.sample_id
"""

# Pairs that arrived as pairs (hh-rlhf): the chosen and the rejected reply, as turn samples.
PREFERENCE_PAIRS_SQL = """
SELECT c.sample_id AS sample_id_a, r.sample_id AS sample_id_b, c.prompt,
       c.response AS response_a, r.response AS response_b,
       c.model_version AS model_version_a, r.model_version AS model_version_b,
       'chosen' AS origin_a, 'rejected' AS origin_b,
       c.character_id, c.character_name, c.character_description, c.character_instructions,
       c.conversation_id, c.turn, c.source
FROM bronze_preference_pairs p
JOIN samples c ON c.conversation_id = p.chosen_conversation_id AND c.turn = p.turn
JOIN samples r ON r.conversation_id = p.rejected_conversation_id AND r.turn = p.turn
ORDER BY p.pair_id
"""

# Safety review: per conversation that the safety stage flagged or whose user reported a reply, its latest
# such turn sample, so the reviewer sees the conversation up to it (the prompt) and the reply. A sample
# is flagged when its reply or a message of its prompt is (`samples.safety_flagged`, docs/safety.md);
# before the safety stage has run, only reported replies qualify.
FLAGGED_SQL = """
SELECT sample_id, prompt, response, model_version, character_id, character_name, character_description,
       character_instructions, conversation_id, turn, source
FROM samples
WHERE coalesce(safety_flagged, false) OR coalesce(reported, false)
QUALIFY row_number() OVER (PARTITION BY conversation_id ORDER BY turn DESC) = 1
ORDER BY conversation_id
"""

PRESETS = {
    "regenerations": "pairs of a regenerated reply and its replacement, from traffic",
    "preference-pairs": "pairs that arrived as pairs (hh-rlhf chosen and rejected replies)",
    "flagged": "conversations the safety stage flagged or users reported: the latest such reply of each, for review",
    "model-versions:V1,V2": "pairs of replies by model versions V1 and V2 to the same prompt",
}


class SourceError(UserError, ValueError):
    """A source that cannot give tasks of the requested kind (the message says why)."""


@dataclass
class SourceItems:
    items: list[tuple[str, dict]]
    skipped: Counter = field(default_factory=Counter)
    description: str = ""

    def summary(self) -> str:
        skipped = ", ".join(f"{reason}={n}" for reason, n in sorted(self.skipped.items()))
        return f"{len(self.items):,} items from {self.description}" + (f"; skipped {skipped}" if skipped else "")


def load_items(lake_root: Path, kind: str, source: str) -> SourceItems:
    """Task items of `kind` from `source`: a release directory, a preset name, or a SQL query."""
    release = _release_dir(lake_root, source)
    if release is not None:
        rows, trl_type = release_rows(release, kind)
        description = f"release {release} ({trl_type})"
    else:
        sql, params = _preset_sql(source)
        rows = sql_rows(lake_root, sql, params)
        description = f"preset {source}" if params is not None else "SQL query"
    result = rows_to_items(kind, rows)
    result.description = description
    return result


RELEASE_REF = re.compile(r"^[a-z0-9][a-z0-9_.-]*@(latest|v?\d+)$")


def _release_dir(lake_root: Path, source: str) -> Path | ObjectPath | None:
    """The release directory `source` names (a path, or NAME@VERSION), or None when it is no release."""
    text = source.strip()
    if re.search(r"\s", text):
        return None
    if RELEASE_REF.match(text):
        from lakehouse.lake import Lake
        from lakehouse.releases import ReleaseError, resolve

        try:
            return resolve(Lake(lake_root), text).path
        except ReleaseError as exc:
            raise SourceError(str(exc)) from None
    for candidate in (Path(text), Path(lake_root) / text):
        if candidate.is_dir():
            return candidate
    if "/" in text and not text.lower().startswith(("select", "with")):
        raise SourceError(f"no release directory at {text} (nor under the lake {lake_root})")
    return None


def _preset_sql(source: str) -> tuple[str, dict | None]:
    text = source.strip()
    if text == "regenerations":
        return REGENERATIONS_SQL, {}
    if text == "preference-pairs":
        return PREFERENCE_PAIRS_SQL, {}
    if text == "flagged":
        return FLAGGED_SQL, {}
    if text.startswith("model-versions:"):
        versions = [v.strip() for v in text.split(":", 1)[1].split(",")]
        if len(versions) != 2 or not all(versions) or versions[0] == versions[1]:
            raise SourceError("model-versions needs two different versions: model-versions:V1,V2")
        return MODEL_VERSIONS_SQL, {"first": versions[0], "second": versions[1]}
    if re.fullmatch(r"[A-Za-z][\w-]*(:.*)?", text):
        raise SourceError(f"unknown preset {text!r}; presets: {', '.join(PRESETS)}; or give SQL or a release directory")
    return text, None


def sql_rows(lake_root: Path, sql: str, params: dict | None = None) -> list[dict]:
    """Rows of one SELECT over the lake's catalog, on a locked read-only connection (lakehouse/sql_guard.py):
    a reviewer's SQL cannot write, attach, install or read files outside the lake's tables."""
    import duckdb

    try:
        sql_guard.check_query(sql)
    except sql_guard.RefusedSQL as exc:
        raise SourceError(f"the query was refused: {exc}") from None
    con = sql_guard.connect(Lake(lake_root))
    try:
        relation = con.sql(sql, params=params) if params else con.sql(sql)
        if relation is None:
            raise SourceError("the query returned no rows (is it a SELECT?)")
        return relation.to_arrow_table().to_pylist()
    except duckdb.Error as exc:
        raise SourceError(f"the query failed: {exc}") from None
    finally:
        con.close()


def release_rows(release: Path | ObjectPath, kind: str) -> tuple[list[dict], str]:
    """Rows of a release in the shape `kind` needs, and the release's TRL type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((release / "data").glob("*.parquet"))
    if not files:
        raise SourceError(f"{release} has no data/*.parquet files")
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    columns = set(table.column_names)
    manifest = release / "manifest.json"
    declared = json.loads(manifest.read_text()).get("type") if manifest.exists() else None
    if declared == "prompt":
        raise SourceError(f"{release} is a prompt release: it has no replies to label")
    if {"prompt", "chosen", "rejected"} <= columns:
        trl_type = "preference"
    elif "messages" in columns:
        trl_type = "sft"
    elif {"prompt", "completion"} <= columns:
        trl_type = "unpaired"
    else:
        raise SourceError(
            f"{release}: not a preference, sft or unpaired release (columns: {', '.join(sorted(columns))})"
        )
    if (kind == "pairwise") != (trl_type == "preference"):
        need = "a preference release" if kind == "pairwise" else "an sft or unpaired release"
        raise SourceError(f"{kind} queues need {need}; {release} is a {trl_type} release")
    return [_release_row(row, trl_type) for row in table.to_pylist()], trl_type


def _last_text(value) -> str | None:
    """The text of a TRL completion: a string, or the last message of a message list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        return value[-1].get("content")
    return None


def _release_row(row: dict, trl_type: str) -> dict:
    base = {k: row.get(k) for k in ("conversation_id", "turn", "source") if k in row}
    if trl_type == "preference":
        sample_id = row.get("sample_id")
        return {
            **base,
            "prompt": row["prompt"],
            "response_a": _last_text(row["chosen"]),
            "response_b": _last_text(row["rejected"]),
            "sample_id_a": f"{sample_id}:chosen" if sample_id else None,
            "sample_id_b": f"{sample_id}:rejected" if sample_id else None,
            "origin_a": "chosen",
            "origin_b": "rejected",
        }
    if trl_type == "sft":
        messages = row["messages"] or []
        last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
        prompt = messages[:last] if last is not None else None
        response = messages[last]["content"] if last is not None else None
        return {**base, "sample_id": row.get("sample_id"), "prompt": prompt, "response": response}
    return {
        **base,
        "sample_id": row.get("sample_id"),
        "prompt": row["prompt"],
        "response": _last_text(row["completion"]),
    }


def _require(kind: str, rows: list[dict], required: tuple[str, ...]) -> None:
    present = set(rows[0]) if rows else set(required)
    missing = [c for c in required if c not in present]
    if missing:
        raise SourceError(
            f"{kind} items need the columns {', '.join(required)}; the source lacks "
            f"{', '.join(missing)} (it has: {', '.join(sorted(present))})"
        )


def _messages(prompt) -> list[dict] | None:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        return None
    messages = []
    for message in prompt:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return None
        messages.append({"role": str(message.get("role") or "user"), "content": message["content"]})
    return messages


def _character(row: dict, prompt: list[dict]) -> dict:
    character = {k.removeprefix("character_"): row.get(k) for k in CHARACTER_COLUMNS}
    system = [m["content"] for m in prompt if m["role"] == "system"]
    character["system_prompt"] = system[0] if system else None
    return character


def _key(*ids) -> str | None:
    return "|".join(str(i) for i in ids) if all(i is not None and i != "" for i in ids) else None


def _content_key(payload: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def rows_to_items(kind: str, rows: list[dict]) -> SourceItems:
    """Task payloads from source rows; rows that cannot become a task are counted by reason."""
    pairwise = kind == "pairwise"
    _require(kind, rows, PAIR_COLUMNS if pairwise else SINGLE_COLUMNS)
    result = SourceItems(items=[])
    seen: set[str] = set()
    for row in rows:
        prompt = _messages(row.get("prompt"))
        if not prompt or not any(m["role"] != "system" for m in prompt):
            result.skipped["no_prompt"] += 1
            continue
        sides = ("a", "b") if pairwise else ("",)
        found = [row.get(f"response_{s}" if s else "response") for s in sides]
        texts = [t for t in found if isinstance(t, str) and t.strip()]
        if len(texts) != len(found):
            result.skipped["empty_response"] += 1
            continue
        if pairwise and texts[0].strip() == texts[1].strip():
            result.skipped["identical_candidates"] += 1
            continue
        candidates = []
        for side, text in zip(sides, texts, strict=True):
            suffix = f"_{side}" if side else ""
            candidates.append(
                {
                    "sample_id": row.get(f"sample_id{suffix}"),
                    "text": text,
                    "model_version": row.get(f"model_version{suffix}"),
                    "origin": row.get(f"origin{suffix}"),
                }
            )
        payload = {
            "prompt": prompt,
            "character": _character(row, prompt),
            "candidates": candidates,
            "meta": {k: row.get(k) for k in ("conversation_id", "turn", "source")},
        }
        if row.get("gold") is not None:  # a gold item's known answer (queues.add_gold takes it out again)
            payload["gold"] = str(row["gold"])
        key = _key(*(c["sample_id"] for c in candidates)) or _content_key(payload)
        if key in seen:
            result.skipped["duplicate_item"] += 1
            continue
        seen.add(key)
        result.items.append((key, payload))
    return result
