"""Normalization, the text hash, shingles and the units dedup compares."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from curation.dedup.normalize import exact_key, normalize
from curation.dedup.shingles import fmix64, shingle
from curation.dedup.units import conversation_text, prompt_text, prompts_of, sample_prompts
from curation.texthash import text_hash


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﬁnally", "finally"),  # NFKC ligature
        ("ＡＢＣ　１２３", "abc 123"),  # full-width letters, digits and space
        ("Straße", "strasse"),  # case folding, not lower()
        ("  Hi\t\n there \u00a0 you ", "hi there you"),  # whitespace runs, no-break space
    ],
)
def test_normalize_nfkc_casefold_whitespace(raw, expected):
    assert normalize(raw) == expected


def test_exact_key_ignores_case_width_and_spacing_but_not_words():
    assert exact_key("Hello  WORLD") == exact_key("hello world") == exact_key("ｈｅｌｌｏ world")
    assert exact_key("hello world") != exact_key("hello world!")


def test_text_hash_matches_duckdb_md5():
    text = "Grüße, 世界 🙂"
    assert text_hash(text) == duckdb.connect().execute("SELECT md5(?)", [text]).fetchone()[0]


def _reference_word_shingles(text: str, n: int) -> set[int]:
    """An independent, one-document, pure-Python version of the word n-gram hashes."""
    import re

    mask = (1 << 64) - 1
    base, word_base = 0x100000001B3, 0x9E3779B97F4A7C15

    def poly(token: str) -> int:
        value, power = 0, 1
        for ch in token:
            value = (value + (ord(ch) + 1) * power) & mask
            power = (power * base) & mask
        return value

    def mix(h: int) -> int:
        return int(fmix64(np.array([h], dtype=np.uint64))[0])

    words = [mix(poly(w)) for w in re.findall(r"[^\W_]+", normalize(text))]
    grams = set()
    for i in range(len(words) - n + 1):
        combined = words[i]
        for k in range(1, n):
            combined = (combined * word_base + words[i + k]) & mask
        h = mix(combined)
        grams.add((h ^ (h >> 32)) & 0xFFFFFFFF)
    return grams


def test_word_shingles_match_an_independent_reference():
    texts = ["The quick brown fox jumps over the lazy dog", "Can you help me, please? I need to find my keys today"]
    shingles = shingle([normalize(t) for t in texts], word_ngram=2, char_ngram=5, min_words=4)
    for i, text in enumerate(texts):
        mine = set(shingles.hashes[shingles.offsets[i] : shingles.offsets[i + 1]].tolist())
        assert mine == _reference_word_shingles(text, 2)


def test_shingles_do_not_depend_on_the_batch():
    texts = [normalize(t) for t in ["one two three four five", "hi", "another text with several words in it", ""]]
    together = shingle(texts, 2, 5, 4)
    for i, text in enumerate(texts):
        alone = shingle([text], 2, 5, 4)
        assert together.hashes[together.offsets[i] : together.offsets[i + 1]].tolist() == alone.hashes.tolist()


def test_punctuation_and_spacing_do_not_change_shingles():
    a, b = shingle(
        [normalize("Hi, how are you today?"), normalize("hi how  are you -- today")], 2, 5, 4
    ).hashes.reshape(2, -1)
    assert a.tolist() == b.tolist()


def test_short_texts_fall_back_to_character_ngrams():
    texts = [normalize(t) for t in ["ok thanks", "lol", "this one has enough words"]]
    shingles = shingle(texts, word_ngram=2, char_ngram=5, min_words=4)
    # "ok thanks" (9 characters) has 5 character 5-grams, "lol" is one shingle, the last 4 word bigrams.
    assert shingles.counts.tolist() == [5, 1, 4]
    assert shingles.words.tolist() == [2, 1, 5]


def test_a_text_without_words_has_no_shingles():
    shingles = shingle(["", "?!..."], 2, 5, 4)
    assert shingles.counts.tolist() == [0, 0]


def test_conversation_and_prompt_units():
    messages = [
        ("system", "You are Max."),
        ("user", "Hi!"),
        ("assistant", "Hello, how can I help?"),
        ("user", "Tell me a joke"),
        ("assistant", "Why did the chicken cross the road?"),
    ]
    assert (
        conversation_text(messages)
        == "Hi!\nHello, how can I help?\nTell me a joke\nWhy did the chicken cross the road?"
    )
    assert prompt_text(messages[:4]) == "Hello, how can I help?\nTell me a joke"
    assert prompt_text(messages[:2]) == "Hi!"
    assert prompts_of(messages) == [(2, "Hi!"), (4, "Hello, how can I help?\nTell me a joke")]


def test_regenerated_replies_share_their_prompt():
    messages = [
        ("system", "You are Max.", False),
        ("user", "Hi", False),
        ("assistant", "Hello!", True),
        ("assistant", "Hey there!", False),
        ("user", "Tell me a joke", False),
        ("assistant", "Knock knock", False),
    ]
    # the regenerated reply (turn 2) and its replacement (turn 3) answer one prompt, counted at turn 2;
    # the next prompt shows the replacement, not the regenerated reply
    assert sample_prompts(messages) == [(2, 2, "Hi"), (3, 2, "Hi"), (5, 5, "Hey there!\nTell me a joke")]
    assert sample_prompts([("assistant", "Welcome!", False), ("user", "thanks", False)]) == []


def test_units_from_lake_shaped_rows():
    import pyarrow as pa

    from curation.dedup.units import UNIT_SCHEMA, lake_units

    signals = pa.struct([("regenerated", pa.bool_())])
    message = pa.struct([("role", pa.string()), ("content", pa.string()), ("signals", signals)])
    conversations = pa.table(
        {
            "conversation_id": ["c1", "c2"],
            "started_at": pa.array([2, 1], pa.timestamp("us", tz="UTC")),
            "character_id": ["max", None],
            "messages": pa.array(
                [
                    [
                        {"role": "system", "content": "You are Max.", "signals": None},
                        {"role": "user", "content": "Hi", "signals": None},
                        {"role": "assistant", "content": None, "signals": {"regenerated": True}},
                        {"role": "assistant", "content": "Hello", "signals": {"regenerated": False}},
                    ],
                    [],
                ],
                pa.list_(message),
            ),
        }
    )
    units, prompts, samples = lake_units(conversations)
    assert units.schema == prompts.schema == UNIT_SCHEMA
    assert units["key"].to_pylist() == ["c1", "c2"] and units["text"].to_pylist() == ["Hi\nHello", ""]
    assert prompts.to_pylist() == [
        {"key": "c1:2", "text": "Hi", "started_at": conversations["started_at"][0].as_py(), "scope": "max"}
    ]
    assert samples.to_pylist() == [
        {"sample_id": "c1:2", "conversation_id": "c1", "prompt_id": "c1:2"},
        {"sample_id": "c1:3", "conversation_id": "c1", "prompt_id": "c1:2"},
    ]
