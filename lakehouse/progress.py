"""Progress bars that say what their numbers are, for every long-running command.

One look for the pipeline's stages, `similar`, `scan-leaks`, `eval scrub` and `flywheel train`: the
description, a bar (a spinner while the total is unknown: a bar with nothing to fill is a lie), the count
done of the total (or the count alone), then "elapsed H:MM:SS" and "ETA H:MM:SS" with their words, since
two bare clocks side by side read as one of them. While ours is shown, the tqdm bars of transformers and
datasets are silenced (`quiet_library_bars`): two bars fighting over one terminal line help nobody.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    return str(timedelta(seconds=max(0, int(seconds))))


def elapsed_text(seconds: float | None) -> str:
    """'elapsed 0:00:31'."""
    return f"elapsed {_clock(seconds or 0)}"


def eta_text(remaining: float | None, finished: bool = False) -> str:
    """'ETA 0:00:12'; 'ETA -:--:--' while there is nothing to estimate from; 'done' once finished."""
    return "done" if finished else f"ETA {_clock(remaining)}"


def _columns(unit: str, known_total: bool) -> list:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
    )
    from rich.text import Text

    class Count(ProgressColumn):
        """'1,234 done' where the total is unknown (never '1234/?')."""

        def render(self, task) -> Text:
            return Text(f"{int(task.completed):,} {unit} done")

    class Elapsed(ProgressColumn):
        def render(self, task) -> Text:
            return Text(elapsed_text(task.finished_time if task.finished else task.elapsed))

    class Eta(ProgressColumn):
        def render(self, task) -> Text:
            return Text(eta_text(task.time_remaining, task.finished))

    if not known_total:
        return [SpinnerColumn(), TextColumn("{task.description}"), Count(), Elapsed()]
    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    return [TextColumn("{task.description}"), BarColumn(), amount, TextColumn("{task.fields[extra]}"), Elapsed(), Eta()]


@dataclass
class Bar:
    """Handle to one bar: `advance(units)` moves it; `note(text)` sets the text after the count."""

    _progress: Progress
    _task: TaskID

    def advance(self, units: float = 1) -> None:
        self._progress.update(self._task, advance=units)

    def note(self, text: str) -> None:
        self._progress.update(self._task, extra=text)

    def set_total(self, total: float) -> None:
        self._progress.update(self._task, total=total)

    @property
    def elapsed(self) -> float:
        return self._progress.tasks[0].elapsed or 0.0


@contextmanager
def bar(
    description: str,
    total: float | None,
    console: Console | None = None,
    unit: str = "rows",
    enabled: bool = True,
) -> Iterator[Bar]:
    """One progress bar on `console` (stderr by default, so a command's stdout stays parseable)."""
    from rich.console import Console
    from rich.progress import Progress

    console = console or Console(stderr=True)
    columns = _columns(unit, total is not None)
    with Progress(*columns, console=console, transient=False, disable=not enabled) as progress:
        task = progress.add_task(description, total=total, extra="")
        with quiet_library_bars():
            yield Bar(progress, task)


@contextmanager
def quiet_library_bars() -> Iterator[None]:
    """Silence transformers' and datasets' tqdm bars (and HF Hub's) while one of ours is on screen.

    Only the libraries already imported are switched through their own API; the environment variables
    cover those imported later (both read them at import time)."""
    import sys

    saved = {key: os.environ.get(key) for key in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS")}
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    restore = []
    if "datasets" in sys.modules:
        from datasets.utils import logging as ds_logging

        if ds_logging.is_progress_bar_enabled():
            ds_logging.disable_progress_bar()
            restore.append(ds_logging.enable_progress_bar)
    if "transformers" in sys.modules:
        from transformers.utils import logging as tf_logging

        if tf_logging.is_progress_bar_enabled():
            tf_logging.disable_progress_bar()
            restore.append(tf_logging.enable_progress_bar)
    try:
        yield
    finally:
        for undo in restore:
            undo()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def spinner(description: str, console: Console | None = None, enabled: bool = True) -> Iterator[Bar]:
    """A spinner with the description and "elapsed H:MM:SS", for work whose size is unknown up front (a
    model loading, a search): feedback rather than silence. `note()` on the handle adds a phase."""
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn
    from rich.text import Text

    class Elapsed(ProgressColumn):
        def render(self, task) -> Text:
            return Text(elapsed_text(task.finished_time if task.finished else task.elapsed))

    console = console or Console(stderr=True)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[extra]}"), Elapsed()]
    with Progress(*columns, console=console, transient=True, disable=not enabled) as progress:
        task = progress.add_task(description, total=None, extra="")
        with quiet_library_bars():
            yield Bar(progress, task)
