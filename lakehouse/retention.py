"""Retention: delete whole day partitions of the raw-text tables once they are older than a limit.

Bronze conversations and the quarantine are the only tables that hold raw text (the quarantine keeps the
raw bytes of rejected records), so they are the ones a retention policy must purge. A partition goes
only when its whole day is older than the cut-off; the deletion is one lake transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from lakehouse import tables
from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.location import ObjectPath

RAW_TABLES = (tables.BRONZE_CONVERSATIONS.name, tables.QUARANTINE.name)


@dataclass
class Purge:
    table: str
    day: dt.date
    files: list[Path | ObjectPath]


def partitions(lake: Lake, table: str) -> dict[dt.date, list[Path | ObjectPath]]:
    """Day -> files of a day-partitioned table."""
    spec = tables.TABLES.get(table)
    if spec is None or not spec.partitioned:
        day_tables = sorted(name for name, t in tables.TABLES.items() if t.partitioned)
        raise UserError(f"--table {table}: not a day-partitioned table of the lake; one of: {', '.join(day_tables)}")
    days: dict[dt.date, list[Path | ObjectPath]] = {}
    for path in lake.files(spec):
        day = dt.date.fromisoformat(path.parent.name.removeprefix("day="))
        days.setdefault(day, []).append(path)
    return days


def plan(lake: Lake, keep_days: int, as_of: dt.date, table_names: tuple[str, ...] = RAW_TABLES) -> list[Purge]:
    """Partitions whose day is before `as_of - keep_days`."""
    cutoff = as_of - dt.timedelta(days=keep_days)
    return [
        Purge(name, day, files)
        for name in table_names
        for day, files in sorted(partitions(lake, name).items())
        if day < cutoff
    ]


def purge(lake: Lake, purges: list[Purge]) -> int:
    """Delete the planned partitions in one commit; returns the number of files removed."""
    with lake.transaction() as tx:
        for item in purges:
            tx.remove_files(item.files, purge=True)  # raw text leaves the disk, not only the current version
    return sum(len(item.files) for item in purges)
