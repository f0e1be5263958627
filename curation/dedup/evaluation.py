"""Dedup quality: pair precision and recall through the same code path as `flywheel dedup`, and the
threshold / shingle sweep that chose the defaults (`flywheel eval dedup`, docs/dedup.md).

A pair is two documents; it is a true pair when they are in one true group (see evalset) and a
predicted pair when `flywheel dedup` puts them in one cluster. Also reported: the share of copies that
land in their original's cluster, and how many pairs of originals that share their first message (a
stock opener) but are not duplicates end up merged.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.dedup.config import DedupConfig
from curation.dedup.edits import MAX_EDIT_RATE
from curation.dedup.evalset import Corpus, load_simulated, simulated_corpus, simulated_prompt_corpus
from curation.dedup.jsonl import dedup_jsonl
from curation.dedup.units import conversation_text

TARGET = 0.95


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    unscored_pairs: int
    copy_recall: float
    opener_pairs: int
    opener_pairs_merged: int

    def meets_targets(self) -> bool:
        return self.precision >= TARGET and self.recall >= TARGET


def _pairs(counts: np.ndarray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def _group_counts(*labels: np.ndarray) -> np.ndarray:
    return np.unique(np.stack(labels), axis=1, return_counts=True)[1]


def quality(corpus: Corpus, clusters: list[str]) -> Quality:
    """Score one clustering of `corpus` (clusters[i] is document i's cluster id).

    True pairs: two documents whose originals are the same or duplicates by the definition (a copy and
    its original, two copies of one original, two equal or nearly equal originals). False positives:
    predicted pairs across true groups. Pairs in one true group whose originals are linked only
    through others (A~B and B~C, A and C farther apart) count neither way, since no clustering can
    both separate and join them; neither do a far copy's pairs in its group (derived from its original,
    but more than 10% of words apart).
    """
    groups = corpus.groups
    _, predicted = np.unique(np.asarray(clusters), return_inverse=True)
    true_pairs = found = unscored = 0
    far = [kind == "far copy" for kind in corpus.kinds]
    members: dict[int, list[int]] = {}
    for doc, group in enumerate(groups.tolist()):
        members.setdefault(group, []).append(doc)
    for docs in members.values():
        for i, u in enumerate(docs):
            for v in docs[i + 1 :]:
                if far[u] or far[v] or not corpus.truth.linked(corpus.origins[u], corpus.origins[v]):
                    unscored += 1
                else:
                    true_pairs += 1
                    found += int(predicted[u] == predicted[v])
    predicted_pairs = _pairs(_group_counts(predicted))
    false_positives = predicted_pairs - _pairs(_group_counts(groups, predicted))
    cluster_of_original = {
        origin: clusters[doc] for doc, origin in enumerate(corpus.origins) if corpus.kinds[doc] == "original"
    }
    copies = [doc for doc, kind in enumerate(corpus.kinds) if kind == "copy"]
    landed = sum(clusters[doc] == cluster_of_original[corpus.origins[doc]] for doc in copies)
    opener_pairs, merged = _opener_negatives(corpus, predicted)
    return Quality(
        precision=found / (found + false_positives) if found + false_positives else 1.0,
        recall=found / true_pairs if true_pairs else 1.0,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        unscored_pairs=unscored,
        copy_recall=landed / len(copies) if copies else 1.0,
        opener_pairs=opener_pairs,
        opener_pairs_merged=merged,
    )


def _opener_negatives(corpus: Corpus, predicted: np.ndarray) -> tuple[int, int]:
    """Pairs of originals with the same first message but different true groups, and how many of them
    were put in one cluster."""
    import polars as pl

    frame = pl.DataFrame(
        {"opener": corpus.openers, "group": corpus.groups, "cluster": predicted, "kind": corpus.kinds}
    ).filter((pl.col("kind") == "original") & (pl.col("opener") != ""))
    by_opener = frame.group_by("opener").len()["len"].to_numpy()
    by_opener_group = frame.group_by("opener", "group").len()["len"].to_numpy()
    by_opener_cluster = frame.group_by("opener", "cluster").len()["len"].to_numpy()
    by_all = frame.group_by("opener", "group", "cluster").len()["len"].to_numpy()
    negatives = _pairs(by_opener) - _pairs(by_opener_group)
    merged = _pairs(by_opener_cluster) - _pairs(by_all)
    return negatives, merged


def run_dedup(corpus: Corpus, config: DedupConfig, workdir: Path) -> list[str]:
    """Cluster ids from `flywheel dedup`'s own code path: JSONL in, `dedup_jsonl`, JSONL out."""
    source, target = workdir / "in.jsonl", workdir / "out.jsonl"
    with open(source, "w", encoding="utf-8") as fh:
        for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
            fh.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    dedup_jsonl(source, target, config)
    with open(target, encoding="utf-8") as fh:
        return [json.loads(line)["cluster"] for line in fh]


def evaluate(corpora: dict[str, Corpus], configs: Iterable[DedupConfig]) -> list[tuple[DedupConfig, str, Quality]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="dedup-eval-") as tmp:
        for config in configs:
            for name, corpus in corpora.items():
                results.append((config, name, quality(corpus, run_dedup(corpus, config, Path(tmp)))))
    return results


def real_corpora(data_dir: Path, seed: int, names: Iterable[str] | None = None) -> dict[str, Corpus]:
    """The evaluation sets built from ../shared/data (see evalset); `names` picks some of them."""
    from curation.dedup.evalset import (
        build_corpus,
        conversation_originals,
        load_real,
        prompt_originals,
        single_text,
        transcript,
    )

    real = load_real(data_dir)
    conversations = conversation_originals(real)
    prompts = prompt_originals(real)
    builders = {
        "conversations, labeled transcript": lambda: build_corpus(conversations, transcript, seed),
        "conversations, unit text": lambda: build_corpus(conversations, conversation_text, seed),
        "conversations, unit text, all copies at 10% edits": lambda: build_corpus(
            conversations, conversation_text, seed, edit_rates=(MAX_EDIT_RATE, MAX_EDIT_RATE)
        ),
        "prompts, hh-rlhf": lambda: build_corpus([p for p in prompts if p[1] == "hh"], single_text, seed),
        "prompts, persona-chat": lambda: build_corpus([p for p in prompts if p[1] == "persona"], single_text, seed),
    }
    chosen = list(builders) if names is None else list(names)
    return {name: builders[name]() for name in chosen}


def table(results: list[tuple[DedupConfig, str, Quality]], varying: list[str]) -> str:
    """A Markdown table of the results; `varying` names the config fields to show."""
    head = [
        *varying,
        "bands x rows",
        "set",
        "pairs: true / predicted / unscored",
        "pair precision",
        "pair recall",
        "copy recall",
        "opener negatives merged",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for config, name, q in results:
        bands, rows = config.lsh_params()
        cells = [str(getattr(config, f)) for f in varying] + [
            f"{bands} x {rows}",
            name,
            f"{q.true_pairs:,} / {q.predicted_pairs:,} / {q.unscored_pairs:,}",
            f"{q.precision:.4f}",
            f"{q.recall:.4f}",
            f"{q.copy_recall:.4f}",
            f"{q.opener_pairs_merged} / {q.opener_pairs:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The sweeps behind the defaults (docs/dedup.md): each varies a few settings around the defaults.
SWEEPS: list[tuple[str, dict[str, list]]] = [
    ("shingle size and threshold", {"word_ngram": [1, 2, 3], "threshold": [0.5, 0.55, 0.6, 0.65, 0.7]}),
    ("short texts", {"min_words": [2, 4, 10], "edit_words": [0, 32, 128, 512]}),
    (
        "banding and permutations",
        {"false_negative_weight": [0.5, 0.9], "false_positive_weight": [0.5, 0.1], "num_perm": [128, 256]},
    ),
]


def sweep_configs(grid: dict[str, list], base: DedupConfig | None = None) -> list[DedupConfig]:
    fields = (base or DedupConfig()).model_dump()
    return [
        DedupConfig.model_validate({**fields, **dict(zip(grid, values, strict=True))})
        for values in itertools.product(*grid.values())
    ]


def simulated_corpora(folder: Path) -> dict[str, Corpus]:
    """`flywheel simulate` output at both units: conversations with the planted copies (stock-opener
    conversations as hard negatives), and every prompt (a copy's prompts copy its original's; spam prompts
    and openers are exact copies)."""
    conversations, planted = load_simulated(folder)
    return {
        "simulator: conversations, planted copies": simulated_corpus(conversations, planted, conversation_text),
        "simulator: prompts": simulated_prompt_corpus(conversations, planted),
    }
