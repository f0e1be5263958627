"""Topic clusters, labels and semantic pruning on real MiniLM embeddings; the stratified sampler."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curation.cluster.config import TopicsConfig
from curation.cluster.kmeans import choose_k
from curation.cluster.labels import topic_labels
from curation.cluster.prune import prune_topic
from curation.cluster.topics import OUTPUT_SCHEMA, cluster_topics
from curation.embed.cache import embedding_table
from curation.sample.config import SampleConfig, Stratum
from curation.sample.stratified import depth_bucket, format_report, rake, stratified_sample

TOPIC_TEXTS = {
    "pets": [
        "My dog loves long walks in the park",
        "How often should I feed my puppy?",
        "My cat keeps scratching the sofa",
        "What toys do kittens like to play with?",
        "My dog barks at the mailman every morning",
    ],
    "cooking": [
        "How long should I boil pasta?",
        "What is a good recipe for tomato soup?",
        "How do I bake bread without yeast?",
        "Can I freeze cooked rice?",
        "What spices go well with roasted chicken?",
    ],
    "money": [
        "How do I open a savings account?",
        "Should I pay off my credit card or invest?",
        "What is a good budget for a student?",
        "How does compound interest work?",
        "Is it smart to buy stocks during a crash?",
    ],
}


@pytest.fixture(scope="session")
def topic_table():
    from curation.embed.config import EmbedConfig
    from curation.embed.encode import SentenceEncoder, embed_texts

    texts = [t for group in TOPIC_TEXTS.values() for t in group]
    texts += ["My dog loves long walks in the park!", "my dog loves long walks in the park"]  # paraphrase copies
    vectors, _ = embed_texts(texts, encoder=SentenceEncoder(EmbedConfig()))
    return pa.table(
        {
            "key": [f"k{i:02d}" for i in range(len(texts))],
            "text": texts,
            "embedding": embedding_table(["-"] * len(texts), "m", vectors)["embedding"],
            "started_at": pa.array([None] * len(texts), pa.timestamp("us", tz="UTC")),
        }
    )


def test_topics_group_texts_by_subject_and_label_them(topic_table):
    result, stats = cluster_topics(topic_table, TopicsConfig(k=3))
    assert result.schema == OUTPUT_SCHEMA and stats.details["k"] == 3
    topic_of = dict(zip(result["key"].to_pylist(), result["topic"].to_pylist(), strict=True))
    groups = [{topic_of[f"k{i:02d}"] for i in range(start, start + 5)} for start in (0, 5, 10)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3
    labels = dict(zip(result["topic"].to_pylist(), result["topic_label"].to_pylist(), strict=True))
    assert "dog" in labels[topic_of["k00"]]


def test_semantic_pruning_keeps_the_first_of_each_paraphrase_group(topic_table):
    result, stats = cluster_topics(topic_table, TopicsConfig(k=3, prune_threshold=0.95))
    duplicate_of = dict(zip(result["key"].to_pylist(), result["semantic_duplicate_of"].to_pylist(), strict=True))
    assert duplicate_of["k15"] == "k00" and duplicate_of["k16"] == "k00" and duplicate_of["k00"] is None
    assert stats.dropped == {"semantic_duplicate": 2}
    later = topic_table.set_column(3, "started_at", pa.array([None] * 15 + [1, 2], pa.timestamp("us", tz="UTC")))
    result, _ = cluster_topics(later, TopicsConfig(k=3, prune_threshold=0.95))
    duplicate_of = dict(zip(result["key"].to_pylist(), result["semantic_duplicate_of"].to_pylist(), strict=True))
    assert duplicate_of["k00"] == "k15" and duplicate_of["k16"] == "k15"  # the earliest is kept


def test_topics_are_deterministic_whatever_the_row_order(topic_table):
    first, _ = cluster_topics(topic_table, TopicsConfig(k=3))
    shuffled = topic_table.take(np.random.default_rng(3).permutation(topic_table.num_rows))
    second, _ = cluster_topics(shuffled, TopicsConfig(k=3))
    assert first.equals(second)


def test_choose_k_heuristic():
    assert [choose_k(n) for n in (1, 2, 50, 20_000, 10_000_000)] == [1, 2, 5, 100, 512]


def test_labels_prefer_distinctive_terms():
    texts = ["pasta sauce recipe", "pasta boil water", "stock market crash", "stock dividend yield"]
    labels = topic_labels(texts, np.array([0, 0, 1, 1]), terms=1)
    assert labels == {0: "pasta", 1: "stock"}


def test_prune_topic_resolves_chains_to_the_kept_row():
    vectors = np.array([[1, 0], [0.99, 0.141], [0.96, 0.28], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    representative, best = prune_topic(vectors, threshold=0.985)
    assert representative.tolist() == [0, 0, 0, 3]
    assert best[0] == 0 and best[3] < 0.3


def _traffic(n: int = 6000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "key": [f"s{i:05d}" for i in range(n)],
            "source": rng.choice(["user", "internal"], n, p=[0.9, 0.1]),
            "character_id": rng.choice(["ava", "bo", "cy", "di"], n, p=[0.7, 0.2, 0.07, 0.03]),
            "topic": rng.integers(0, 12, n),
            "depth": rng.geometric(0.4, n) - 1,
        }
    )


def _shares(report: pa.Table, stratum: str, column: str) -> dict[str, float]:
    return {r["value"]: r[column] for r in report.to_pylist() if r["stratum"] == stratum}


def test_sampler_matches_traffic_shares_by_default():
    result, report, stats = stratified_sample(_traffic(), SampleConfig(target=1000))
    assert int(result["selected"].to_numpy().sum()) == 1000 == stats.rows_out
    for stratum in ("source", "character_id", "topic", "depth_bucket"):
        target, achieved = _shares(report, stratum, "target_share"), _shares(report, stratum, "achieved_share")
        assert max(abs(target[v] - achieved.get(v, 0)) for v in target) < 0.02, stratum


def test_sampler_meets_preset_targets_and_caps():
    config = SampleConfig(
        target=600,
        max_per_character=250,
        max_per_cluster=60,
        strata=[
            Stratum(column="source", shares={"user": 0.7, "internal": 0.3}),
            Stratum(column="character_id", shares={"ava": 0.4, "bo": 0.3, "*": 0.3}),
            Stratum(column="topic"),
        ],
    )
    table = _traffic()
    result, report, _ = stratified_sample(table, config)
    selected = result["selected"].to_numpy()
    assert selected.sum() == 600
    chosen = table.filter(pa.array(selected))
    characters, per_character = np.unique(chosen["character_id"].to_numpy(), return_counts=True)
    assert per_character.max() <= 250
    assert np.unique(chosen["topic"].to_numpy(), return_counts=True)[1].max() <= 60
    achieved = _shares(report, "source", "achieved_share")
    assert abs(achieved["internal"] - 0.3) < 0.02
    character_share = _shares(report, "character_id", "achieved_share")
    assert abs(character_share["ava"] - 0.4) < 0.02 and abs(character_share["bo"] - 0.3) < 0.02
    assert "achieved" in format_report(report)


def test_sampler_is_deterministic_and_stable_under_added_rows():
    config = SampleConfig(target=300, seed=5)
    table = _traffic(3000)
    first, _, _ = stratified_sample(table, config)
    assert first.equals(
        stratified_sample(table.take(np.random.default_rng(1).permutation(3000)), config)[0].sort_by("key")
    )
    other_seed, _, _ = stratified_sample(table, config.model_copy(update={"seed": 6}))
    assert not first["selected"].equals(other_seed["selected"])


def test_rake_and_depth_buckets():
    weights = rake([np.array(["a", "a", "a", "b"])], [{"a": 0.5, "b": 0.5}])
    assert weights[:3].sum() == pytest.approx(weights[3])
    assert [depth_bucket(d, [1, 2, 4, 8]) for d in (0, 1, 2, 3, 4, 7, 8, 30, None)] == [
        "0",
        "1",
        "2-3",
        "2-3",
        "4-7",
        "4-7",
        "8+",
        "8+",
        "(none)",
    ]
