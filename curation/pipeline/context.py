"""What a stage receives: the lake, the run, the recipe, a console and progress bars."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakehouse.errors import FlywheelError
from lakehouse.lake import Lake
from lakehouse.progress import Bar
from lakehouse.progress import bar as progress_bar

if TYPE_CHECKING:
    from rich.console import Console

    from curation.pipeline.recipe import Recipe


class StageFailed(FlywheelError):
    """A stage cannot complete; the message is shown to the user as is."""


@dataclass
class Progress:
    """Handle to one progress bar: `advance(units, rows=...)` moves it and counts rows."""

    _bar: Bar
    rows: int = 0

    def advance(self, units: float = 0, rows: int = 0) -> None:
        self.rows += rows
        elapsed = self._bar.elapsed
        rate = f"  {self.rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        self._bar.note(f"{self.rows:,} rows{rate}")
        self._bar.advance(units)


@dataclass
class StageContext:
    lake: Lake
    run_id: str
    console: Console
    recipe: Recipe | None = None
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # command-line options for stages (e.g. releases build --refreeze)
    _executor: object = None

    @property
    def executor(self):
        """Where heavy batches run (curation/pipeline/executor.py): the recipe's `executor`, local by default."""
        if self._executor is None:
            from curation.pipeline.executor import create

            self._executor = create(self.recipe.executor if self.recipe is not None else None)
        return self._executor

    @contextmanager
    def progress(self, description: str, total: float | None, unit: str = "rows"):
        """A progress bar with rows, rate, elapsed time and ETA (lakehouse.progress); `total` is in
        `unit`s (rows or bytes); None shows a spinner and the count instead of a bar to nowhere."""
        with progress_bar(description, total, console=self.console, unit=unit) as handle:
            yield Progress(handle)
