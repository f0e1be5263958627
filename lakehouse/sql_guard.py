"""SQL that people type (the `flywheel sql` shell, reviewer queue sources, recipe conditions) runs here:
read-only in fact, not by convention.

Two locks, each enough for what it covers:
- the statement: DuckDB's own parser must find exactly one SELECT (`check_query`) or exactly one
  expression (`check_expression`), so `COPY`, `ATTACH`, `INSTALL`, `LOAD`, `SET`, `PRAGMA`, `EXPORT`,
  `CALL`, `CREATE SECRET` and a second statement smuggled after a `;` are refused before anything runs;
- the connection (`connect`): a private in-memory DuckDB with the catalog attached READ_ONLY, external
  access off except for the lake's data directories (`allowed_directories`), and the configuration locked,
  so a SELECT cannot read files outside them (`read_text`, `read_csv`, `read_blob`, `glob`, `sniff_csv`),
  load extensions or turn any of this back on. The HMAC key lives outside the lake and the annotator tokens
  file and the label store sit directly in `labels/`, which is not one of the allowed directories.

The in-memory database is private to the connection (DuckDB shares a database instance between
connections to the same file in one process), so locking it never changes another reader's settings.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path

from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.location import ObjectPath

# Top-level lake directories that hold secrets or private state next to data: only their subdirectories
# (the label tables) are readable. `labels/annotators.yaml` holds the reviewers' token hashes.
PRIVATE_PARENTS = ("labels",)
CATALOG_ALIAS = "lake"


class RefusedSQL(UserError, ValueError):
    """A statement or condition that read-only SQL does not run; the message says what and why."""


def _statements(sql: str) -> list:
    import duckdb

    con = duckdb.connect()
    try:
        return con.extract_statements(sql)
    except duckdb.Error as exc:
        raise RefusedSQL(f"cannot parse the SQL: {exc}") from None
    finally:
        con.close()


def check_query(sql: str) -> str:
    """`sql` if it is exactly one SELECT (WITH, FROM-first, VALUES, DESCRIBE, SUMMARIZE and SHOW count);
    otherwise RefusedSQL naming the statement type."""
    import duckdb

    statements = _statements(sql)
    if not statements:
        raise RefusedSQL("no SQL statement given")
    if len(statements) > 1:
        raise RefusedSQL(f"one statement at a time: got {len(statements)} (separated by ';')")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        words = statement.query.split()
        keyword = words[0].upper() if words and words[0].isalpha() else statement.type.name
        raise RefusedSQL(f"read-only SQL runs SELECT queries only; {keyword} statements are refused")
    return sql


def check_expression(text: str, what: str = "condition") -> str:
    """`text` if DuckDB parses it as exactly one expression (a recipe `filter:` and the like), so it cannot
    close the query around it and start another; otherwise RefusedSQL quoting it. Comments are refused
    too: a `--` would swallow the rest of the query the condition is placed in."""
    import duckdb

    try:
        duckdb.SQLExpression(text)
        tokens = duckdb.tokenize(text)
    except (duckdb.Error, TypeError, ValueError) as exc:
        raise RefusedSQL(f"{what} {text!r} is not one SQL expression: {str(exc).splitlines()[0]}") from None
    if any(kind == duckdb.token_type.comment for _, kind in tokens):
        raise RefusedSQL(f"{what} {text!r} holds an SQL comment; write the condition without one")
    return text


ALWAYS_READABLE = ("releases", "runs")  # read by catalog views, and may appear while a connection is open


def readable_directories(lake: Lake) -> list[Path | ObjectPath]:
    """The directories read-only SQL may read: every visible top-level directory of the lake (tables, runs,
    releases; those of registered tables and releases even before they exist), except that for `labels/`
    only its subdirectories count (not the annotators file and the label store beside them)."""
    from lakehouse import tables

    found = {lake.root / name for name in ALWAYS_READABLE}
    for spec in tables.TABLES.values():
        top = spec.name.split("/", 1)[0]
        found.add(lake.table_dir(spec) if top in PRIVATE_PARENTS else lake.root / top)
    if lake.root.is_dir():
        for entry in lake.root.iterdir():
            if not entry.is_dir() or entry.is_symlink() or entry.name.startswith((".", "_")):
                continue
            if entry.name in PRIVATE_PARENTS:
                found.update(p for p in entry.iterdir() if p.is_dir() and not p.is_symlink())
            else:
                found.add(entry)
    return sorted(found)


def allowed_prefixes(lake: Lake, extra_dirs: Iterable[Path] = ()) -> list[str]:
    """`allowed_directories` for a lake: each readable directory as an absolute prefix, and as a prefix
    relative to the lake root, since catalog views may name files relative to it (resolved through
    `file_search_path`, but checked by DuckDB as written). `..` is normalized before the check, so a
    relative prefix cannot climb out of its directory."""
    prefixes = []
    for path in readable_directories(lake) if not lake.remote else ():  # remote: data comes through Arrow
        prefixes += [_dir_prefix(path), _dir_prefix(path.relative_to(lake.root))]
    return prefixes + [_dir_prefix(p) for p in extra_dirs]


def _dir_prefix(path: str | os.PathLike[str]) -> str:
    return str(path).rstrip("/") + "/"


def connect(
    lake: Lake, settings: dict | None = None, extra_dirs: Iterable[Path] = (), catalog_path: Path | None = None
):
    """A locked, read-only connection to the lake's catalog (built first when missing, as `catalog.connect`
    does), or to another catalog file of the lake (`catalog_path`, e.g. one pinned for a release build).
    `settings` (threads, memory_limit, ...) are applied before the lock; `extra_dirs` are readable too (a
    release build's spill directory). Spills go to a private temporary directory removed with the
    connection."""
    import duckdb

    from lakehouse import catalog

    if catalog_path is None:
        catalog.connect(lake).close()  # builds the catalog when the lake has none yet
    con = duckdb.connect(":memory:")
    spill = Path(tempfile.mkdtemp(prefix="flywheel-sql-"))
    weakref.finalize(con, shutil.rmtree, spill, True)
    try:
        con.execute(f"ATTACH '{_escape(catalog_path or lake.catalog_path)}' AS {CATALOG_ALIAS} (READ_ONLY)")
        con.execute(f"USE {CATALOG_ALIAS}")
        catalog.attach_sources(con, lake)  # a lake on object storage: the Arrow datasets its views read
        con.execute(f"SET temp_directory = '{_escape(spill)}'")
        con.execute("SET file_search_path = ?", [str(lake.root)])  # relative paths name lake files
        for name, value in (settings or {}).items():
            con.execute(f"SET {name} = ?", [value])
        con.execute("SET allowed_directories = ?", [allowed_prefixes(lake, (*extra_dirs, spill))])
        con.execute("SET enable_external_access = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _escape(path: Path | str) -> str:
    return str(path).replace("'", "''")
