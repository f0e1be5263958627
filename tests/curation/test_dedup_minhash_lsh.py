"""MinHash signatures equal datasketch's; LSH parameters and banding behave as specified."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from curation.dedup.lsh import candidate_pairs, candidate_probability, optimal_bands_rows
from curation.dedup.minhash import EMPTY, estimated_jaccard, signatures
from curation.dedup.normalize import normalize
from curation.dedup.shingles import Shingles, shingle

TEXTS = [
    "What are some pranks with a pen I can do?",
    "Hi! How are you doing today? I am fine, thanks for asking.",
    "ok",
    "",
    "A much longer message that goes on and on about the weather, the garden, and the neighbours' cat.",
]


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 7), (256, 42)])
def test_signatures_equal_datasketch_for_the_same_seed_and_permutations(num_perm, seed):
    shingles = shingle([normalize(t) for t in TEXTS], word_ngram=2, char_ngram=5, min_words=4)
    mine = signatures(shingles, num_perm, seed)
    for i in range(len(TEXTS)):
        hashes = shingles.hashes[shingles.offsets[i] : shingles.offsets[i + 1]].tolist()
        reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda h: h)
        reference.update_batch(hashes)
        assert np.array_equal(mine[i], reference.hashvalues), TEXTS[i]


def test_signatures_span_chunks_and_empty_documents():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3000, size=40)
    counts[[3, 17]] = 0
    hashes = rng.integers(0, 2**32, size=int(counts.sum()), dtype=np.uint32)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    sigs = signatures(Shingles(hashes, offsets, counts), 128, 1)
    assert (sigs[[3, 17]] == EMPTY).all()
    for i in (0, 5, 39):
        reference = MinHash(num_perm=128, seed=1, hashfunc=lambda h: h)
        reference.update_batch(hashes[offsets[i] : offsets[i + 1]].tolist())
        assert np.array_equal(sigs[i], reference.hashvalues)


def test_estimated_jaccard_tracks_the_true_jaccard():
    rng = np.random.default_rng(1)
    universe = rng.choice(2**32, size=3000, replace=False).astype(np.uint32)
    a, b = universe[:2000], universe[1000:3000]  # true Jaccard 1000 / 3000
    sigs = signatures(Shingles(np.concatenate([a, b]), np.array([0, 2000, 4000]), np.array([2000, 2000])), 256, 1)
    assert estimated_jaccard(sigs[:1], sigs[1:])[0] == pytest.approx(1 / 3, abs=0.08)


@pytest.mark.parametrize(
    ("threshold", "fp", "fn"), [(0.3, 0.5, 0.5), (0.6, 0.5, 0.5), (0.6, 0.1, 0.9), (0.85, 0.5, 0.5)]
)
def test_bands_and_rows_follow_datasketchs_criterion(threshold, fp, fn):
    assert optimal_bands_rows(threshold, 128, fp, fn) == _optimal_param(threshold, 128, fp, fn)


def test_candidate_probability_is_an_s_curve_around_the_threshold():
    bands, rows = optimal_bands_rows(0.6, 128, 0.1, 0.9)
    assert candidate_probability(0.2, bands, rows) < 0.01
    assert candidate_probability(0.72, bands, rows) > 0.99


def test_banding_pairs_documents_sharing_a_band():
    sigs = np.arange(6 * 8, dtype=np.uint32).reshape(6, 8)
    sigs[1, :4] = sigs[0, :4]  # shares band 0 with document 0
    sigs[4, 4:] = sigs[2, 4:]  # shares band 1 with document 2
    pairs, candidates = candidate_pairs(sigs, np.arange(6), 2, 4, max_bucket_pairs=64)
    assert pairs.tolist() == [[0, 1], [2, 4]] and candidates == 2
    kept, candidates = candidate_pairs(sigs, np.arange(6), 2, 4, max_bucket_pairs=64, keep=lambda p: p[:, 0] > 0)
    assert kept.tolist() == [[2, 4]] and candidates == 2


def test_a_large_bucket_becomes_a_star_around_its_smallest_document():
    sigs = np.zeros((10, 4), dtype=np.uint32)
    docs = np.arange(100, 110)
    pairs, _ = candidate_pairs(sigs, docs, 1, 4, max_bucket_pairs=5)
    assert pairs.tolist() == [[100, d] for d in range(101, 110)]
    all_pairs, _ = candidate_pairs(sigs, docs, 1, 4, max_bucket_pairs=64)
    assert len(all_pairs) == 45
