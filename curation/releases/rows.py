"""The candidate table every source fills, and the Arrow schema of each release type's rows.

Sources insert candidates into the temporary DuckDB table `cand` (`INSERT ... BY NAME`, so a source
fills only the columns it has). A candidate backed by a turn sample carries `prompt_ref` (the sample
whose prompt it uses) and no text: prompts are rebuilt from the `samples` view once, when the release
is written, which keeps a million-conversation build within memory. Candidates not backed by a sample
(labels, rows of another release) carry their prompt inline. A candidate that cannot be used gets a
`drop_reason`; `count_and_remove_drops` turns those into the manifest's dropped-by-reason counts.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
MESSAGES_SQL = "STRUCT(role VARCHAR, content VARCHAR)[]"

CANDIDATE_COLUMNS = {
    "sample_id": "VARCHAR",
    "origin": "VARCHAR",  # the recipe source the row came from
    "origin_rank": "INTEGER",
    "conversation_id": "VARCHAR",
    "turn": "INTEGER",
    "source": "VARCHAR",
    "model_version": "VARCHAR",
    "character_id": "VARCHAR",
    "topic_cluster": "BIGINT",
    "dedup_cluster": "VARCHAR",
    "depth": "INTEGER",
    "stratum": "VARCHAR",
    "prompt_ref": "VARCHAR",
    "prompt_inline": MESSAGES_SQL,
    "last_user": "VARCHAR",  # the last user message of the prompt (leakage check, style-feature context)
    "response": "VARCHAR",
    "chosen": "VARCHAR",
    "rejected": "VARCHAR",
    "chosen_sample_id": "VARCHAR",
    "rejected_sample_id": "VARCHAR",
    "label": "BOOLEAN",
    "agreement": "DOUBLE",
    "n_annotators": "INTEGER",
    "drop_reason": "VARCHAR",
    "split": "VARCHAR",
}

# Provenance every row carries (docs/architecture.md, Release rows; train/ copies these columns through).
PROVENANCE = [
    pa.field("sample_id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("conversation_id", pa.string()),
    pa.field("turn", pa.int32()),
    pa.field("topic_cluster", pa.int64()),
    pa.field("dedup_cluster", pa.string()),
    pa.field("model_version", pa.string()),
    pa.field("character_id", pa.string()),
    pa.field("origin", pa.string()),
]
SCHEMAS = {
    "sft": pa.schema([pa.field("messages", MESSAGES), *PROVENANCE]),
    "preference": pa.schema(
        [
            pa.field("prompt", MESSAGES),
            pa.field("chosen", MESSAGES),
            pa.field("rejected", MESSAGES),
            *PROVENANCE,
            pa.field("chosen_sample_id", pa.string()),
            pa.field("rejected_sample_id", pa.string()),
        ]
    ),
    "unpaired": pa.schema(
        [pa.field("prompt", MESSAGES), pa.field("completion", MESSAGES), pa.field("label", pa.bool_()), *PROVENANCE]
    ),
    "prompt": pa.schema(
        [pa.field("prompt", MESSAGES), *PROVENANCE, pa.field("depth", pa.int32()), pa.field("stratum", pa.string())]
    ),
}

_REPLY = "[{{'role': 'assistant', 'content': {}}}]"
PAYLOAD_SQL = {
    "sft": ["list_append(prompt, {'role': 'assistant', 'content': response}) AS messages"],
    "preference": ["prompt", _REPLY.format("chosen") + " AS chosen", _REPLY.format("rejected") + " AS rejected"],
    "unpaired": ["prompt", _REPLY.format("response") + " AS completion", "label"],
    "prompt": ["prompt"],
}


def last_user_sql(prompt: str) -> str:
    """SQL for the content of the last user message of a message list."""
    return f"list_last(list_filter({prompt}, lambda m: m.role = 'user')).content"


def prompt_key_sql(prompt: str) -> str:
    """SQL for the exact-prompt hash: md5 over every message (role and content)."""
    return f"md5(array_to_string(list_transform({prompt}, lambda m: m.role || chr(31) || m.content), chr(30)))"


def first_row(con, sql: str, params: list | None = None) -> tuple:
    """The first row of a query (fetching it whole: DuckDB refuses new work while a result is unfinished)."""
    return con.execute(sql, params or []).fetchall()[0]


def scalar(con, sql: str, params: list | None = None):
    return first_row(con, sql, params)[0]


def where(*conditions: str | None) -> str:
    """AND of the given SQL conditions (each parenthesized); `true` when there are none."""
    parts = [f"({c})" for c in conditions if c and c.strip()]
    return " AND ".join(parts) or "true"


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_candidates(con) -> None:
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in CANDIDATE_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE cand ({columns})")


def count_and_remove_drops(con) -> Counter:
    """Dropped candidates by reason; they are deleted from `cand`."""
    counts = Counter(
        dict(
            con.execute(
                "SELECT drop_reason, count(*) FROM cand WHERE drop_reason IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
    )
    if counts:
        con.execute("DELETE FROM cand WHERE drop_reason IS NOT NULL")
    return counts


def mark(con, reason: str, condition: str) -> int:
    """Give every live candidate matching `condition` the drop reason; returns how many."""
    before = scalar(con, f"SELECT count(*) FROM cand WHERE drop_reason IS NULL AND ({condition})")
    if before:
        con.execute(f"UPDATE cand SET drop_reason = {quote(reason)} WHERE drop_reason IS NULL AND ({condition})")
    return before
