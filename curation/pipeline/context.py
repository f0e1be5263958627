"""What a stage receives: the lake, the run, the recipe, a console and progress bars."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakehouse.errors import FlywheelError
from lakehouse.lake import Lake

if TYPE_CHECKING:
    from rich.console import Console

    from curation.pipeline.recipe import Recipe


class StageFailed(FlywheelError):
    """A stage cannot complete; the message is shown to the user as is."""


@dataclass
class Progress:
    """Handle to one progress bar: `advance(units, rows=...)` moves it and counts rows."""

    _bar: object
    _task: int
    rows: int = 0

    def advance(self, units: float = 0, rows: int = 0) -> None:
        self.rows += rows
        elapsed = self._bar.tasks[0].elapsed or 0
        rate = f"{self.rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        self._bar.update(self._task, advance=units, rows=self.rows, rate=rate)


@dataclass
class StageContext:
    lake: Lake
    run_id: str
    console: Console
    recipe: Recipe | None = None
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # command-line options for stages (e.g. releases build --refreeze)

    @contextmanager
    def progress(self, description: str, total: float | None, unit: str = "rows"):
        """A progress bar with rows, rate and time left; `total` is in `unit`s (rows or bytes)."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            amount,
            TextColumn("{task.fields[rows]:,} rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
        ]
        with RichProgress(*columns, console=self.console, transient=False) as bar:
            yield Progress(bar, bar.add_task(description, total=total, rows=0, rate=""))
