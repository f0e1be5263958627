"""Progress bars say what their numbers are: "elapsed H:MM:SS" and "ETA H:MM:SS" with their words, a spinner
and a count (never "0/?") when the total is unknown, and the tqdm bars of transformers and datasets
silenced while ours is on screen."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from rich.console import Console

from lakehouse.progress import bar


def _render(total, steps: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False, color_system=None)
    with bar("scrub", total, console=console) as handle:
        for _ in range(steps):
            handle.advance(1)
    return out.getvalue()


def test_a_bar_with_a_total_names_its_elapsed_time_and_its_eta():
    text = _render(10, 4)
    assert re.search(r"elapsed \d+:\d\d:\d\d", text), text
    assert "4/10" in text, text
    assert " left " not in text


def test_a_finished_bar_says_done_instead_of_a_zero_eta():
    text = _render(5, 5)
    assert "done" in text.splitlines()[-1], text


def test_an_unknown_total_shows_a_count_and_no_question_mark():
    text = _render(None, 7)
    assert "7 rows done" in text, text
    assert "?" not in text and "ETA" not in text, text


LIBRARY_BARS = """
import os
from datasets.utils import logging as ds_logging
from lakehouse.progress import quiet_library_bars

ds_logging.enable_progress_bar()
with quiet_library_bars():
    assert not ds_logging.is_progress_bar_enabled()
    assert os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1"
assert ds_logging.is_progress_bar_enabled()
assert "HF_DATASETS_DISABLE_PROGRESS_BARS" not in os.environ
"""


def test_library_bars_are_silenced_inside_ours_and_restored_after():
    """In a fresh interpreter: datasets reads its environment variable once, at import, so a process that
    imported it inside one of our bars (another test) can never turn its bars back on."""
    env = {k: v for k, v in os.environ.items() if k != "HF_DATASETS_DISABLE_PROGRESS_BARS"}
    done = subprocess.run([sys.executable, "-c", LIBRARY_BARS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_spinner_names_its_phase_and_elapsed_time_and_is_gone_when_done():
    from lakehouse.progress import spinner

    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    with spinner("similar: searching", console=console) as phase:
        phase.note("phase two")
        console.file.flush()
    text = out.getvalue()
    assert "similar: searching" in text and "phase two" in text and "elapsed 0:00:0" in text
