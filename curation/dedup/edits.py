"""Word edit distance: the definition of a near-duplicate, checked exactly where Jaccard cannot tell.

A near-duplicate is a copy with up to 10% of its words inserted, deleted or replaced. On long texts the
estimated Jaccard of word bigrams separates such copies from other texts well. On short ones it cannot:
one word replaced in ten destroys two of nine bigrams (Jaccard 0.64), while two templated prompts two
slots apart at their ends keep most of theirs ("Nova! how long until I can find a cozy game? I'm
anxious" / "how long until I can find a cozy game? I'm confused": 0.7). So a pair of texts of at most
`edit_words` words each is decided by its word edit distance: a duplicate when it is within
floor(max_edit_rate x the longer text's words), which for texts under ten words means the same words.

Words are the normalized text's whitespace-separated tokens with punctuation deleted, so "It's fine!"
and "its fine" are the same two words and an edited word is one edit whatever punctuation it carries.
The engine hashes them to 32 bits per batch, vectorized (`word_hashes`); `words` is the same
definition in plain Python (the evaluation's ground truth uses it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.dedup.normalize import normalize
from curation.dedup.shingles import PrefixHash, fold32, is_word_char

MAX_EDIT_RATE = 0.1  # the definition: a copy with up to 10% of its words inserted, deleted or replaced
_SPACE = 32
_DOC_SEPARATOR = 0


def words(text: str) -> list[str]:
    """The words of `text` by the definition above (normalized, punctuation deleted, split on spaces)."""
    normalized = normalize(text)
    cps = np.frombuffer(normalized.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    keep = is_word_char(cps) | (cps == _SPACE)
    return "".join(c for c, k in zip(normalized, keep.tolist(), strict=True) if k).split()


def edit_limit(words_a: np.ndarray, words_b: np.ndarray, rate: float) -> np.ndarray:
    """The most word edits a duplicate pair may differ by: floor(rate x the longer text's words)."""
    return np.floor(rate * np.maximum(words_a, words_b)).astype(np.int64)


@dataclass
class WordSequences:
    """The word hashes of some texts: text i's are `hashes[offsets[i]:offsets[i] + lengths[i]]`; a text
    with more than the configured number of words has length -1 and no hashes."""

    hashes: np.ndarray  # uint32
    lengths: np.ndarray  # int64

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(np.maximum(self.lengths, 0))[:-1])).astype(np.int64)

    def take(self, indices: np.ndarray) -> WordSequences:
        """The sequences of the texts at `indices`, in that order."""
        lengths = self.lengths[indices]
        counts = np.maximum(lengths, 0)
        starts = np.repeat(self.offsets[indices], counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return WordSequences(self.hashes[starts + within], lengths)

    @staticmethod
    def concat(parts: list[WordSequences]) -> WordSequences:
        if not parts:
            return WordSequences(np.empty(0, np.uint32), np.empty(0, np.int64))
        return WordSequences(np.concatenate([p.hashes for p in parts]), np.concatenate([p.lengths for p in parts]))

    def known(self, texts: np.ndarray) -> np.ndarray:
        return self.lengths[texts] >= 0

    def within_edits(self, a: np.ndarray, b: np.ndarray, rate: float) -> np.ndarray:
        """For pairs of texts whose sequences are known: whether they are within the edit limit."""
        from rapidfuzz.distance import Levenshtein

        la, lb = self.lengths[a], self.lengths[b]
        limit = edit_limit(la, lb, rate)
        result = np.abs(la - lb) <= limit
        offsets = self.offsets
        for i in np.flatnonzero(result).tolist():
            x, y = int(a[i]), int(b[i])
            if x == y:
                continue
            first = self.hashes[offsets[x] : offsets[x] + la[i]].tolist()
            second = self.hashes[offsets[y] : offsets[y] + lb[i]].tolist()
            result[i] = Levenshtein.distance(first, second, score_cutoff=int(limit[i])) <= limit[i]
        return result


def word_hashes(normalized: list[str], max_words: int) -> WordSequences:
    """The 32-bit word hashes of each normalized text of at most `max_words` space-separated tokens
    (vectorized over those texts' code points: punctuation deleted, then runs of word characters). Longer
    texts are skipped before any work: their pairs are decided by Jaccard."""
    lengths = np.full(len(normalized), -1, np.int64)
    eligible = [i for i, text in enumerate(normalized) if text.count(" ") < max_words]
    if not eligible:
        return WordSequences(np.empty(0, np.uint32), lengths)
    hashes, counts = _hash_words([normalized[i] for i in eligible])
    lengths[eligible] = counts
    return WordSequences(hashes, lengths)


def _hash_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' word hashes (uint32, in order) and each text's number of words."""
    joined = "\x00".join(texts).encode("utf-32-le", errors="surrogatepass")
    cps = np.frombuffer(joined, dtype=np.uint32)
    separator = cps == _DOC_SEPARATOR
    stream = cps[(is_word_char(cps) & ~separator) | separator | (cps == _SPACE)]
    is_word = (stream != _SPACE) & (stream != _DOC_SEPARATOR)
    edges = np.diff(np.concatenate(([False], is_word, [False])).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    doc_starts = np.concatenate(([0], np.flatnonzero(stream == _DOC_SEPARATOR) + 1))
    owner = np.searchsorted(doc_starts, starts, side="right") - 1
    return fold32(PrefixHash(stream).window(starts, ends)), np.bincount(owner, minlength=len(texts))
