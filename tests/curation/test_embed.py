"""Embeddings: real MiniLM, exact-dedup before encoding, the Parquet cache, batching, SQL search."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from curation.embed.cache import EmbeddingCache
from curation.embed.config import EmbedConfig
from curation.embed.encode import SentenceEncoder, embed_texts, native_bfloat16, resolve_precision, token_batches
from curation.embed.model import model_path
from curation.embed.similar import nearest
from curation.texthash import text_hashes
from lakehouse import tables
from lakehouse.lake import Lake

TEXTS = [
    "hi",
    "I love my dog so much",
    "hi",
    "The stock market fell sharply today",
    "What will the weather be like tomorrow?",
    "My puppy is adorable",
    "hi",
]


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(EmbedConfig())


class Counting:
    """The real encoder, counting what it is asked to encode."""

    def __init__(self, inner: SentenceEncoder):
        self.inner, self.name, self.dimension, self.precision = inner, inner.name, inner.dimension, inner.precision
        self.calls, self.texts = 0, []

    def token_lengths(self, texts):
        return self.inner.token_lengths(texts)

    def encode(self, texts):
        self.calls += 1
        self.texts.extend(texts)
        return self.inner.encode(texts)


def test_each_distinct_text_is_encoded_once_and_vectors_follow_input_order():
    counting = Counting(SentenceEncoder(EmbedConfig(precision="float32")))
    vectors, stats = embed_texts(TEXTS, encoder=counting)
    assert sorted(counting.texts) == sorted(set(TEXTS))
    assert stats.details["distinct_texts"] == 5 and stats.details["encoded"] == 5
    assert vectors.shape == (7, 384) and vectors.dtype == np.float32
    assert stats.details["precision"] == "float32"
    direct = counting.inner.model.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(vectors, direct, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bfloat16_vectors_stay_within_cosine_of_float32_and_auto_follows_the_cpu():
    texts = [*TEXTS, "can you recommend a good book about the history of rome?", "ok " * 60]
    exact, _ = embed_texts(texts, config=EmbedConfig(precision="float32"))
    fast, stats = embed_texts(texts, config=EmbedConfig(precision="bfloat16"))
    assert stats.details["precision"] == "bfloat16" and fast.dtype == np.float32
    cosine = (exact * fast).sum(axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(exact, fast)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert resolve_precision("auto") == ("bfloat16" if native_bfloat16() else "float32")
    assert resolve_precision("float32") == "float32"


def test_threads_setting_sets_torchs_thread_count():
    import torch

    before = torch.get_num_threads()
    try:
        SentenceEncoder(EmbedConfig(threads=1))
        assert torch.get_num_threads() == 1
        SentenceEncoder(EmbedConfig())
        assert torch.get_num_threads() == 1  # unset leaves the process's setting alone
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        EmbedConfig(threads=0)


def test_second_run_is_served_from_the_cache(encoder, tmp_path):
    cache = EmbeddingCache(Lake(tmp_path / "lake"))
    first, _ = embed_texts(TEXTS, cache, encoder=encoder)
    counting = Counting(encoder)
    second, stats = embed_texts(TEXTS, cache, encoder=counting)
    assert counting.calls == 0 and stats.details["cache_hits"] == 5
    np.testing.assert_array_equal(first, second)
    third, stats = embed_texts([*TEXTS, "a brand new sentence"], cache, encoder=counting)
    assert counting.texts == ["a brand new sentence"] and stats.details["encoded"] == 1
    np.testing.assert_array_equal(third[:7], first)
    assert len(cache.files()) == 2


def test_the_cache_is_keyed_by_text_hash_and_model(encoder, tmp_path):
    cache = EmbeddingCache(Lake(tmp_path / "lake"))
    embed_texts(TEXTS, cache, encoder=encoder)
    hashes = text_hashes(TEXTS)
    assert len(cache.lookup(hashes, encoder.name)) == 5
    assert cache.lookup(hashes, "another-model") == {}
    assert cache.lookup(["0" * 32], encoder.name) == {}


def test_compaction_keeps_every_vector(encoder, tmp_path):
    cache = EmbeddingCache(Lake(tmp_path / "lake"))
    embed_texts(TEXTS[:3], cache, encoder=encoder)
    embed_texts(TEXTS, cache, encoder=encoder)
    before, _ = embed_texts(TEXTS, cache, encoder=encoder)
    cache.compact()
    assert len(cache.files()) == 1
    counting = Counting(encoder)
    after, _ = embed_texts(TEXTS, cache, encoder=counting)
    assert counting.calls == 0
    np.testing.assert_array_equal(before, after)


def test_token_batches_sort_by_length_and_respect_the_budget():
    lengths = [50, 3, 7, 120, 3, 60, 9]
    batches = token_batches(lengths, batch_tokens=128, max_batch=3)
    assert [i for b in batches for i in b] == sorted(range(7), key=lambda i: (lengths[i], i))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 128


def test_sql_nearest_search_over_the_cache(encoder, tmp_path):
    cache = EmbeddingCache(Lake(tmp_path / "lake"))
    embed_texts(TEXTS, cache, encoder=encoder)
    con = duckdb.connect()
    con.register("samples", pa.table({"sample_id": [f"s{i}" for i in range(len(TEXTS))], "text": TEXTS}))
    con.register("cache", cache.lake.read(tables.EMBEDDINGS))
    hits = nearest(
        con,
        encoder.encode(["dogs are wonderful pets"])[0],
        texts_sql="SELECT * FROM samples",
        text_column="text",
        embeddings_sql="SELECT * FROM cache",
        model=encoder.name,
        k=2,
    )
    assert hits["sample_id"].to_pylist() == ["s1", "s5"]
    assert hits["score"][0].as_py() > hits["score"][1].as_py() > 0.3


def test_models_are_never_downloaded(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        model_path("sentence-transformers/all-mpnet-base-v2")
    assert (model_path("all-MiniLM-L6-v2") / "modules.json").exists()


def test_a_missing_text_is_a_clear_error(encoder):
    with pytest.raises(ValueError, match="embed input 1 is not a string"):
        embed_texts(["fine", None], encoder=encoder)
