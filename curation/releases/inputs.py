"""What a release build reads: the catalog (read-only DuckDB), the columns the `samples` view has today,
the text layer the conversations come from, and the Delta version of each table it read (its parents).

The catalog pins every table to one version; a build records those versions, and `flywheel releases
rebuild` builds a catalog pinned to the recorded versions (Delta time travel) to make the release again.

The dedup and cluster stages add columns to `samples` (`dedup_cluster`, `is_representative`;
`topic_cluster`, `topic_label`), the safety stage `safety_flagged`. The catalog always has them, NULL while their attribute table has no
files; the builder counts a column as present only once its table has files. While a column is absent,
every sample is its own dedup cluster and its own representative and the topic cluster is null. The
temporary view `release_samples` always has all of them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from curation.releases.rows import scalar
from lakehouse import catalog, location, sql_guard, tables
from lakehouse.lake import Lake

if TYPE_CHECKING:
    import duckdb

# Optional `samples` columns and what stands in for each while the stage that provides it has not run.
OPTIONAL_COLUMNS = {
    "dedup_cluster": "sample_id AS dedup_cluster",
    "is_representative": "true AS is_representative",
    "topic_cluster": "NULL::BIGINT AS topic_cluster",
    "topic_label": "NULL::VARCHAR AS topic_label",
    "safety_flagged": "NULL::BOOLEAN AS safety_flagged",
}
# The attribute table behind each optional column: the column counts as present once the table has files.
COLUMN_TABLES = {
    "dedup_cluster": "attributes/dedup_prompts",
    "is_representative": "attributes/dedup_prompts",
    "topic_cluster": "attributes/topics",
    "topic_label": "attributes/topics",
    "safety_flagged": "attributes/safety",
}
# Tables whose content feeds the `samples` view besides the text layer (recorded as release parents).
SAMPLE_ATTRIBUTE_TABLES = ("attributes/dedup_conversations", "attributes/dedup_prompts", "attributes/topics")
LABELS_VIEW = "labels_consensus"
LABELS_TABLE = "labels/consensus"
PAIRS_TABLE = "bronze/preference_pairs"
DUCKDB_MEMORY = os.environ.get("FLYWHEEL_RELEASE_DUCKDB_MEMORY", "1500MB")


@dataclass
class Inputs:
    lake: Lake
    con: duckdb.DuckDBPyConnection  # a read-only connection to the catalog
    columns: list[str]
    text_layer: str  # "bronze" or "silver"
    text_table: str
    temp_dir: Path
    notes: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # table -> the Delta version the catalog pinned

    def has(self, column: str) -> bool:
        return column in self.columns

    def view_exists(self, name: str) -> bool:
        found = scalar(self.con, "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT temporary", [name])
        tables_found = scalar(self.con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
        return bool(found or tables_found)

    def table_has_rows(self, name: str) -> bool:
        return self.view_exists(name) and scalar(self.con, f"SELECT count(*) > 0 FROM {name}")

    def snapshot(self, table: str) -> int | None:
        return self.versions.get(table)

    def parents(self, extra_tables: tuple[str, ...] = ()) -> dict:
        """The Delta version of each table this release read (None: the table did not exist). Recorded in
        the manifest, left out of its content hash: where the rows came from, not what they are."""
        names = (self.text_table, *SAMPLE_ATTRIBUTE_TABLES, *extra_tables)
        return {
            "tables": {name: self.snapshot(name) for name in sorted(set(names)) if name in tables.TABLES},
            "catalog_versions": dict(sorted(self.versions.items())),  # every view's version: what rebuild pins
            "text_layer": self.text_layer,
        }

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def open_inputs(lake: Lake, threads: int | None = None, versions: dict[str, int] | None = None) -> Inputs:
    """Connect to the catalog read-only and define `release_samples` (samples + every optional column).
    With `versions`, to a catalog built for this build with every table at those versions."""
    # DuckDB spills here; not under `_staging/`, which `flywheel lake vacuum` cleans
    temp_dir = location.local_dir(lake.root) / f".release-duckdb-{uuid.uuid4().hex}"
    temp_dir.mkdir(parents=True, exist_ok=True)
    pinned = None
    if versions is not None:
        pinned = temp_dir / "catalog.duckdb"
        catalog.build_file(lake, pinned, {name: int(v) for name, v in versions.items() if v is not None})
    # The recipe's SQL conditions run on this connection: locked read-only like `flywheel sql`
    settings = {
        "threads": threads or min(4, os.cpu_count() or 1),
        "memory_limit": DUCKDB_MEMORY,
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": False,
    }  # every result that must be ordered says ORDER BY
    con = sql_guard.connect(lake, settings=settings, extra_dirs=[temp_dir], catalog_path=pinned)
    listed = con.execute("SELECT table_name, version, files FROM lake_tables").fetchall()
    table_versions = {name: version for name, version, _ in listed if version is not None}
    has_files = {name for name, _, files in listed if files}
    in_view = [r[0] for r in con.execute("DESCRIBE samples").fetchall()]
    columns = [c for c in in_view if c not in COLUMN_TABLES or COLUMN_TABLES[c] in has_files]
    extras = [sql for column, sql in OPTIONAL_COLUMNS.items() if column not in columns]
    replaced = [column for column in OPTIONAL_COLUMNS if column in in_view and column not in columns]
    exclude = f" EXCLUDE ({', '.join(replaced)})" if replaced else ""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW release_samples AS SELECT *{exclude}"
        + "".join(f", {sql}" for sql in extras)
        + " FROM samples"
    )
    text_table = catalog.text_layer_table(lake, table_versions)
    layer = text_table.view.split("_", 1)[0]
    notes = [
        f"samples column {c} absent: {OPTIONAL_COLUMNS[c].split(' AS ')[0]} stands in"
        for c in OPTIONAL_COLUMNS
        if c not in columns
    ]
    return Inputs(lake, con, columns, layer, text_table.name, temp_dir, notes, table_versions)
