"""Running SQL against the catalog and printing results as a table, CSV or JSON; the interactive prompt."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import json
import sys
import uuid

from lakehouse import sql_guard
from lakehouse.lake import Lake

HELP = """Statements end with ';'. Commands:
  .tables            list the views and tables
  .schema NAME       columns of a view or table
  .format FMT        table, csv or json
  .help              this text
  .quit              leave (or Ctrl-D)"""


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def print_result(columns: list[str], rows: list[tuple], format: str, max_rows: int, out=None) -> None:
    out = out or sys.stdout
    if format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
    elif format == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        out.write(json.dumps(records, default=_json_default, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_table(columns, rows, max_rows, out)


def _print_table(columns: list[str], rows: list[tuple], max_rows: int, out) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for i, name in enumerate(columns):
        numeric = rows and all(isinstance(r[i], (int, float, decimal.Decimal)) or r[i] is None for r in rows[:max_rows])
        table.add_column(name, overflow="fold", max_width=60, justify="right" if numeric else "left")
    for row in rows[:max_rows]:
        table.add_row(*[_cell(v) if len(_cell(v)) <= 300 else _cell(v)[:297] + "..." for v in row])
    console = Console(file=out, width=max(120, Console().width))
    console.print(table)
    more = f" (showing {max_rows})" if len(rows) > max_rows else ""
    console.print(f"{len(rows):,} row{'s' if len(rows) != 1 else ''}{more}")


def execute(con, query: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
    result = con.execute(query, params)
    if result.description is None:
        return [], []
    return [d[0] for d in result.description], result.fetchall()


def execute_checked(con, query: str) -> tuple[list[str], list[tuple]]:
    """Run what a user typed: one SELECT (sql_guard.check_query) on a locked connection."""
    return execute(con, sql_guard.check_query(query))


def _error(exc: Exception) -> None:
    hint = " (read-only SQL reads only the lake's tables)" if "disabled by configuration" in str(exc) else ""
    print(f"error: {exc}{hint}", file=sys.stderr)


def run_one(lake: Lake, query: str, format: str = "table", max_rows: int = 50) -> int:
    """Run one SELECT and print it; returns the exit code (1 with a message on a SQL error or a refused
    statement)."""
    import duckdb

    try:
        sql_guard.check_query(query)
    except sql_guard.RefusedSQL as exc:
        _error(exc)
        return 1
    con = sql_guard.connect(lake)
    try:
        columns, rows = execute_checked(con, query)
    except duckdb.Error as exc:
        _error(exc)
        return 1
    finally:
        con.close()
    if columns:
        print_result(columns, rows, format, max_rows)
    return 0


def _meta_command(con, line: str, state: dict) -> bool:
    """Handle a dot-command; returns False when the user asked to leave."""
    parts = line.split()
    name = parts[0]
    if name in (".quit", ".exit"):
        return False
    if name == ".help":
        print(HELP)
    elif name == ".tables":
        columns, rows = execute(con, "SELECT table_name, table_type FROM information_schema.tables ORDER BY 1")
        print_result(columns, rows, state["format"], 1000)
    elif name == ".schema" and len(parts) == 2:
        columns, rows = execute(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [parts[1]],
        )
        print_result(columns, rows, "table", 1000)
    elif name == ".format" and len(parts) == 2 and parts[1] in ("table", "csv", "json"):
        state["format"] = parts[1]
    else:
        print(f"unknown command {line!r}; .help lists them")
    return True


def repl(lake: Lake, format: str = "table", max_rows: int = 50) -> None:
    """An interactive prompt; statements may span lines and end with ';'. Reads piped stdin too."""
    import duckdb

    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
        print(f"flywheel sql over {lake.root} (read-only). .help for commands, Ctrl-D to leave.")
    state = {"format": format}
    con = sql_guard.connect(lake)
    buffer: list[str] = []
    try:
        while True:
            try:
                line = input("... " if buffer else "sql> ") if interactive else sys.stdin.readline()
            except EOFError:
                break
            if not interactive and line == "":
                break
            stripped = line.strip()
            if not buffer and stripped.startswith("."):
                if not _meta_command(con, stripped, state):
                    break
                continue
            buffer.append(line)
            if not stripped.endswith(";"):
                continue
            statement, buffer = "\n".join(buffer), []
            try:
                columns, rows = execute_checked(con, statement)
            except (duckdb.Error, sql_guard.RefusedSQL) as exc:
                _error(exc)
                continue
            if columns:
                print_result(columns, rows, state["format"], max_rows)
    finally:
        con.close()
