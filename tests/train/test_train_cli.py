"""`flywheel train|generate|score` from the command line: refusals with a clear reason (tampered or
mismatched release, bad config, missing model, existing output), LoRA checkpoints, determinism."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lakehouse import catalog, cli_options, tables
from lakehouse.lake import Lake
from lakehouse.releases import resolve
from train import cli, models, synthetic


@pytest.fixture(scope="module")
def run():
    app = cli_options.app()  # the CLI's error boundary: UserError -> exit 2
    cli.register(app)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def lake(tmp_path) -> Lake:
    the_lake = Lake(tmp_path / "lake")
    synthetic.write_release(the_lake, "tiny-sft", "sft", rows=40, seed=3)
    synthetic.write_release(the_lake, "tiny-prompts", "prompt", rows=12, seed=3)
    return the_lake


def _runs(lake: Lake) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(lake.runs_dir.glob("*.json"))]


def test_a_tampered_release_refuses_to_start(run, lake, tmp_path):
    data_file = next((lake.root / "releases" / "tiny-sft" / "1" / "data").glob("train-*.parquet"))
    data_file.write_bytes(data_file.read_bytes() + b"\0")
    out = tmp_path / "sft"
    result = run(
        "train", "sft", "--release", "tiny-sft", "--model", "tiny", "--out", out, "--max-steps", 1, "--lake", lake.root
    )
    assert result.exit_code == 2
    assert "does not match its manifest; refusing to start" in result.output
    assert "sha256 mismatch for data/train-00000.parquet" in result.output
    assert not out.exists() and not list(tmp_path.glob(".sft.partial-*"))
    [record] = _runs(lake)
    assert record["status"] == "failed" and "sha256 mismatch" in record["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "dpo", "--release", "tiny-sft", "--model", "tiny"],
            "is a 'sft' release; dpo needs one of preference",
        ),
        (["train", "sft", "--release", "nope", "--model", "tiny"], "no release named 'nope'"),
        (["train", "sft", "--release", "tiny-sft@9", "--model", "tiny"], "tiny-sft has no version '9'"),
        (["train", "sft", "--release", "tiny-sft", "--model", "/no/such/model"], "is not a local directory"),
        (
            ["train", "sft", "--release", "tiny-sft", "--model", "tiny", "--set", "lora.rank=4"],
            "lora.rank: unknown key",
        ),
        (
            ["train", "kto", "--release", "tiny-sft", "--model", "tiny", "--batch-size", "1"],
            "per_device_train_batch_size: Input should be greater than or equal to 2",
        ),
        (["train", "generate", "--model", "tiny", "--prompts", "tiny-prompts"], "model tiny is not a local directory"),
        (["train", "score", "--reward-model", "/no/such/model", "--candidates", "gen-nope"], "no generation run"),
    ],
)
def test_bad_inputs_end_with_a_clear_reason(run, lake, tmp_path, args, message):
    extra = ["--out", tmp_path / "out"] if args[1] in ("sft", "reward", "dpo", "kto") else []
    result = run(*args, *extra, "--lake", lake.root)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_greedy_sampling_of_several_candidates_is_refused_before_loading_anything(run, lake):
    result = run(
        "train",
        "generate",
        "--model",
        "tiny",
        "--prompts",
        "tiny-prompts",
        "--num-candidates",
        "4",
        "--temperature",
        "0",
        "--lake",
        lake.root,
    )
    assert result.exit_code == 2 and "greedy decoding (temperature 0) gives K identical candidates" in result.output


def test_a_missing_lake_is_named(run, tmp_path):
    result = run("train", "score", "--reward-model", "x", "--lake", tmp_path / "nowhere")
    assert result.exit_code == 2 and f"no lake at {tmp_path / 'nowhere'}" in result.output


@pytest.mark.slow
def test_same_seed_same_weights_and_overwrite_is_explicit(run, lake, tmp_path):
    common = ["--release", "tiny-sft", "--model", "tiny", "--max-steps", 3, "--batch-size", 4, "--lake", lake.root]
    first = run("train", "sft", "--out", tmp_path / "a", *common)
    assert first.exit_code == 0, first.output
    refused = run("train", "sft", "--out", tmp_path / "a", *common)
    assert refused.exit_code == 2 and "pass --overwrite" in refused.output
    again = run("train", "sft", "--out", tmp_path / "a", "--overwrite", *common)
    other_seed = run("train", "sft", "--out", tmp_path / "b", "--seed", 7, *common)
    assert again.exit_code == 0 and other_seed.exit_code == 0
    hashes = [models.read_lineage(tmp_path / d)["weights_sha256"] for d in ("a", "b")]
    with catalog.connect(lake) as con:
        recorded = con.execute("SELECT weights_sha256 FROM models ORDER BY started_at").fetchall()
    assert [h for (h,) in recorded] == [hashes[0], hashes[0], hashes[1]]  # same seed, same bytes
    assert hashes[0] != hashes[1]
    assert not list(tmp_path.glob(".a.*"))  # no staging or replaced directories left behind


@pytest.mark.slow
def test_lora_checkpoint_has_an_adapter_and_a_merged_model_later_steps_load(run, lake, tmp_path):
    out = tmp_path / "lora"
    result = run(
        "train",
        "sft",
        "--release",
        "tiny-sft",
        "--model",
        "tiny",
        "--out",
        out,
        "--lora",
        "--set",
        "lora.r=4",
        "--max-steps",
        2,
        "--batch-size",
        4,
        "--lake",
        lake.root,
    )
    assert result.exit_code == 0, result.output
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["task_type"] == "CAUSAL_LM"
    assert models.read_lineage(out)["config"]["lora"]["enabled"] is True
    generated = run(
        "train",
        "generate",
        "--model",
        out,
        "--prompts",
        "tiny-prompts",
        "--num-candidates",
        2,
        "--max-new-tokens",
        8,
        "--lake",
        lake.root,
    )
    assert generated.exit_code == 0, generated.output
    rows = lake.read(tables.CANDIDATES).to_pylist()
    assert len(rows) == 2 * 12 and {r["model"] for r in rows} == {str(out)}
    with catalog.connect(lake) as con:
        assert con.execute("SELECT lora FROM models").fetchall() == [(True,)]


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["reward", "kto"])
def test_tiny_reward_and_kto_train_straight_from_a_preference_release(run, tmp_path, trainer):
    lake = Lake(tmp_path / "lake")
    synthetic.write_release(lake, "pairs", "preference", rows=40, seed=5)
    out = tmp_path / trainer
    result = run(
        "train",
        trainer,
        "--release",
        "pairs",
        "--model",
        "tiny",
        "--out",
        out,
        "--max-steps",
        2,
        "--batch-size",
        4,
        "--lake",
        lake.root,
    )
    assert result.exit_code == 0, result.output
    lineage = models.read_lineage(out)
    assert lineage["base_model"]["kind"] == "tiny" and lineage["release"]["type"] == "preference"
    config = json.loads((out / "config.json").read_text())
    expected = "LlamaForSequenceClassification" if trainer == "reward" else "LlamaForCausalLM"
    assert config["architectures"] == [expected]
    if trainer == "kto":  # each pair became a desirable and an undesirable row
        train_pairs = resolve(lake, "pairs").read("train").num_rows
        assert lineage["train_rows"] == 2 * train_pairs


@pytest.mark.slow
def test_sft_from_a_model_directory_uses_or_declines_assistant_only_loss_by_its_template(run, lake, tmp_path):
    """The path a real base model takes: a directory whose tokenizer carries a real chat template. TRL knows how
    to add generation markers to Qwen 2.5's template; a template it does not know falls back, with a note."""
    from pathlib import Path

    import trl

    base = tmp_path / "base"
    assert (
        run(
            "train",
            "sft",
            "--release",
            "tiny-sft",
            "--model",
            "tiny",
            "--out",
            base,
            "--max-steps",
            1,
            "--lake",
            lake.root,
        ).exit_code
        == 0
    )
    qwen = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    plain = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<|im_end|>\n{% endfor %}"
    for name, template, notes in (("qwen", qwen, []), ("plain", plain, ["assistant-only loss unavailable"])):
        (base / "chat_template.jinja").write_text(template)
        out = tmp_path / name
        result = run(
            "train",
            "sft",
            "--release",
            "tiny-sft",
            "--model",
            base,
            "--out",
            out,
            "--max-steps",
            1,
            "--lake",
            lake.root,
        )
        assert result.exit_code == 0, result.output
        lineage = models.read_lineage(out)
        assert [n.split(":")[0] for n in lineage["notes"]] == notes
        assert lineage["base_model"]["run_id"] == models.read_lineage(base)["run_id"]
