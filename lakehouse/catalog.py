"""`catalog.duckdb`: views over every table of the lake, rebuilt atomically, opened read-only by readers.

DuckDB admits one read-write process per database file or many read-only ones, never both. The catalog
is therefore never written in place: `refresh` builds a new file beside it and renames it over the old
one, and every reader (`flywheel sql`, the labeling app, notebooks) connects with `read_only=True`.

Each table's view is pinned to one Delta version: it lists that version's files (`read_parquet` over an
explicit list, since DuckDB's delta extension cannot be installed offline), so every query over one
catalog sees one snapshot, whatever writers commit meanwhile. The version is the table's latest complete
one (`Lake.complete_version`): a stage that commits its output in pieces shows it only once it has
finished. Paths are relative to the lake root and resolved through DuckDB's `file_search_path`, which
`connect` sets to the lake's directory, so a copied or moved lake reads itself.

A lake on object storage (`--lake s3://...`) gets the same views over Arrow datasets instead of file
lists, because DuckDB cannot install its S3 extension here: each table's pinned version becomes a pyarrow
dataset registered on the connection (`__src_<view>`), recorded in the catalog's `__flywheel_sources`
table so every connection registers the same versions again (`attach_sources`); the runs ledger and the
release manifests, which are small, are copied into the catalog as tables. The catalog file itself lives in
the lake's local directory (`lakehouse.location.local_dir`). With httpfs available (production), the
local-lake path works on S3 as it is: docs/scale.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from lakehouse import erasure as _erasure  # noqa: F401 - registers meta/erasures and meta/erasure_requests
from lakehouse import schemas
from lakehouse import tables as table_registry
from lakehouse.lake import Lake, LakeError
from lakehouse.location import ObjectPath
from lakehouse.schemas import EMBEDDING_DIM
from lakehouse.tables import TableSpec

# The safety stage's attribute table (curation/stages/safety.py), registered here beside its views.
SAFETY = table_registry.register(
    TableSpec(
        "attributes/safety",
        schemas.SAFETY,
        description="Safety classifier scores and flags per message (conversation_id, turn); the `safety` view.",
    )
)

# One definition of how a character becomes the system message of a turn sample (docs/architecture.md, Turn samples).
CHARACTER_SYSTEM_PROMPT_SQL = """
CREATE OR REPLACE MACRO character_system_prompt(ch) AS
    CASE WHEN ch IS NULL OR concat(ch.name, ch.description, ch.instructions) = '' THEN NULL
    ELSE concat(CASE WHEN coalesce(ch.name, '') <> '' THEN 'You are ' || ch.name || '.'
                     ELSE 'You are the character described here.' END,
                CASE WHEN coalesce(ch.description, '') <> '' THEN ' ' || ch.description ELSE '' END,
                CASE WHEN coalesce(ch.instructions, '') <> '' THEN chr(10) || chr(10) || 'Instructions: ' || ch.instructions ELSE '' END)
    END
"""

# Friendly names for tables that analysts query directly.
ALIASES = {
    "exposures": "bronze_exposures",
    "preference_pairs": "bronze_preference_pairs",
    "ingested_files": "meta_ingested_files",
    "labels": "labels_labels",
    "models": "meta_models",
    "evals": "meta_evals",
    "candidates": "attributes_candidates",
    "reward_scores": "attributes_reward_scores",
    "generation_runs": "meta_generations",
    "generations": "meta_model_generations",
    "sample_report": "attributes_sample_report",
    "erasures": "meta_erasures",
    "erasure_requests": "meta_erasure_requests",
    "ab_experiments": "meta_ab_experiments",
    "ab_results": "meta_ab_results",
}

# One row per topic: its label and counts, with its representative messages as a list.
TOPIC_LABELS_SQL = """
CREATE VIEW topic_labels AS
SELECT l.*, coalesce(e.examples, []::VARCHAR[]) AS examples
FROM attributes_topic_labels l
LEFT JOIN (SELECT topic_cluster, list(text ORDER BY rank) AS examples FROM attributes_topic_examples GROUP BY 1) e
    USING (topic_cluster)
ORDER BY topic_cluster
"""

CONVERSATIONS_SQL = """
CREATE VIEW conversations AS
SELECT conversation_id, source, started_at, day, user_id, character, model_version, experiment, app, locale,
       messages, len(messages) AS n_messages, content_hash, origin, {pii_counts} AS pii_counts,
       '{layer}' AS text_layer
FROM {text_layer}
"""

TURNS_SQL = """
CREATE VIEW turns AS
SELECT conversation_id || ':' || turn AS turn_id, conversation_id, turn, source, started_at, day, user_id,
       character_id, model_version, experiment_id, arm,
       m.role AS role, m.content AS content, m.ts AS ts,
       m.signals.continued AS continued, m.signals.thumb AS thumb, m.signals.love AS love,
       m.signals.regenerated AS regenerated, m.signals.reported AS reported, m.signals.feedback AS feedback
FROM (
    SELECT conversation_id, source, started_at, day, user_id, character.character_id AS character_id,
           model_version, experiment.experiment_id AS experiment_id, experiment.arm AS arm,
           generate_subscripts(messages, 1) - 1 AS turn, unnest(messages) AS m
    FROM conversations
)
"""

# The last user message of a prompt: what the embed and cluster stages embed, and `flywheel similar` finds.
LAST_USER_MESSAGE_SQL = """
CREATE OR REPLACE MACRO last_user_message(prompt) AS list_last(list_filter(prompt, lambda m: m.role = 'user')).content
"""

# Turn samples with the attribute columns of the dedup, cluster and sample stages (NULL, or true for
# is_representative, while a stage has not run). A sample is a dedup representative when its prompt is
# (the first occurrence of its near-duplicate group, within its character) and its conversation is (not
# a copy of an earlier one); docs/dedup.md. The safety columns (docs/safety.md) are NULL while the safety
# stage has not scored the conversation: `safety_reply_flagged` (the reply), `safety_prompt_flagged` (a
# message of the prompt: an earlier message but a regenerated reply, as the prompt leaves those out) and
# `safety_flagged` (either).
SAMPLES_SQL = """
CREATE VIEW samples AS
WITH safety_by_conversation AS (
    SELECT conversation_id, list(turn) FILTER (WHERE flagged) AS flagged_turns FROM attributes_safety GROUP BY 1
), positioned AS (
    SELECT c.*, f.conversation_id IS NOT NULL AS safety_scored, coalesce(f.flagged_turns, []) AS safety_turns,
           generate_subscripts(c.messages, 1) AS i
    FROM conversations c LEFT JOIN safety_by_conversation f ON f.conversation_id = c.conversation_id
), base AS (
SELECT conversation_id || ':' || (i - 1) AS sample_id,
       conversation_id, (i - 1)::INTEGER AS turn, source, started_at, day, user_id, model_version,
       experiment.experiment_id AS experiment_id, experiment.arm AS arm, app, locale,
       character.character_id AS character_id, character.name AS character_name,
       character.description AS character_description, character.instructions AS character_instructions,
       list_concat(
           CASE WHEN character_system_prompt(character) IS NULL THEN []
                ELSE [{'role': 'system', 'content': character_system_prompt(character)}] END,
           list_transform(
               list_filter(messages[1:i - 1],
                           lambda m: NOT (m.role = 'assistant' AND coalesce(m.signals.regenerated, false))),
               lambda m: {'role': m.role, 'content': m.content})
       ) AS prompt,
       messages[i].content AS response,
       len(list_filter(messages[1:i - 1], lambda m: m.role = 'user'))::INTEGER AS depth,
       messages[i].signals.continued AS continued, messages[i].signals.thumb AS thumb,
       messages[i].signals.love AS love, coalesce(messages[i].signals.regenerated, false) AS regenerated,
       messages[i].signals.reported AS reported, messages[i].signals.feedback AS feedback,
       CASE WHEN coalesce(messages[i].signals.regenerated, false) AND i < len(messages)
                 AND messages[i + 1].role = 'assistant' THEN i::INTEGER END AS replacement_turn,
       CASE WHEN i > 1 AND messages[i - 1].role = 'assistant'
                 AND coalesce(messages[i - 1].signals.regenerated, false) THEN (i - 2)::INTEGER END AS replaces_turn,
       CASE WHEN safety_scored THEN list_contains(safety_turns, i - 1) END AS safety_reply_flagged,
       CASE WHEN safety_scored THEN len(list_filter(safety_turns, lambda t: t < i - 1 AND NOT (
                messages[t + 1].role = 'assistant' AND coalesce(messages[t + 1].signals.regenerated, false)))) > 0
       END AS safety_prompt_flagged
FROM positioned
WHERE messages[i].role = 'assistant'
)
SELECT b.*,
       p.cluster AS dedup_cluster,
       coalesce(p.is_representative, true) AND coalesce(d.is_representative, true) AS is_representative,
       p.similarity AS dedup_similarity,
       t.topic_cluster::BIGINT AS topic_cluster, t.topic_label, t.is_semantic_representative, t.semantic_similarity,
       a.selected AS sampled,
       b.safety_reply_flagged OR b.safety_prompt_flagged AS safety_flagged
FROM base b
LEFT JOIN attributes_dedup_prompts p ON p.sample_id = b.sample_id
LEFT JOIN attributes_dedup_conversations d ON d.conversation_id = b.conversation_id
LEFT JOIN attributes_topics t ON t.sample_id = b.sample_id
LEFT JOIN attributes_sample a ON a.sample_id = b.sample_id
"""

# The embedding cache with its vectors typed FLOAT[384] (Parquet stores them as a plain list), and the
# vector of every turn sample's last user message, for array_cosine_similarity in SQL.
EMBEDDINGS_SQL = """
CREATE VIEW embeddings AS
SELECT text_hash, model, embedding::FLOAT[{dim}] AS embedding FROM attributes_embeddings;
CREATE VIEW sample_embeddings AS
SELECT s.sample_id, s.conversation_id, s.turn, last_user_message(s.prompt) AS last_user, e.model, e.embedding
FROM samples s JOIN embeddings e ON e.text_hash = md5(last_user_message(s.prompt))
"""

# One row per scored message with the classifiers that flagged it; `safety_score(scores, 'profanity')`
# reads one classifier's score.
SAFETY_SQL = """
CREATE OR REPLACE MACRO safety_score(scores, name) AS list_filter(scores, lambda s: s.classifier = name)[1].score;
CREATE VIEW safety AS
SELECT conversation_id || ':' || turn AS turn_id, conversation_id, turn, role, flagged,
       list_transform(list_filter(scores, lambda s: s.flagged), lambda s: s.classifier) AS flagged_by, scores
FROM attributes_safety
"""

# "Which data trained this checkpoint?": one row per release in a model's ancestry (its own release at
# depth 0, the releases of the model it started from at depth 1, ...).
MODEL_DATA_SQL = """
CREATE VIEW model_data AS
SELECT run_id, kind, output_dir, a.depth AS depth, a.run_id AS trained_by_run_id, a.kind AS trained_by_kind,
       a.release AS release, a.release_content_hash AS release_content_hash
FROM (SELECT run_id, kind, output_dir, unnest(ancestry) AS a FROM meta_models)
"""

RUN_COLUMNS = {
    "run_id": "VARCHAR",
    "command": "VARCHAR",
    "status": "VARCHAR",
    "started_at": "TIMESTAMPTZ",
    "finished_at": "TIMESTAMPTZ",
    "lake": "VARCHAR",
    "recipe_hash": "VARCHAR",
    "code_version": "VARCHAR",
    "error": "VARCHAR",
    "stages": "STRUCT(name VARCHAR, rows_in BIGINT, rows_out BIGINT, "
    'dropped STRUCT(reason VARCHAR, "rows" BIGINT)[], seconds DOUBLE, peak_rss_mb DOUBLE)[]',
}


def _quote(path: Path | ObjectPath | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def pinned_versions(lake: Lake) -> dict[str, int]:
    """The version each table's view shows: its latest complete version (tables that exist only)."""
    found = {name: lake.complete_version(name) for name in sorted(table_registry.TABLES)}
    return {name: version for name, version in found.items() if version is not None}


def _relative_files(lake: Lake, spec: TableSpec, versions: dict[str, int]) -> list[str]:
    if spec.name not in versions:
        return []
    return [p.relative_to(lake.root).as_posix() for p in lake.files(spec, version=versions[spec.name])]


SOURCES = "__flywheel_sources"  # remote lakes: the Arrow datasets each connection registers


def _table_view_sql(lake: Lake, spec: TableSpec, versions: dict[str, int], con=None) -> str | None:
    """SQL for a view over the files of the table's pinned version, or None when it has none."""
    files = _relative_files(lake, spec, versions)
    if not files:
        return None
    if lake.remote:
        name = _register_source(con, lake, f"__src_{spec.view}", {"table": spec.name, "version": versions[spec.name]})
        return f"CREATE VIEW {spec.view} AS SELECT * FROM {name}"
    listed = "[" + ", ".join(_quote(f) for f in files) + "]"
    hive = "hive_partitioning = true, hive_types = {'day': DATE}" if spec.partitioned else "hive_partitioning = false"
    return f"CREATE VIEW {spec.view} AS SELECT * FROM read_parquet({listed}, {hive}, union_by_name = true)"


def _source_dataset(lake: Lake, source: dict):
    """The pyarrow dataset a `__flywheel_sources` entry names: a table at a version, or one file."""
    import pyarrow.dataset as ds

    if "table" in source:
        return lake.dataset(source["table"], version=source["version"])
    path = _object_path(lake, source["file"])
    return ds.dataset(path.key, format="parquet", filesystem=path.fs)


def _object_path(lake: Lake, file: str | os.PathLike) -> ObjectPath:
    """A file of a lake on object storage, for the code paths that read it through Arrow (DuckDB has no
    httpfs here); reaching them with a local lake is a bug."""
    path = lake.absolute(file)
    if not isinstance(path, ObjectPath):
        raise LakeError(f"{path} is a local file: only a lake on object storage is read through Arrow here")
    return path


def _register_source(con, lake: Lake, name: str, source: dict) -> str:
    con.register(name, _source_dataset(lake, source))
    con.execute(f"CREATE TABLE IF NOT EXISTS {SOURCES} (name VARCHAR, source VARCHAR)")
    con.execute(f"INSERT INTO {SOURCES} VALUES (?, ?)", [name, json.dumps(source, sort_keys=True)])
    return name


def attach_sources(con, lake: Lake) -> None:
    """Register the Arrow datasets a remote lake's catalog views read (no-op for a local lake)."""
    if not lake.remote:
        return
    found = con.execute(f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{SOURCES}'").fetchone()[0]
    if found:
        for name, source in con.execute(f"SELECT name, source FROM {SOURCES}").fetchall():
            con.register(name, _source_dataset(lake, json.loads(source)))


def _json_source(con, lake: Lake, pattern: str, columns: str, key: str) -> str:
    """`read_json` over lake-relative `pattern`; for a remote lake, the matching objects are copied to a
    temporary directory and materialized as a catalog table (they are small: run records, manifests)."""
    if not lake.remote:
        return f"read_json('{pattern}', columns = {columns}, format = 'auto')"
    local = Path(tempfile.mkdtemp(prefix="flywheel-catalog-"))
    try:
        for path in lake.root.glob(pattern):
            target = local / path.relative_to(lake.root).as_posix()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        glob = _quote(local / pattern)
        con.execute(f"CREATE TABLE {key} AS SELECT * FROM read_json({glob}, columns = {columns}, format = 'auto')")
    finally:
        shutil.rmtree(local, ignore_errors=True)
    return key


def parquet_scan(con, lake: Lake, files: list, key: str = "scan") -> str:
    """A FROM expression over these Parquet files of the lake, columns matched by name: `read_parquet` on a
    local lake; on object storage (no httpfs) their rows read through pyarrow and registered on `con`.
    For the small inputs a release build reads directly (evaluation sets, parent releases, features)."""
    if not lake.remote:
        return "read_parquet([" + ", ".join(_quote(f) for f in files) + "], union_by_name = true)"
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = f"__{key}_{uuid.uuid4().hex[:12]}"
    tables = [pq.read_table(path.key, filesystem=path.fs) for path in (_object_path(lake, f) for f in files)]
    con.register(name, pa.concat_tables(tables, promote_options="permissive"))
    return name


def _create_empty(con, spec: TableSpec) -> None:
    """A typed, empty table in place of a view, so queries over a table with no data still work."""
    import pyarrow as pa

    schema = spec.schema.append(pa.field("day", pa.date32())) if spec.partitioned else spec.schema
    empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan below
    con.execute(f"CREATE TABLE {spec.view} AS SELECT * FROM empty")


def _create_runs_views(con, lake: Lake) -> None:
    if any(lake.runs_dir.glob("*.json")) if lake.runs_dir.exists() else False:
        columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in RUN_COLUMNS.items()) + "}"
        source = _json_source(con, lake, "runs/*.json", columns, "__json_runs")
    else:
        source = "(SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in RUN_COLUMNS.items()) + " LIMIT 0)"
    con.execute(f"CREATE VIEW runs AS SELECT * FROM {source}")
    con.execute(
        "CREATE VIEW run_stages AS SELECT run_id, command, started_at, s.name AS stage, s.rows_in, s.rows_out, "
        "s.dropped, s.seconds, s.peak_rss_mb FROM (SELECT run_id, command, started_at, unnest(stages) AS s FROM runs)"
    )


def _create_lake_tables_view(con, lake: Lake, versions: dict[str, int]) -> None:
    rows = []
    for name in sorted(table_registry.TABLES):
        spec = table_registry.TABLES[name]
        files = _relative_files(lake, spec, versions)
        version = str(versions[name]) if name in versions else "NULL"
        names = "\n".join(f.removeprefix(spec.name + "/") for f in files)
        snapshot_id = hashlib.sha256(names.encode()).hexdigest()[:16]  # as Lake.snapshot_id, at this version
        rows.append(
            f"({_quote(spec.view)}, {_quote(spec.name)}, {version}::BIGINT, {len(files)}, "
            f"{_quote(snapshot_id)}, {_quote(spec.description)})"
        )
    con.execute(
        "CREATE VIEW lake_tables AS SELECT * FROM (VALUES "
        + ", ".join(rows)
        + ") AS t(view_name, table_name, version, files, snapshot_id, description)"
    )


RELEASE_COLUMNS = {
    "name": "VARCHAR",
    "version": "BIGINT",
    "type": "VARCHAR",
    "created_at": "TIMESTAMPTZ",
    "content_hash": "VARCHAR",
    "recipe_hash": "VARCHAR",
    "code_version": "VARCHAR",
    "splits": "STRUCT(train BIGINT, validation BIGINT, test BIGINT)",
    "split_method": "VARCHAR",
    "frozen_eval": "BOOLEAN",
    "text_layer": "VARCHAR",
    "rows_in": "BIGINT",
    "dropped": "JSON",
    "parents": "JSON",
    "leak_scan": "JSON",  # the gate's record: mode required (scanners, texts) or skip (reason, requested_by)
}
RELEASE_ROW_PATH = "releases/([^/]+)/([0-9]+)/data/(train|validation|test)-[0-9]+[.]parquet$"


def _readable_parquet(files: list[Path], problems: list[tuple[str, str]]) -> list[Path]:
    """The files whose Parquet footer reads; the others are reported in `catalog_problems`, so one damaged
    file cannot take the whole catalog down."""
    import pyarrow.parquet as pq

    readable = []
    for path in files:
        try:
            pq.read_metadata(path)
            readable.append(path)
        except (OSError, ValueError) as exc:
            problems.append((str(path), f"unreadable Parquet: {exc}"))
    return readable


def _create_problems_view(con, problems: list[tuple[str, str]]) -> None:
    rows = ", ".join(f"({_quote(path)}, {_quote(problem)})" for path, problem in problems)
    source = (
        f"(VALUES {rows}) AS t(path, problem)"
        if rows
        else "(SELECT NULL::VARCHAR AS path, NULL::VARCHAR AS problem LIMIT 0)"
    )
    con.execute(f"CREATE VIEW catalog_problems AS SELECT * FROM {source}")


SUPERSEDED_COLUMNS = {
    "name": "VARCHAR",
    "version": "BIGINT",
    "erasures": 'STRUCT(erasure_id VARCHAR, "at" TIMESTAMPTZ, reason VARCHAR, "rows" BIGINT)[]',
}


def _create_superseded_view(con, lake: Lake, root: Path | ObjectPath) -> None:
    """`release_superseded`: one row per release version an erasure superseded (lakehouse/superseded.py's
    sidecars), which `releases` and `release_rows` join for their `superseded` columns."""
    if root.exists() and any(root.glob("*/*/superseded.json")):
        columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in SUPERSEDED_COLUMNS.items()) + "}"
        source = _json_source(con, lake, "releases/*/*/superseded.json", columns, "__json_superseded")
    else:
        source = "(SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in SUPERSEDED_COLUMNS.items()) + " LIMIT 0)"
    con.execute(f"""CREATE VIEW release_superseded AS
        SELECT name, version, list_transform(erasures, lambda e: e.erasure_id) AS superseded_by,
               list_min(list_transform(erasures, lambda e: e."at")) AS superseded_at,
               erasures[-1].reason AS superseded_reason FROM {source}""")


def _create_release_views(con, lake: Lake, problems: list[tuple[str, str]]) -> None:
    """`releases`: one row per published release (from its manifest) with its superseded mark;
    `release_rows`: every row of every release with its name, version, split and whether an erasure
    superseded it (columns of the other release types are null)."""
    root = lake.root / "releases"
    _create_superseded_view(con, lake, root)
    manifests = sorted(root.glob("*/*/manifest.json")) if root.exists() else []
    if manifests:
        columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in RELEASE_COLUMNS.items()) + "}"
        source = _json_source(con, lake, "releases/*/*/manifest.json", columns, "__json_manifests")
    else:
        source = "(SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in RELEASE_COLUMNS.items()) + " LIMIT 0)"
    con.execute(f"""CREATE VIEW releases AS
        SELECT m.*, s.name IS NOT NULL AS superseded, s.superseded_by, s.superseded_at, s.superseded_reason
        FROM {source} m LEFT JOIN release_superseded s ON s.name = m.name AND s.version = m.version""")
    files = _readable_parquet(sorted(root.glob("*/*/data/*.parquet")) if root.exists() else [], problems)
    if files and lake.remote:
        _create_remote_release_rows(con, lake, files)
    elif files:
        listed = "[" + ", ".join(_quote(f.relative_to(lake.root).as_posix()) for f in files) + "]"
        con.execute(f"""CREATE VIEW release_rows AS
            SELECT r.*, EXISTS (SELECT 1 FROM release_superseded s WHERE s.name = r.release_name
                                AND s.version = r.release_version) AS superseded
            FROM (SELECT regexp_extract(filename, {_quote(RELEASE_ROW_PATH)}, 1) AS release_name,
                   regexp_extract(filename, {_quote(RELEASE_ROW_PATH)}, 2)::BIGINT AS release_version,
                   regexp_extract(filename, {_quote(RELEASE_ROW_PATH)}, 3) AS split,
                   * EXCLUDE (filename)
            FROM read_parquet({listed}, filename = true, union_by_name = true)) r""")
    else:
        con.execute(
            "CREATE VIEW release_rows AS SELECT NULL::VARCHAR AS release_name, NULL::BIGINT AS release_version, "
            "NULL::VARCHAR AS split, NULL::VARCHAR AS sample_id, NULL::BOOLEAN AS superseded LIMIT 0"
        )


def _create_remote_release_rows(con, lake: Lake, files: list) -> None:
    """`release_rows` of a remote lake: one registered dataset per release file, its name, version and
    split (which `filename` gives a local lake) taken from its path."""
    import re

    parts = []
    for number, path in enumerate(files):
        relative = path.relative_to(lake.root).as_posix()
        match = re.search(RELEASE_ROW_PATH, relative)
        if match is None:
            continue
        name = _register_source(con, lake, f"__src_release_{number}", {"file": relative})
        parts.append(
            f"SELECT {_quote(match.group(1))} AS release_name, {int(match.group(2))}::BIGINT AS release_version, "
            f"{_quote(match.group(3))} AS split, * FROM {name}"
        )
    con.execute(f"""CREATE VIEW release_rows AS
        SELECT r.*, EXISTS (SELECT 1 FROM release_superseded s WHERE s.name = r.release_name
                            AND s.version = r.release_version) AS superseded
        FROM ({" UNION ALL BY NAME ".join(parts)}) r""")


def text_layer_table(lake: Lake, versions: dict[str, int] | None = None) -> TableSpec:
    """The table that `conversations`, `turns` and `samples` read text from: silver (scrubbed) once the
    scrub stage has finished writing it (its complete version has files), bronze before that (a lake that
    was only ingested)."""
    silver = table_registry.SILVER_CONVERSATIONS
    version = versions.get(silver.name) if versions is not None else lake.complete_version(silver)
    if version is not None and lake.files(silver, version=version):
        return silver
    return table_registry.BRONZE_CONVERSATIONS


def text_layer(lake: Lake, versions: dict[str, int] | None = None) -> str:
    """The view over `text_layer_table`."""
    return text_layer_table(lake, versions).view


def build(con, lake: Lake, versions: dict[str, int] | None = None) -> dict[str, int]:
    """Create every view of the catalog on an open read-write connection whose `file_search_path` is the
    lake root; each table at `versions` (default: `pinned_versions`). Returns the versions used."""
    versions = pinned_versions(lake) if versions is None else versions
    for name in sorted(table_registry.TABLES):
        spec = table_registry.TABLES[name]
        sql = _table_view_sql(lake, spec, versions, con)
        if sql is None:
            _create_empty(con, spec)
        else:
            con.execute(sql)
    for alias, view in ALIASES.items():
        con.execute(f"CREATE VIEW {alias} AS SELECT * FROM {view}")
    con.execute(TOPIC_LABELS_SQL)
    con.execute(CHARACTER_SYSTEM_PROMPT_SQL)
    layer = text_layer(lake, versions)
    scrubbed = layer == table_registry.SILVER_CONVERSATIONS.view
    con.execute(
        CONVERSATIONS_SQL.format(
            text_layer=layer,
            layer=layer.split("_")[0],
            pii_counts="pii_counts" if scrubbed else "NULL::STRUCT(entity_type VARCHAR, count INTEGER)[]",
        )
    )
    con.execute(TURNS_SQL)
    con.execute(LAST_USER_MESSAGE_SQL)
    con.execute(SAMPLES_SQL)
    con.execute(SAFETY_SQL)
    con.execute(EMBEDDINGS_SQL.format(dim=EMBEDDING_DIM))
    con.execute(MODEL_DATA_SQL)
    _create_runs_views(con, lake)
    problems: list[tuple[str, str]] = []
    _create_release_views(con, lake, problems)
    _create_problems_view(con, problems)
    _create_lake_tables_view(con, lake, versions)
    return versions


def set_search_path(con, lake: Lake) -> None:
    """Resolve the catalog's lake-relative paths against this lake's directory."""
    con.execute(f"SET file_search_path = {_quote(lake.root)}")


def build_file(lake: Lake, path: Path, versions: dict[str, int] | None = None) -> dict[str, int]:
    """Build a catalog database at `path` (a new file); returns the table versions it pins."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        set_search_path(con, lake)
        used = build(con, lake, versions)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    Path(str(path) + ".wal").unlink(missing_ok=True)
    return used


def refresh(lake: Lake) -> Path:
    """Rebuild `catalog.duckdb` into a new file and rename it into place (readers are never blocked)."""
    lake.require()
    lake.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = lake.catalog_path.parent / f".catalog-{uuid.uuid4().hex}.duckdb"
    try:
        build_file(lake, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, lake.catalog_path)
    return lake.catalog_path


def connect(lake: Lake, path: Path | None = None):
    """A read-only connection to the catalog (or to another catalog file of this lake, `path`), building
    it first if the lake has none yet; a missing lake is LakeNotFoundError, never a new lake."""
    import duckdb

    lake.require()
    if path is None and not lake.catalog_path.exists():
        refresh(lake)
    con = duckdb.connect(str(path or lake.catalog_path), read_only=True)
    set_search_path(con, lake)
    attach_sources(con, lake)
    return con
