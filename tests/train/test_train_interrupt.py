"""An interrupted `flywheel train` leaves nothing behind: Ctrl-C (SIGINT) or SIGTERM mid-training removes
the run's `.<out>.partial-*` staging directory and exits 130; a run killed beyond cleanup (SIGKILL) has
its staging directory swept by the next run into the same place. Training shows our progress bar (steps,
elapsed, ETA), not transformers' tqdm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lakehouse.lake import Lake
from train import synthetic
from train.trainers import sweep_partials

FLYWHEEL = "import sys; sys.argv[0] = 'flywheel'; from lakehouse.cli import main; main()"


@pytest.fixture
def lake(tmp_path) -> Lake:
    the_lake = Lake(tmp_path / "lake")
    synthetic.write_release(the_lake, "tiny-prefs", "preference", rows=40, seed=3)
    return the_lake


def _start(lake: Lake, out, max_steps: int) -> subprocess.Popen:
    args = ["train", "dpo", "--release", "tiny-prefs", "--model", "tiny", "--out", str(out)]
    args += ["--max-steps", str(max_steps), "--lake", str(lake.root)]
    return subprocess.Popen(
        [sys.executable, "-c", FLYWHEEL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_staging(process: subprocess.Popen, out) -> None:
    deadline = time.monotonic() + 240
    while not list(out.parent.glob(f".{out.name}.partial-*")):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.5)
    time.sleep(3)  # inside the training loop now


@pytest.mark.slow
def test_ctrl_c_during_dpo_leaves_no_partial_directory(lake, tmp_path):
    out = tmp_path / "dpo"
    process = _start(lake, out, max_steps=100_000)
    _wait_for_staging(process, out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert not list(tmp_path.glob(".dpo.partial-*")) and not out.exists()


def test_a_killed_runs_staging_is_swept_by_the_next_run_and_a_live_one_is_kept(tmp_path):
    out = tmp_path / "dpo"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".dpo.partial-{dead.stdout.strip()}-abcdef12"
    live = tmp_path / f".dpo.partial-{os.getpid()}-12345678"
    other = tmp_path / f".sft.partial-{dead.stdout.strip()}-abcdef12"
    for path in (stale, live, other):
        (path / "weights").mkdir(parents=True)
    assert sweep_partials(out) == [stale]
    assert live.exists() and other.exists() and not stale.exists()


@pytest.mark.slow
def test_training_shows_our_step_bar_not_tqdm(lake, tmp_path):
    process = _start(lake, tmp_path / "dpo", max_steps=3)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]
    assert "train dpo" in stderr and "3/3" in stderr and "elapsed" in stderr
    assert "it/s]" not in stderr  # tqdm's rate suffix
