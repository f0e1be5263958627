"""The dedup engine: clusters, the deterministic representative, recorded LSH parameters, bad input."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest

from curation.dedup.clusters import OUTPUT_SCHEMA, dedup
from curation.dedup.config import DedupConfig, load_config
from curation.dedup.evalset import load_hh

BASE = (
    "I have been thinking about adopting a dog from the shelter near my house but my landlord says pets "
    "are not allowed unless I pay a deposit, what should I do about it"
)


def _day(n: int) -> dt.datetime:
    return dt.datetime(2026, 10, n, tzinfo=dt.UTC)


def _edited(text: str, replace: dict[int, str]) -> str:
    words = text.split()
    for position, word in replace.items():
        words[position] = word
    return " ".join(words)


def _table(rows: list[tuple[str, str | None, dt.datetime | None]]) -> pa.Table:
    keys, texts, times = zip(*rows, strict=True)
    return pa.table(
        {"key": list(keys), "text": list(texts), "started_at": pa.array(list(times), pa.timestamp("us", tz="UTC"))}
    )


def _clusters(table: pa.Table) -> dict[str, str]:
    return dict(zip(table["key"].to_pylist(), table["cluster"].to_pylist(), strict=True))


ROWS = [
    ("c", BASE, _day(3)),
    ("a", _edited(BASE, {5: "a", 20: "rent"}), _day(2)),  # edited copy, earliest: the representative
    ("b", BASE.upper(), _day(4)),  # exact copy after normalization
    ("d", "Hi, how are you today? I would like to talk about my vegetable garden and the tomatoes", _day(1)),
    ("e", "Hi, how are you today? Can you recommend a good science fiction novel for a long flight", _day(1)),
    ("f", None, _day(5)),
]


def test_copies_share_a_cluster_and_stock_openers_do_not():
    result, stats = dedup(_table(ROWS))
    assert result.schema == OUTPUT_SCHEMA
    clusters = _clusters(result)
    assert clusters["a"] == clusters["b"] == clusters["c"] == "a"
    assert clusters["d"] == "d" and clusters["e"] == "e" and clusters["f"] == "f"
    assert result["is_representative"].to_pylist() == [False, True, False, True, True, True]
    assert stats.rows_in == 6 and stats.rows_out == 4
    assert stats.dropped == {"near_duplicate": 2}
    similarity = dict(zip(result["key"].to_pylist(), result["similarity"].to_pylist(), strict=True))
    assert similarity["a"] == 1.0 and 0.6 <= similarity["b"] == similarity["c"] < 1.0


def test_representative_is_earliest_then_smallest_key_whatever_the_input_order():
    rows = [("k2", BASE, _day(1)), ("k1", BASE, _day(1)), ("k0", BASE, _day(2)), ("k3", BASE, None)]
    for seed in range(3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        result, stats = dedup(_table(shuffled))
        assert set(result["cluster"].to_pylist()) == {"k1"}
        assert stats.dropped == {"exact_duplicate": 3}
    without_times, _ = dedup(_table(rows).drop_columns(["started_at"]))
    assert set(without_times["cluster"].to_pylist()) == {"k0"}


def test_rows_are_compared_within_their_scope_only():
    scopes = ["x", "x", "y", "x", "y", None]  # rows c, a, b, d, e, f
    table = _table(ROWS).append_column("scope", pa.array(scopes, pa.string()))
    result, stats = dedup(table, scope="scope")
    clusters = _clusters(result)
    # a, b, c are copies: a and c share scope x; b is alone in y; null is a scope of its own
    assert clusters["a"] == clusters["c"] == "a" and clusters["b"] == "b"
    assert stats.details["scopes"] == 3 and stats.rows_out == 5
    exact = pa.table({"key": ["p", "q", "r"], "text": ["Hi there", "hi there", " HI  THERE"], "scope": ["x", "y", "x"]})
    assert _clusters(dedup(exact, scope="scope")[0]) == {"p": "p", "q": "q", "r": "p"}
    assert _clusters(dedup(exact, DedupConfig(method="exact"), scope="scope")[0]) == {"p": "p", "q": "q", "r": "p"}
    # within one scope, the result is that of the engine without scopes
    same = dedup(table.set_column(3, "scope", pa.array(["s"] * 6)), scope="scope")[0]
    assert same.equals(dedup(_table(ROWS))[0])


def test_reruns_give_the_same_table(hh_path):
    conversations = load_hh(hh_path)[:400]
    texts = ["\n".join(content for _, content in messages) for messages in conversations]
    texts += [t.replace(" the ", " a ", 2) for t in texts[:100]]
    table = pa.table({"key": [f"k{i:04d}" for i in range(len(texts))], "text": texts})
    first, _ = dedup(table)
    second, _ = dedup(table.take(np.random.default_rng(0).permutation(len(texts))))
    assert first.equals(dedup(table)[0])
    assert _clusters(first) == _clusters(second)


def test_every_member_is_similar_to_its_representative(hh_path):
    """Connected components alone would chain; the split keeps each member a near-duplicate of its
    representative: within 10% word edits for texts of up to edit_words words, else within the threshold."""
    from curation.dedup.edits import words
    from curation.dedup.evalset import within_limit

    conversations = load_hh(hh_path)
    prompts = [messages[0][1] for messages in conversations]
    text_of = {f"p{i:04d}": text for i, text in enumerate(prompts)}
    table = pa.table({"key": list(text_of), "text": prompts})
    config = DedupConfig(threshold=0.5, edit_words=16)
    result, _ = dedup(table, config)
    near = ~result["is_representative"].to_numpy(zero_copy_only=False)
    rep_hash = dict(zip(result["key"].to_pylist(), result["norm_hash"].to_pylist(), strict=True))
    members = [
        (key, cluster, similarity)
        for key, cluster, h, similarity, is_near in zip(
            result["key"].to_pylist(),
            result["cluster"].to_pylist(),
            result["norm_hash"].to_pylist(),
            result["similarity"].to_pylist(),
            near,
            strict=True,
        )
        if is_near and h != rep_hash[cluster]
    ]
    short = [(k, c) for k, c, _ in members if max(len(words(text_of[k])), len(words(text_of[c]))) <= 16]
    long = [s for k, c, s in members if max(len(words(text_of[k])), len(words(text_of[c]))) > 16]
    assert short and long
    assert all(within_limit(text_of[k], text_of[c]) for k, c in short)
    assert min(long) >= config.threshold


def test_lsh_parameters_are_derived_from_the_threshold_and_recorded():
    for threshold in (0.5, 0.8):
        config = DedupConfig(threshold=threshold)
        _, stats = dedup(_table(ROWS), config)
        assert (stats.details["bands"], stats.details["rows"]) == config.lsh_params()
        assert stats.details["threshold"] == threshold
    assert DedupConfig(threshold=0.5).lsh_params() != DedupConfig(threshold=0.8).lsh_params()
    explicit = DedupConfig(bands=16, rows=8)
    assert dedup(_table(ROWS), explicit)[1].details["bands"] == 16


def test_exact_method_groups_normalized_equal_texts_only():
    result, stats = dedup(_table(ROWS), DedupConfig(method="exact"))
    clusters = _clusters(result)
    assert clusters["b"] == clusters["c"] == "c" and clusters["a"] == "a"
    assert stats.dropped == {"exact_duplicate": 1}


def test_several_workers_give_the_same_result():
    rows = [(f"r{i}", f"{BASE} number {i % 7}", _day(1 + i % 5)) for i in range(60)]
    config = DedupConfig(batch_size=8)
    single, _ = dedup(_table(rows), config)
    parallel, _ = dedup(_table(rows), config.model_copy(update={"workers": 2}))
    assert single.equals(parallel)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"id": ["a"], "text": ["x"]}), "no column 'key'"),
        (pa.table({"key": ["a", "a"], "text": ["x", "y"]}), "repeats 'key'"),
        (pa.table({"key": ["a", None], "text": ["x", "y"]}), "null 'key'"),
    ],
)
def test_bad_input_is_a_clear_error(table, message):
    with pytest.raises(ValueError, match=message):
        dedup(table)


def test_config_rejects_unknown_keys_and_inconsistent_bands(tmp_path):
    path = tmp_path / "dedup.yaml"
    path.write_text("threshold: 0.7\nthreshhold: 0.5\n")
    with pytest.raises(ValueError, match="threshhold"):
        load_config(path)
    path.write_text("threshold: 0.7\nbands: 20\n")
    with pytest.raises(ValueError, match="bands and rows"):
        load_config(path)
    path.write_text("threshold: 0.7\n")
    assert load_config(path).threshold == 0.7
