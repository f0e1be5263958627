"""Crash recovery (issue 13, item 6): `flywheel curate` killed with SIGKILL at a stage, then run again,
publishes releases with the same content hashes as a run that was never killed, every release verifies,
and between the kill and the rerun the lake stays readable (`flywheel sql` works).

The kill is real (SIGKILL, no cleanup) and lands at a known point through lakehouse.lake.fault_point:
`FLYWHEEL_FAULT_KILL_AT=<stage>` as the stage starts, `<stage>@commit` inside the stage's first commit,
after its intent record and first Delta commit, the half-done commit the next writer rolls forward. The
main recipe is the stages of configs/curate.yaml that feed releases but embed, cluster and sample, over 80
simulated conversations; one chained test adds those three (MiniLM and k-means) and kills a lake in each in
turn. Each case runs two `flywheel curate` processes (each loads spaCy), so `make test` (CI) runs two
representative cases and the model-stage chain, and the other six kill points are marked heavy: they run in
`make test-all`, about three minutes more."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from lakehouse.lake import FAULT_ENV, TXLOG, Lake
from tests.curation.test_releases_reproducible import RELEASES, hashes
from tests.helpers import cli, sim_lake

CONVERSATIONS = 80
FAST = {"scrub@commit", "release@publish"}
POINTS = [
    "ingest@commit",
    "erase",
    "scrub",
    "scrub@commit",
    "dedup@commit",
    "safety@commit",
    "release",
    "release@publish",
]


def recipe(simulated: Path) -> dict:
    return {
        "name": "crash",
        "stages": [
            {"stage": "ingest", "paths": [str(simulated / "traffic"), str(simulated / "exposures.jsonl.gz")]},
            {"stage": "erase"},
            {"stage": "scrub", "mode": "placeholder"},
            {"stage": "dedup"},
            {
                "stage": "safety",
                "classifiers": [{"type": "profanity", "threshold": 0.5}],
                "roles": ["user", "assistant"],
            },
            {"stage": "release", "releases": RELEASES},
        ],
    }


def flywheel(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`flywheel ARGS...` in a fresh process with the pseudonymization key set (ingest needs one)."""
    return cli.flywheel(*args, env={**os.environ, "FLYWHEEL_HMAC_KEY": "k" * 40, **(env or {})})


def curate(recipe_path: Path, lake: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    return flywheel("curate", str(recipe_path), "--lake", str(lake), env={FAULT_ENV: kill_at} if kill_at else None)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The recipe file and the release hashes of a run that was never killed."""
    root = tmp_path_factory.mktemp("crash")
    simulated = sim_lake.simulate(root / "sim", conversations=CONVERSATIONS)
    recipe_path = root / "recipe.yaml"
    recipe_path.write_text(json.dumps(recipe(simulated)))  # JSON is YAML
    done = curate(recipe_path, root / "clean")
    assert done.returncode == 0, done.stdout + done.stderr
    reference = hashes(Lake(root / "clean"))
    assert len(reference) == len(RELEASES)
    return recipe_path, reference


@pytest.mark.parametrize("point", [p if p in FAST else pytest.param(p, marks=pytest.mark.heavy) for p in POINTS])
def test_a_curate_run_killed_at_a_stage_and_rerun_publishes_the_clean_runs_release_hashes(clean, point, tmp_path):
    recipe_path, reference = clean
    lake = tmp_path / "lake"

    killed = curate(recipe_path, lake, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, f"the kill at {point} never fired:\n{killed.stdout}{killed.stderr}"

    if point.endswith("@commit"):  # the kill left a half-done commit for the rerun to roll forward
        assert list((lake / TXLOG).glob("*.json")), "no intent record left behind"
    readable = flywheel(
        "sql", "SELECT count(*) AS n FROM information_schema.tables", "--lake", str(lake), "--format", "csv"
    )
    assert readable.returncode == 0, readable.stdout + readable.stderr

    rerun = curate(recipe_path, lake)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    verified = flywheel("releases", "verify", "--lake", str(lake))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert hashes(Lake(lake)) == reference


MODEL_STAGES = ["embed@commit", "cluster@commit", "sample@commit"]
TOPIC_TABLES = ["attributes/embeddings", "attributes/topics", "attributes/topic_labels", "attributes/sample"]


def recipe_with_topics(simulated: Path) -> dict:
    """The crash recipe with the MiniLM and k-means stages in, and the eval prompts stratified by topic, so
    the release depends on what embed, cluster and sample wrote."""
    stages = recipe(simulated)["stages"]
    eval_prompts = json.loads(json.dumps(RELEASES[0]))
    eval_prompts["sources"][0]["stratify_by"] = ["source", "topic_cluster"]
    model_stages = [{"stage": "embed"}, {"stage": "cluster"}, {"stage": "sample", "target": 40}]
    release = {"stage": "release", "releases": [eval_prompts, *RELEASES[1:]]}
    return {"name": "crash-topics", "stages": [*stages[:4], *model_stages, stages[4], release]}


def table_rows(lake: Path, name: str) -> list[tuple]:
    """A table's rows as sorted tuples, so two lakes compare by content whatever the file layout."""
    table = Lake(lake).read(name)
    return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())


@pytest.mark.slow
def test_a_curate_run_killed_in_embed_then_cluster_then_sample_resumes_to_the_clean_runs_tables_and_hashes(
    tmp_path,
):
    """One lake, killed mid-commit in each model stage in turn (every rerun gets one stage further before
    its kill), then a last clean rerun: topics, labels, the sample and the release hashes equal those of a
    run never killed. Chained to load MiniLM five times instead of seven."""
    simulated = sim_lake.simulate(tmp_path / "sim", conversations=CONVERSATIONS)
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(json.dumps(recipe_with_topics(simulated)))
    done = curate(recipe_path, tmp_path / "clean")
    assert done.returncode == 0, done.stdout + done.stderr

    lake = tmp_path / "lake"
    for point in MODEL_STAGES:
        killed = curate(recipe_path, lake, kill_at=point)
        assert killed.returncode == -signal.SIGKILL, f"the kill at {point} never fired:\n{killed.stdout}{killed.stderr}"
        assert list((lake / TXLOG).glob("*.json")), f"no intent record left behind at {point}"
    rerun = curate(recipe_path, lake)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    for name in TOPIC_TABLES:
        assert table_rows(lake, name) == table_rows(tmp_path / "clean", name), name
    assert hashes(Lake(lake)) == hashes(Lake(tmp_path / "clean"))
