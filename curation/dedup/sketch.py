"""One batch of texts to exact keys and MinHash signatures: the unit of work a worker process does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.dedup.config import DedupConfig
from curation.dedup.edits import WordSequences, word_hashes
from curation.dedup.exact import local_groups, normalize_texts
from curation.dedup.minhash import signatures
from curation.dedup.shingles import shingle
from curation.texthash import text_digest


@dataclass
class NearSketch:
    """What near-duplicate dedup adds per distinct text g: `signatures[g]` its MinHash signature,
    `has_shingles[g]` whether it had any shingle, `words[g]` its number of words; `sequences` the word
    hashes of the texts short enough for the edit-distance check."""

    signatures: np.ndarray
    has_shingles: np.ndarray
    words: np.ndarray
    sequences: WordSequences


@dataclass
class BatchSketch:
    """`digests[g]` is the md5 of distinct normalized text g of the batch, `row_group[i]` the group of
    row i; `near` the near-duplicate sketch of the texts (None for exact dedup)."""

    digests: list[bytes]
    row_group: np.ndarray
    near: NearSketch | None


def sketch_batch(texts: list[str | None], config: DedupConfig) -> BatchSketch:
    normalized = normalize_texts(texts)
    all_digests = [text_digest(t) for t in normalized]
    firsts, row_group = local_groups(all_digests)
    digests = [all_digests[i] for i in firsts]
    if config.method == "exact":
        return BatchSketch(digests, row_group, None)
    distinct = [normalized[i] for i in firsts]
    shingles = shingle(distinct, config.word_ngram, config.char_ngram, config.min_words)
    sigs = signatures(shingles, config.num_perm, config.seed)
    near = NearSketch(sigs, shingles.counts > 0, shingles.words, word_hashes(distinct, config.edit_words))
    return BatchSketch(digests, row_group, near)
