"""Shingles for chat-length text, hashed to 32 bits, for a whole batch of documents at once.

A document is first reduced to its canonical word stream: letters, digits and symbols (emoji count as
letters) in runs, every run of punctuation or whitespace replaced by one space, so "Hi, how are you?"
and "hi how are you" have the same shingles. Then:

- a document with at least `min_words` words is the set of its word n-grams (n = `word_ngram`): small
  enough that an edited word destroys only n shingles, large enough that two unrelated texts sharing
  common words do not share many shingles;
- a shorter one is the set of its character n-grams (n = `char_ngram`) over the canonical stream, since
  a few words give too few word n-grams for a stable similarity estimate; a canonical stream shorter
  than `char_ngram` is one shingle.

Everything is vectorized over the batch's code points (UTF-32): each window's hash comes from prefix
sums of a polynomial hash mod 2^64, mixed with the MurmurHash3 finalizer and folded to 32 bits. The
shingle hash of a word n-gram depends only on its words and of a character n-gram only on its
characters, never on the batch, so signatures are comparable across batches, processes and machines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Odd multipliers: the polynomial base over characters and the combiner over the words of an n-gram.
_CHAR_BASE = np.uint64(0x100000001B3)
_WORD_BASE = np.uint64(0x9E3779B97F4A7C15)
_CHAR_BASE_INV = np.uint64(pow(int(_CHAR_BASE), -1, 1 << 64))
_SPACE = 32
_DOC_SEPARATOR = 0
_MASK32 = np.uint64(0xFFFFFFFF)

# Code point ranges (inclusive) that separate words besides ASCII punctuation and whitespace: Latin-1
# punctuation, general and supplemental punctuation (curly quotes, dashes, zero-width spaces), CJK
# punctuation, small and full-width punctuation forms, the byte-order mark.
_SEPARATOR_RANGES = (
    (0x80, 0xBF),
    (0xD7, 0xD7),
    (0xF7, 0xF7),
    (0x2000, 0x206F),
    (0x2E00, 0x2E7F),
    (0x3000, 0x303F),
    (0xFE10, 0xFE1F),
    (0xFE30, 0xFE6F),
    (0xFEFF, 0xFEFF),
    (0xFF01, 0xFF0F),
    (0xFF1A, 0xFF20),
)
_ASCII_WORD_RANGES = ((ord("0"), ord("9")), (ord("a"), ord("z")), (ord("A"), ord("Z")))
# Word-character table for the Basic Multilingual Plane: ASCII letters and digits, and every other
# code point outside the separator ranges.
_WORD_BMP = np.ones(0x10000, dtype=bool)
_WORD_BMP[:128] = False
for _lo, _hi in _ASCII_WORD_RANGES:
    _WORD_BMP[_lo : _hi + 1] = True
for _lo, _hi in _SEPARATOR_RANGES:
    _WORD_BMP[_lo : _hi + 1] = False


@dataclass(frozen=True)
class Shingles:
    """The shingle hashes of a batch: `hashes[offsets[i]:offsets[i + 1]]` belong to document i."""

    hashes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, len = documents + 1
    words: np.ndarray  # int64 per document: words in its canonical stream

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def fmix64(h: np.ndarray) -> np.ndarray:
    """The MurmurHash3 64-bit finalizer: an avalanching bijection, so nearby inputs spread out."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def fold32(h: np.ndarray) -> np.ndarray:
    return ((h ^ (h >> np.uint64(32))) & _MASK32).astype(np.uint32)


def is_word_char(cps: np.ndarray) -> np.ndarray:
    """Letters, digits and symbols; code points past the BMP (emoji, rare scripts) are all word characters."""
    return np.where(cps < 0x10000, _WORD_BMP[np.minimum(cps, 0xFFFF)], True)


def canonical_stream(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All documents' canonical word streams as one code point array, documents separated by 0.

    Returns the array and each document's start offset into it.
    """
    joined = "\x00".join(texts).encode("utf-32-le", errors="surrogatepass")
    cps = np.frombuffer(joined, dtype=np.uint32)
    is_doc_separator = cps == _DOC_SEPARATOR
    word = is_word_char(cps) & ~is_doc_separator
    stream = np.where(word | is_doc_separator, cps, np.uint32(_SPACE))
    # Squeeze: drop a space after a non-word (runs and leading spaces), then a space before a separator.
    previous_is_word = np.concatenate(([False], word[:-1]))
    stream = stream[word | is_doc_separator | previous_is_word]
    next_ends_doc = np.concatenate((stream[1:] == _DOC_SEPARATOR, [True]))
    stream = stream[~((stream == _SPACE) & next_ends_doc)]
    separators = np.flatnonzero(stream == _DOC_SEPARATOR)
    starts = np.concatenate(([0], separators + 1)).astype(np.int64)
    return stream, starts


class PrefixHash:
    """Polynomial hash of any window of a code point array in O(1) after an O(n) pass."""

    def __init__(self, stream: np.ndarray):
        n = len(stream)
        powers = np.empty(n + 1, dtype=np.uint64)
        powers[0] = 1
        powers[1:] = _CHAR_BASE
        self._inverse_powers = np.empty(n + 1, dtype=np.uint64)
        self._inverse_powers[0] = 1
        self._inverse_powers[1:] = _CHAR_BASE_INV
        np.cumprod(powers, out=powers)
        np.cumprod(self._inverse_powers, out=self._inverse_powers)
        self._prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum((stream.astype(np.uint64) + np.uint64(1)) * powers[:n], out=self._prefix[1:])

    def window(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Hash of stream[start:end] for each pair, independent of where the window sits."""
        return fmix64((self._prefix[end] - self._prefix[start]) * self._inverse_powers[start])


def shingle(texts: list[str], word_ngram: int, char_ngram: int, min_words: int) -> Shingles:
    """Shingle hashes of each text (already normalized: see `normalize.normalize`)."""
    n_docs = len(texts)
    stream, doc_starts = canonical_stream(texts)
    doc_ends = np.concatenate((doc_starts[1:] - 1, [len(stream)]))
    prefix = PrefixHash(stream)

    is_word = (stream != _SPACE) & (stream != _DOC_SEPARATOR)
    edges = np.diff(np.concatenate(([False], is_word, [False])).astype(np.int8))
    word_starts, word_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    word_doc = np.searchsorted(doc_starts, word_starts, side="right") - 1
    words_per_doc = np.bincount(word_doc, minlength=n_docs)
    use_chars = words_per_doc < min_words

    word_hashes = prefix.window(word_starts, word_ends)
    gram_doc, gram_hash = _word_ngrams(word_hashes, word_doc, word_ngram)
    keep = ~use_chars[gram_doc]
    gram_doc, gram_hash = gram_doc[keep], gram_hash[keep]

    char_doc, char_hash = _char_ngrams(prefix, doc_starts, doc_ends, np.flatnonzero(use_chars), char_ngram)

    docs = np.concatenate((gram_doc, char_doc))
    hashes = np.concatenate((gram_hash, char_hash))
    order = np.argsort(docs, kind="stable")
    counts = np.bincount(docs, minlength=n_docs)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return Shingles(fold32(hashes[order]), offsets, words_per_doc)


def _word_ngrams(word_hashes: np.ndarray, word_doc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every run of n consecutive words inside one document."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    combined = word_hashes[:count].copy()
    for k in range(1, n):
        combined = combined * _WORD_BASE + word_hashes[k : k + count]
    same_doc = word_doc[:count] == word_doc[n - 1 : n - 1 + count]
    return word_doc[:count][same_doc], fmix64(combined[same_doc])


def _char_ngrams(
    prefix: PrefixHash, doc_starts: np.ndarray, doc_ends: np.ndarray, docs: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every n-character window of the given documents; a document shorter than n (and not
    empty) is one window over all of it."""
    starts, ends = doc_starts[docs], doc_ends[docs]
    lengths = ends - starts
    windows = np.where(lengths >= n, lengths - n + 1, (lengths > 0).astype(np.int64))
    total = int(windows.sum())
    owner = np.repeat(np.arange(len(docs)), windows)
    first = np.repeat(np.cumsum(windows) - windows, windows)
    window_start = starts[owner] + (np.arange(total) - first)
    window_end = np.minimum(window_start + n, ends[owner])
    return docs[owner], prefix.window(window_start, window_end)
