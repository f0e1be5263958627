"""One error style: every deliberate error is a FlywheelError, and the CLI turns a user's mistake into one
`error: ...` line and exit code 2 (never a traceback), and a failed check into exit code 1.

The mistakes run through the real `flywheel` entry point in a subprocess, as a user meets them."""

from __future__ import annotations

import ast
import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.config import StrictModel, load_yaml_model
from lakehouse.errors import ConfigError, FlywheelError
from tests.helpers.release_lakes import all_records, ingest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lakehouse", "curation", "labeling_app", "train")


def flywheel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from lakehouse.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    """A small lake with an `sft` and an `unpaired` (kto) release."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    root = tmp_path_factory.mktemp("errors") / "lake"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLYWHEEL_HMAC_KEY", "errors-test-key-" + "k" * 32)
        ingest(root, all_records())
    releases = [
        {"name": "sft", "type": "sft", "allow_unscrubbed": True},
        {"name": "kto", "type": "unpaired", "allow_unscrubbed": True},
    ]
    recipe = parse({"name": "r", "stages": [{"stage": "release", "releases": releases}]})
    record = runner.run(recipe, Lake(root), Console(quiet=True), command="releases build")
    assert record.status == "succeeded", record.error
    return root


def _files(tmp_path: Path) -> dict[str, Path]:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": "r", "stages": [{"stage": "dedup", "filtr": "x"}]}))
    dedup_config = tmp_path / "dedup.yaml"
    dedup_config.write_text("treshold: 0.5\n")
    texts = tmp_path / "in.jsonl"
    texts.write_text('{"id": "a", "text": "hello"}\n')
    return {"recipe": recipe, "dedup_config": dedup_config, "texts": texts}


# (arguments, what the one error line must name); {lake}, {tmp}, {recipe}, ... are filled in per test.
MISTAKES = {
    "bad recipe key": (["curate", "{recipe}", "--lake", "{tmp}/new-lake"], "filtr: unknown key"),
    "missing lake": (["sql", "SELECT 1", "--lake", "{tmp}/typo"], "no lake at"),
    "missing ingest file": (["ingest", "{tmp}/missing.jsonl", "--lake", "{tmp}/new-lake"], "missing.jsonl"),
    "releases diff of two release types": (["releases", "diff", "sft@1", "kto@1", "--lake", "{lake}"], "same type"),
    "retention path traversal": (
        ["retention", "--keep-days", "1", "--table", "../x", "--lake", "{lake}"],
        "--table ../x",
    ),
    "bad --format choice": (["sql", "SELECT 1", "--format", "xml", "--lake", "{lake}"], "'xml' is not one of"),
    "unknown release ref": (["releases", "show", "nosuch@3", "--lake", "{lake}"], "no release named 'nosuch'"),
    "unknown release version": (["releases", "show", "sft@9", "--lake", "{lake}"], "sft has no version"),
    "bad --as-of date": (["retention", "--keep-days", "1", "--as-of", "May 1", "--lake", "{lake}"], "--as-of"),
    "bad dedup config key": (
        ["dedup", "--in", "{texts}", "--out", "{tmp}/out.jsonl", "--config", "{dedup_config}"],
        "treshold: unknown key",
    ),
    "erase without a user": (["erase", "--lake", "{lake}"], "give --user"),
    "bad queue kind": (
        ["label", "queue", "create", "--kind", "essay", "--from", "preference-pairs", "--lake", "{lake}"],
        "'essay' is not one of",
    ),
    "unknown command": (["no-such-command"], "No such command"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_user_mistake_is_one_error_line_and_exit_2(mistake, lake, tmp_path):
    args, named = MISTAKES[mistake]
    values = {"lake": lake, "tmp": tmp_path, **_files(tmp_path)}
    done = flywheel(*(a.format(**values) for a in args))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert named in lines[0]


def test_a_mistake_leaves_no_lake_and_no_run_behind(tmp_path):
    files = _files(tmp_path)
    for args in (["ingest", tmp_path / "missing.jsonl"], ["curate", files["recipe"]]):
        assert flywheel(*args, "--lake", tmp_path / "new-lake").returncode == 2
    assert not (tmp_path / "new-lake").exists()


def test_a_failed_check_exits_1_with_its_message_and_no_traceback(lake, tmp_path):
    import shutil

    tampered = tmp_path / "lake"
    shutil.copytree(lake, tampered)
    data = sorted((tampered / "releases").rglob("*.parquet"))
    data[0].write_bytes(data[0].read_bytes() + b"tampered")
    done = flywheel("releases", "verify", "--lake", tampered)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "FAILED" in done.stdout and "do not match their manifests" in done.stderr
    assert "Traceback" not in done.stderr and not done.stderr.startswith("error:")
    assert flywheel("releases", "verify", "--lake", lake).returncode == 0


def test_help_placeholders_are_uppercase_and_choices_are_listed():
    diff_help = flywheel("releases", "diff", "--help").stdout
    assert "Usage:" in diff_help and " A B" in diff_help and "{" not in diff_help
    sql_help = flywheel("sql", "--help").stdout
    assert "[QUERY]" in sql_help and "--format [table|csv|json]" in sql_help and "--max-rows INTEGER" in sql_help
    ingest_help = flywheel("ingest", "--help").stdout
    assert "PATHS..." in ingest_help and "[user|internal]" in ingest_help
    assert "<" not in sql_help + ingest_help + diff_help  # no `<int>` or `<list[str]>`


# -- the hierarchy -----------------------------------------------------------------------------------------


def _class_bases() -> dict[str, set[str]]:
    """Every class defined in the packages, by name, with the names of its bases (read from the source,
    so no module, heavy or not, is imported)."""
    bases: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    bases.setdefault(node.name, set()).update(names)
    return bases


def _ancestors(name: str, bases: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(bases.get(current, ()))
    return seen


def _builtin(name: str, kind: type) -> bool:
    found = getattr(builtins, name, None)
    return isinstance(found, type) and issubclass(found, kind)


def test_every_exception_class_of_the_packages_is_a_flywheel_error():
    bases = _class_bases()
    exceptions = {
        name
        for name in bases
        if any(_builtin(a, BaseException) for a in _ancestors(name, bases))
        and not any(_builtin(a, Warning) for a in _ancestors(name, bases))  # warnings are not raised
    }
    assert len(exceptions) >= 30  # the walk found them (ReleaseError, RecipeError, StoreError, ...)
    strays = sorted(name for name in exceptions if "FlywheelError" not in _ancestors(name, bases))
    assert strays == []


def test_the_packages_old_error_names_are_the_shared_classes():
    from curation.dedup.jsonl import InputError as DedupInputError
    from curation.ingest.sources import InputError as IngestInputError
    from curation.pipeline.recipe import RecipeError
    from labeling_app.config import ConfigError as LabelingConfigError
    from train.config import ConfigError as TrainConfigError

    assert DedupInputError is IngestInputError and issubclass(DedupInputError, ValueError)
    assert LabelingConfigError is TrainConfigError is ConfigError and issubclass(RecipeError, ConfigError)
    assert issubclass(ConfigError, FlywheelError)


# -- load_yaml_model ---------------------------------------------------------------------------------------


class Inner(StrictModel):
    rank: int = 8


class Settings(StrictModel):
    name: str
    lora: Inner = Inner()


def test_load_yaml_model_reads_a_valid_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: a\nlora:\n  rank: 4\n")
    assert load_yaml_model(path, Settings) == Settings(name="a", lora=Inner(rank=4))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nlora:\n  rnak: 4\n", "s.yaml: lora.rnak: unknown key"),
        ("name: a\nlora:\n  rank: many\n", "s.yaml: lora.rank: Input should be a valid integer"),
        ("lora: {}\n", "s.yaml: name: Field required"),
        ("name: [1,\n", "s.yaml: not valid YAML"),
        ("- a\n", "s.yaml: the top level must be a mapping"),
    ],
)
def test_load_yaml_model_errors_name_the_file_and_the_bad_key(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_yaml_model(path, Settings)
    assert message in str(error.value)


def test_load_yaml_model_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="nothere.yaml: no such file"):
        load_yaml_model(tmp_path / "nothere.yaml", Settings)
