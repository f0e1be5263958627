"""`flywheel dedup`, `flywheel eval dedup` and the quality targets on real conversations."""

from __future__ import annotations

import gzip
import json
import random

import pytest
from typer.testing import CliRunner

from curation.dedup.config import DedupConfig
from curation.dedup.evalset import (
    Corpus,
    edit_words,
    load_simulated,
    original_truth,
    simulated_corpus,
    simulated_prompt_corpus,
)
from curation.dedup.evaluation import TARGET, evaluate, quality, real_corpora
from curation.dedup.units import conversation_text
from lakehouse.cli import _register_plugins, app

_register_plugins()
runner = CliRunner()

LONG = (
    "my sister keeps borrowing my car without asking and last week she brought it back with an empty tank "
    "and a dent in the door, how do I bring this up without starting a huge family fight"
)


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dedup_command_writes_one_line_per_input_in_order(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(
        source,
        [
            {"id": "x1", "text": LONG},
            {"id": 7, "text": "Hi, how are you today? I want to plan a trip to Portugal in spring."},
            {"id": "x0", "text": LONG.replace("empty", "almost empty").replace("huge ", "")},
            {"id": "x2", "text": "Hi, how are you today? What is a good recipe for lentil soup?"},
            {"id": "x3", "text": "  " + LONG.upper()},
        ],
    )
    result = runner.invoke(app, ["dedup", "--in", str(source), "--out", str(target)])
    assert result.exit_code == 0, result.output
    lines = _read(target)
    assert [line["id"] for line in lines] == ["x1", 7, "x0", "x2", "x3"]
    assert [line["cluster"] for line in lines] == ["x0", 7, "x0", "x2", "x0"]
    assert [line["representative"] for line in lines] == [False, True, True, True, False]
    assert "bands=25 rows=5" in result.output


def test_dedup_command_threshold_and_config(tmp_path):
    source, target, config = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "dedup.yaml"
    edited = LONG.replace("car", "bike").replace("sister", "brother").replace("family", "big")
    _write(source, [{"id": "a", "text": LONG}, {"id": "b", "text": edited}])
    assert runner.invoke(app, ["dedup", "--in", str(source), "--out", str(target), "--threshold", "0.5"]).exit_code == 0
    assert {line["cluster"] for line in _read(target)} == {"a"}
    config.write_text("threshold: 0.95\n")
    assert (
        runner.invoke(app, ["dedup", "--in", str(source), "--out", str(target), "--config", str(config)]).exit_code == 0
    )
    assert [line["cluster"] for line in _read(target)] == ["a", "b"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "text": "fine"}\nnot json\n', "in.jsonl:2: not valid JSON"),
        ('{"id": "a"}\n', "in.jsonl:1: 'text' must be a string"),
        ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "repeats 'key'"),
        ('{"id": "a", "text": "x", "started_at": "yesterday"}\n', "not an RFC 3339 timestamp"),
    ],
)
def test_dedup_command_rejects_bad_lines_with_their_number(tmp_path, line, message):
    source = tmp_path / "in.jsonl"
    source.write_text(line)
    result = runner.invoke(app, ["dedup", "--in", str(source), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_started_at_picks_the_representative(tmp_path):
    source, target = tmp_path / "in.jsonl.gz", tmp_path / "out.jsonl"
    with gzip.open(source, "wt") as fh:
        fh.write(json.dumps({"id": "a", "text": LONG, "started_at": "2026-10-02T00:00:00Z"}) + "\n")
        fh.write(json.dumps({"id": "b", "text": LONG, "started_at": "2026-10-01T09:30:00+02:00"}) + "\n")
    assert runner.invoke(app, ["dedup", "--in", str(source), "--out", str(target)]).exit_code == 0
    assert [line["cluster"] for line in _read(target)] == ["b", "b"]


def test_edits_stay_within_ten_percent_of_words():
    rng = random.Random(0)
    messages = [("user", " ".join(f"w{i}" for i in range(57))), ("assistant", "short reply here")]
    for rate in (0.01, 0.05, 0.1):
        _, edits = edit_words(messages, rate, rng, ["x", "y"])
        assert 1 <= edits <= 6
    assert edit_words([("user", "only five words in here")], 0.1, rng, ["x"])[1] == 0


def test_truth_links_originals_within_ten_percent_and_scores_pairs():
    texts = [
        " ".join(f"w{i}" for i in range(20)),
        " ".join(f"w{i}" for i in range(19)) + " other",  # 1 of 20 words changed: a duplicate
        " ".join(f"w{i}" for i in range(17)) + " a b c",  # 3 of 20 from the first: not
        "Hello there.",
        "hello there",
        "something else",
    ]
    truth = original_truth(texts)
    assert truth.linked(0, 1) and truth.linked(3, 4)
    assert not truth.linked(0, 2) and not truth.linked(0, 5)
    corpus = Corpus(truth)
    for i, text in enumerate(texts):
        corpus.add(f"o{i}", text, i, None, "")
    corpus.add("copy", texts[5] + " x", 5, 1, "")
    perfect = ["o0", "o0", "o2", "o3", "o3", "o5", "o5"]
    assert (quality(corpus, perfect).precision, quality(corpus, perfect).recall) == (1.0, 1.0)
    merged = quality(corpus, ["o0", "o0", "o0", "o3", "o3", "o3", "o3"])
    # Wrongly merged: o2 with o0 and o1; o5 and its copy with o3 and o4. All true pairs are kept.
    assert merged.recall == 1.0
    assert merged.precision == pytest.approx(3 / 9)  # 3 true of 3 + 6 predicted pairs
    assert merged.copy_recall == 1.0


def test_simulator_truth_loader(tmp_path):
    base = [("user", "hi there how are you"), ("assistant", LONG)]
    conversations = [
        {"conversation_id": "s1", "messages": [{"role": r, "content": c} for r, c in base]},
        {"conversation_id": "s2", "messages": [{"role": r, "content": c.replace("dent", "scratch")} for r, c in base]},
        {
            "conversation_id": "s3",
            "messages": [
                {"role": "user", "content": "hi there how are you"},
                {"role": "assistant", "content": "I am well, and you?"},
            ],
        },
        {
            "conversation_id": "s4",
            "messages": [
                {"role": "user", "content": "hi there how are you"},
                {"role": "assistant", "content": "No.", "signals": {"regenerated": True}},
                {"role": "assistant", "content": "Great, thanks!"},
            ],
        },
    ]
    truth = [
        {"conversation_id": "s1", "duplicate_of": None, "duplicate_kind": None, "duplicate_group": None},
        {"conversation_id": "s2", "duplicate_of": "s1", "duplicate_kind": "edited_copy", "duplicate_group": "s1"},
        {
            "conversation_id": "s3",
            "duplicate_of": None,
            "duplicate_kind": "stock_opener",
            "duplicate_group": "opener-00",
        },
        {
            "conversation_id": "s4",
            "duplicate_of": None,
            "duplicate_kind": "stock_opener",
            "duplicate_group": "opener-00",
        },
    ]
    (tmp_path / "traffic").mkdir()
    with gzip.open(tmp_path / "traffic" / "part-00000.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(c) + "\n" for c in conversations)
    with gzip.open(tmp_path / "truth.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(t) + "\n" for t in truth)
    loaded, planted = load_simulated(tmp_path)
    assert loaded["s4"][1] == ("assistant", "No.", True) and planted["s2"].group == "s1" and "s1" not in planted
    corpus = simulated_corpus(loaded, planted, conversation_text)
    assert corpus.ids == ["s1", "s3", "s4", "s2"] and corpus.kinds == ["original", "original", "original", "copy"]
    assert corpus.origins == [0, 1, 2, 0]
    ((_, _, q),) = evaluate({"sim": corpus}, [DedupConfig()])
    assert q.recall == 1.0 and q.precision == 1.0 and q.opener_pairs == 3 and q.opener_pairs_merged == 0
    # the prompt unit: one prompt per user message (s4's regenerated reply and its replacement share one)
    prompts = simulated_prompt_corpus(loaded, planted)
    assert prompts.ids == ["s1:1", "s3:1", "s4:1", "s2:1"] and prompts.origins == [0, 1, 2, 0]
    ((_, _, q),) = evaluate({"sim": prompts}, [DedupConfig(threshold=0.7)])
    assert q.true_pairs == 6 and q.recall == 1.0 and q.precision == 1.0


def test_simulated_folder_must_be_simulator_output(tmp_path):
    with pytest.raises(FileNotFoundError, match="not `flywheel simulate` output"):
        load_simulated(tmp_path)


@pytest.mark.slow
def test_quality_targets_on_real_conversations_with_the_defaults(hh_path, persona_chat_path):
    assert hh_path.parent == persona_chat_path.parent
    names = ["conversations, labeled transcript", "conversations, unit text", "prompts, hh-rlhf"]
    results = evaluate(real_corpora(hh_path.parent, seed=3, names=names), [DedupConfig()])
    assert len(results) == 3
    for _, name, q in results:
        assert q.precision >= TARGET and q.recall >= TARGET, (name, q)
        assert q.copy_recall >= TARGET, (name, q)


def test_quality_targets_on_the_simulators_planted_copies(tmp_path):
    from curation.dedup.evaluation import simulated_corpora
    from curation.simulator import SimulationConfig, run_simulation

    run_simulation(SimulationConfig(conversations=2000, seed=5), tmp_path, workers=1, progress=False)
    results = {name: q for _, name, q in evaluate(simulated_corpora(tmp_path), [DedupConfig()])}
    conversations, prompts = results["simulator: conversations, planted copies"], results["simulator: prompts"]
    assert conversations.true_pairs >= 10 and conversations.precision >= TARGET and conversations.recall >= TARGET
    assert conversations.opener_pairs > 0 and conversations.opener_pairs_merged <= conversations.opener_pairs * 0.05
    # The templated prompts: slot-filled neighbours are negatives, the prompts of planted copies positives.
    assert prompts.true_pairs >= 100 and prompts.precision >= TARGET and prompts.recall >= TARGET, prompts
