"""The shape of the `flywheel` command: evaluations under `eval`, training and generation under `train`, one
spelling per command, even though the commands come from packages that never import each other."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from lakehouse.cli import group


@pytest.fixture(scope="module")
def flywheel() -> typer.Typer:
    app = typer.Typer()
    for entry in sorted(entry_points(group="flywheel.commands"), key=lambda e: e.name):
        entry.load()(app)
    return app


def _commands(app: typer.Typer, *path: str) -> set[str]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return set(command.commands)


def test_eval_holds_every_evaluation_from_curation_and_train(flywheel):
    assert _commands(flywheel, "eval") >= {"scrub", "dedup", "model"}


def test_train_holds_training_generation_and_the_gpu_check(flywheel):
    expected = {
        "sft",
        "reward",
        "dpo",
        "kto",
        "grpo",
        "online-dpo",
        "generate",
        "score",
        "rejection-sample",
        "gpu-check",
    }
    assert _commands(flywheel, "train") >= expected


@pytest.mark.parametrize("old", ["scrub-eval", "dedup-eval", "eval-model", "generate", "score", "rejection-sample"])
def test_the_old_top_level_spellings_are_gone(flywheel, old):
    assert old not in _commands(flywheel)
    result = CliRunner().invoke(flywheel, [old, "--help"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_count_and_format_flags_have_one_spelling(flywheel):
    runner = CliRunner()
    assert "--num-candidates" in runner.invoke(flywheel, ["train", "generate", "--help"]).output
    assert "--num-conversations" in runner.invoke(flywheel, ["simulate", "--help"]).output
    shown = runner.invoke(flywheel, ["releases", "show", "--help"]).output
    assert "--format" in shown and "--json" not in shown
    result = runner.invoke(flywheel, ["train", "generate", "--model", "m", "--prompts", "p", "--n", "2"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_a_group_is_made_once_per_app_and_shared():
    app = typer.Typer()
    first = group(app, "eval")
    assert group(app, "eval") is first
    assert [info.name for info in app.registered_groups] == ["eval"]
    with pytest.raises(KeyError):
        group(app, "evaluate")  # only the groups lakehouse declares
