"""Word edit distance, the exact near-duplicate check for short texts (curation/dedup/edits.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curation.dedup.clusters import dedup
from curation.dedup.config import DedupConfig
from curation.dedup.edits import WordSequences, edit_limit, word_hashes, words
from curation.dedup.normalize import normalize

TEXTS = [
    "Hi, how are you?",
    "hi how are you",
    "It's fine!  e.g. THIS",
    "its fine eg this",
    "Straße — café ☕ ok",
    "",
    "...",
    "one two three four five six",
]


def _sequences(texts: list[str], max_words: int = 128) -> WordSequences:
    return word_hashes([normalize(t) for t in texts], max_words)


def test_words_ignore_case_and_punctuation_and_split_on_spaces():
    assert words("Hi, how are you?") == ["hi", "how", "are", "you"]
    assert words("It's fine!  e.g. THIS") == ["its", "fine", "eg", "this"]
    assert words("...") == [] and words("") == []


def test_vectorized_word_hashes_agree_with_the_python_definition():
    sequences = _sequences(TEXTS)
    assert sequences.lengths.tolist() == [len(words(t)) for t in TEXTS]
    offsets = sequences.offsets
    hashed = {}
    for i, text in enumerate(TEXTS):
        for word, h in zip(
            words(text), sequences.hashes[offsets[i] : offsets[i] + sequences.lengths[i]].tolist(), strict=True
        ):
            assert hashed.setdefault(word, h) == h
    assert len(set(hashed.values())) == len(hashed)  # different words, different hashes


def test_texts_over_the_word_limit_have_no_sequence_and_take_keeps_the_rest():
    """The limit counts space-separated tokens, punctuation-only ones ("—") included."""
    sequences = _sequences(TEXTS, max_words=4)
    assert sequences.lengths.tolist() == [4, 4, 4, 4, -1, 0, 0, -1]
    picked = sequences.take(np.array([7, 2, 0]))
    assert picked.lengths.tolist() == [-1, 4, 4]
    assert picked.hashes.tolist() == sequences.hashes[8:12].tolist() + sequences.hashes[0:4].tolist()


def test_the_edit_limit_is_ten_percent_of_the_longer_text_rounded_down():
    assert edit_limit(np.array([9, 10, 19, 20, 30]), np.array([9, 11, 19, 18, 27]), 0.1).tolist() == [0, 1, 1, 2, 3]


def test_within_edits_applies_the_definition():
    base = "please tell me how I can find a cozy game tonight"  # 11 words: one edit allowed
    texts = [
        base,
        "please tell me how I can find a fun game tonight",  # one replaced word
        "please tell me how we can find a fun game tonight",  # two replaced words
        "Please, tell me how I can find a cozy game tonight!!",  # the same words
        "please tell me how I can find a cozy game",  # one word deleted
        "how can I find a cozy game",  # far shorter
        "tell me a joke",  # under ten words: only the same words
        "tell me a story",
    ]
    sequences = _sequences(texts)
    a = np.array([0, 0, 0, 0, 0, 6])
    b = np.array([1, 2, 3, 4, 5, 7])
    assert sequences.within_edits(a, b, 0.1).tolist() == [True, False, True, True, False, False]


def test_templated_prompts_a_slot_apart_stay_apart_while_an_edited_copy_joins():
    """The case Jaccard alone cannot separate: edits at the ends keep most bigrams."""
    rows = {
        "original": "how long until I can find a cozy game? I'm anxious about it",
        "template": "Nova! how long until I can find a cozy game? I'm confused about it",
        "copy": "how long until I can find a cozy game? I'm so anxious about it",
    }
    table = pa.table({"key": list(rows), "text": list(rows.values())})
    result, stats = dedup(table, DedupConfig())
    cluster = dict(zip(result["key"].to_pylist(), result["cluster"].to_pylist(), strict=True))
    assert cluster["copy"] == cluster["original"] == "copy"  # smallest key represents without times
    assert cluster["template"] == "template"
    assert stats.details["edit_checked_texts"] == 3
    without, _ = dedup(table, DedupConfig(edit_words=0))
    merged = dict(zip(without["key"].to_pylist(), without["cluster"].to_pylist(), strict=True))
    assert merged["template"] == merged["original"]  # estimated Jaccard alone merges the template
