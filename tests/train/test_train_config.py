"""Training settings: the shipped YAML files are the defaults, unknown keys and bad values name the key,
overrides win and are validated the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from train import config

CONFIGS = Path(__file__).resolve().parent.parent.parent / "configs" / "train"


@pytest.mark.parametrize("kind", list(config.SETTINGS))
def test_shipped_configs_validate_and_document_the_defaults(kind):
    assert config.load(kind, CONFIGS / f"{kind}.yaml") == config.load(kind)


def test_unknown_key_is_named_with_its_file(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("trainer: sft\nlerning_rate: 0.1\n")
    with pytest.raises(config.ConfigError, match=r"sft\.yaml: lerning_rate: unknown key"):
        config.load("sft", path)


def test_nested_unknown_key_and_bad_value_are_named(tmp_path):
    path = tmp_path / "dpo.yaml"
    path.write_text("lora:\n  rank: 8\nbeta: -1\n")
    with pytest.raises(config.ConfigError) as error:
        config.load("dpo", path)
    assert "lora.rank: unknown key" in str(error.value)
    assert "beta: Input should be greater than 0" in str(error.value)


def test_a_file_for_another_trainer_is_refused():
    with pytest.raises(config.ConfigError, match="configures 'dpo', not 'sft'"):
        config.load("sft", CONFIGS / "dpo.yaml")


def test_trainer_specific_keys_do_not_leak_between_trainers(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("beta: 0.2\n")
    assert config.load("dpo", path).beta == 0.2
    with pytest.raises(config.ConfigError, match="beta: unknown key"):
        config.load("sft", path)


def test_overrides_win_and_are_validated():
    settings = config.load(
        "sft",
        CONFIGS / "sft.yaml",
        {"learning_rate": 1e-3, "max_steps": 3, "lora.enabled": True, "lora.r": 4, "seed": None},
    )
    assert (settings.learning_rate, settings.max_steps, settings.lora.enabled, settings.lora.r) == (1e-3, 3, True, 4)
    assert settings.seed == 42  # a None override (an option not given) changes nothing
    with pytest.raises(config.ConfigError, match="per_device_train_batch_size"):
        config.load("kto", None, {"per_device_train_batch_size": 1})


def test_parse_assignment_reads_yaml_values():
    assert config.parse_assignment("lora.r=8") == ("lora.r", 8)
    assert config.parse_assignment("lora.enabled=true") == ("lora.enabled", True)
    key, value = config.parse_assignment("learning_rate=1e-4")  # YAML reads 1e-4 as text; validation makes it a float
    assert config.load("sft", None, {key: value}).learning_rate == 1e-4
    modules = config.parse_assignment("lora.target_modules=[q_proj, v_proj]")
    assert modules == ("lora.target_modules", ["q_proj", "v_proj"])
    with pytest.raises(config.ConfigError, match="key=value"):
        config.parse_assignment("lora.r")


def test_eval_settings_reject_unknown_artifact_features():
    assert config.load("eval", None, {"artifact_thresholds": {"emoji_count": 0.5}}).artifact_thresholds == {
        "emoji_count": 0.5
    }
    with pytest.raises(config.ConfigError, match="unknown artifact feature"):
        config.load("eval", None, {"artifact_thresholds": {"emojis": 0.5}})


def test_bad_yaml_and_missing_file_are_clear(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1,\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load("sft", broken)
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load("sft", tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(config.ConfigError, match="must be a mapping"):
        config.load("sft", listed)
