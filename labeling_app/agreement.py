"""Agreement between annotators: Krippendorff's alpha per question, and each annotator against the rest.

Alpha is computed from value counts per item (items x values), which is all it needs, so memory grows
with items, not with items x annotators. Nominal for pairwise (candidate 0, candidate 1, tie),
questionnaire answers and rewrite (edited or not); ordinal for ratings. Items with fewer than two labels
carry no information about agreement and are left out, as the coefficient prescribes.

Per-annotator agreement is reported two ways (see consensus.py): against the item's consensus, and
leave-one-out, against the consensus of the other annotators only, so that an annotator cannot agree
with a majority they formed themselves.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Literal, TypeVar

T = TypeVar("T")


def krippendorff_alpha(
    votes: Sequence[Sequence], domain: Sequence, level: Literal["nominal", "ordinal", "interval", "ratio"]
) -> float | None:
    """Alpha over items' votes, or None when undefined (no item with two labels, or no variation)."""
    import krippendorff
    import numpy as np

    index = {value: i for i, value in enumerate(domain)}
    rows = [item for item in votes if len(item) >= 2]
    if not rows or len(domain) < 2:
        return None
    counts = np.zeros((len(rows), len(domain)))
    for r, item in enumerate(rows):
        for value in item:
            counts[r, index[value]] += 1
    if (counts.sum(axis=0) > 0).sum() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = float(
            krippendorff.alpha(value_counts=counts, value_domain=list(range(len(domain))), level_of_measurement=level)
        )
    return None if math.isnan(alpha) else alpha


def majority(values: Sequence[T]) -> tuple[T | None, int]:
    """The value most annotators gave and how many gave it; None when the top is shared."""
    if not values:
        return None, 0
    ranked = Counter(values).most_common()
    top, count = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == count:
        return None, count
    return top, count


def rating_consensus(scores: Sequence[int], tolerance: int) -> tuple[float | None, int]:
    """The median score and how many scores lie within `tolerance` of it."""
    if not scores:
        return None, 0
    median = float(statistics.median(scores))
    return median, sum(1 for s in scores if abs(s - median) <= tolerance)


def agrees(value, others: Sequence, ordinal_tolerance: int | None) -> bool | None:
    """Whether `value` matches the consensus of `others` (None when the others have none)."""
    if ordinal_tolerance is not None:
        median, _ = rating_consensus(others, ordinal_tolerance)
        return None if median is None else abs(value - median) <= ordinal_tolerance
    top, _ = majority(others)
    return None if top is None else value == top


def annotator_agreement(items: dict, ordinal_tolerance: int | None = None) -> dict[str, tuple[int, int]]:
    """Per annotator: (items compared, items agreeing with the others' consensus).

    `items` maps an item key to {annotator: value}; items where nobody else labeled are left out.
    """
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for by_annotator in items.values():
        if len(by_annotator) < 2:
            continue
        for annotator, value in by_annotator.items():
            others = [v for a, v in by_annotator.items() if a != annotator]
            verdict = agrees(value, others, ordinal_tolerance)
            if verdict is None:
                continue
            result[annotator][0] += 1
            result[annotator][1] += int(verdict)
    return {a: (n, k) for a, (n, k) in sorted(result.items())}
