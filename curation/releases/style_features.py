"""The style-feature attribute table (`attributes/style_features`): every feature of the artifact registry
(lakehouse.style_artifacts) for one reply in its context, computed once and reused by every later build.

Rows are keyed by `text_key` = md5(context || chr(0) || reply), the context being the last user message
(the registry's `repeats_user` reads it). A build asks for the features of its replies; the keys already
in the table are read back, only the new ones are computed and appended, so a rebuild over the same
traffic computes nothing. A feature added to the registry later
is missing (null) in old rows, and those rows are computed again.
"""

from __future__ import annotations

import pyarrow as pa

from curation.releases.rows import scalar
from lakehouse import catalog, schemas, style_artifacts, tables
from lakehouse.lake import Lake

FEATURE_NAMES = list(style_artifacts.FEATURES)


def key_sql(context: str, reply: str) -> str:
    return f"md5(coalesce({context}, '') || chr(0) || {reply})"


def compute(contexts: list[str], replies: list[str]) -> dict[str, list]:
    """Feature columns for the replies, in order (pure Python, ~60 us a reply: only new ones get here)."""
    columns: dict[str, list] = {name: [] for name in FEATURE_NAMES}
    for context, reply in zip(contexts, replies, strict=True):
        for name, value in style_artifacts.features(reply, context).items():
            columns[name].append(value)
    return columns


def _stored_sql(con, lake: Lake) -> str | None:
    files = lake.files(tables.STYLE_FEATURES)
    if not files:
        return None
    complete = " AND ".join(f"{name} IS NOT NULL" for name in FEATURE_NAMES)
    return f"(SELECT * FROM {catalog.parquet_scan(con, lake, files, 'style')} WHERE {complete})"


def ensure(con, lake: Lake, replies_sql: str) -> dict:
    """Make the temp table `style(text_key, <features>)` cover every (context, reply) of `replies_sql`.

    `replies_sql` yields columns `context` and `reply`. Returns counts: needed, reused, computed.
    """
    con.execute(f"""CREATE OR REPLACE TEMP TABLE style_needed AS
                    SELECT DISTINCT {key_sql("context", "reply")} AS text_key, coalesce(context, '') AS context, reply
                    FROM ({replies_sql}) WHERE reply IS NOT NULL""")
    features = ", ".join(f"any_value({name}) AS {name}" for name in FEATURE_NAMES)
    stored = _stored_sql(con, lake)
    if stored:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE style AS SELECT text_key, {features} FROM {stored}
                        WHERE text_key IN (SELECT text_key FROM style_needed) GROUP BY text_key""")
    else:
        sql_types = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN", pa.float64(): "DOUBLE"}
        columns = ", ".join(f"{f.name} {sql_types[f.type]}" for f in schemas.STYLE_FEATURES)
        con.execute(f"CREATE OR REPLACE TEMP TABLE style ({columns})")
    missing = con.sql("""SELECT text_key, context, reply FROM style_needed
                             WHERE text_key NOT IN (SELECT text_key FROM style) ORDER BY text_key""").to_arrow_table()
    needed = scalar(con, "SELECT count(*) FROM style_needed")
    if missing.num_rows:
        values = compute(missing["context"].to_pylist(), missing["reply"].to_pylist())
        new = pa.table({"text_key": missing["text_key"], **values}).cast(schemas.STYLE_FEATURES)
        with lake.transaction() as tx:
            tx.write(tables.STYLE_FEATURES, new)
        con.register("style_new", new)
        con.execute("INSERT INTO style BY NAME SELECT * FROM style_new")
        con.unregister("style_new")
    return {"needed": needed, "reused": needed - missing.num_rows, "computed": missing.num_rows}
