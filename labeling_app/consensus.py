"""Consensus labels per item and question, the queue's agreement, and the items left to adjudicate.

Each kind is reduced to one or more questions with a value domain:
- pairwise: `preference` in {"0", "1", "tie"} (candidate index, after undoing the annotator's sides)
- questionnaire: one question per configured id, in {yes, no, unsure}
- rating: `engagingness`, an integer on the configured scale (ordinal)
- rewrite: `rewrite` in {edited, unchanged}: did the annotator find the reply needed changing

An item's consensus is the majority value (the median for ratings); it is *kept* when the item has all
its labels and the share agreeing reaches the queue's `min_agreement`, or when a reviewer adjudicated
it: the latest adjudication is the consensus, whatever the votes were.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from labeling_app import agreement
from labeling_app.config import ANSWERS
from labeling_app.store import Queue

REWRITE_DOMAIN = ("edited", "unchanged")


@dataclass(frozen=True)
class Question:
    id: str
    domain: tuple
    level: Literal["nominal", "ordinal"]


@dataclass
class ItemConsensus:
    task_id: int
    question: str
    answer: str | None
    score: float | None
    n_annotators: int
    n_agreeing: int
    agreement: float
    adjudicated: bool
    kept: bool
    strength: str | None = None
    votes: dict = field(default_factory=dict)


@dataclass
class QueueAnalysis:
    queue: Queue
    questions: list[Question]
    items: list[ItemConsensus]
    alpha: dict[str, float | None]
    annotators: list[dict]

    def disagreements(self) -> list[int]:
        """Items with two or more labels whose consensus is missing or below the agreement bar."""
        bar = self.queue.spec.get("min_agreement", 0.66)
        flagged = {
            c.task_id
            for c in self.items
            if not c.adjudicated and c.n_annotators >= 2 and (c.answer is None or c.agreement < bar)
        }
        return sorted(flagged)


def questions(queue: Queue) -> list[Question]:
    spec = queue.spec
    if queue.kind == "pairwise":
        return [Question("preference", ("0", "1", "tie"), "nominal")]
    if queue.kind == "questionnaire":
        return [Question(q["id"], ANSWERS, "nominal") for q in spec["questions"]]
    if queue.kind == "rating":
        scale = spec["rating"]
        return [Question("engagingness", tuple(range(scale["min"], scale["max"] + 1)), "ordinal")]
    if queue.kind == "interactive":
        return []  # judged turn by turn: labeling_app/snapshot.py makes their rows from the store's turns
    return [Question("rewrite", REWRITE_DOMAIN, "nominal")]


def vote(kind: str, question: str, value: dict):
    """The value of one label for one question, in the question's domain."""
    if kind == "pairwise":
        return "tie" if value["tie"] else str(value["preferred"])
    if kind == "questionnaire":
        return value["answers"].get(question)
    if kind == "rating":
        return value["score"]
    return "edited" if value["changed"] else "unchanged"


def _item(
    queue: Queue, question: Question, task_id: int, votes: dict, labels: list[dict], adjudication: dict | None
) -> ItemConsensus:
    values = list(votes.values())
    tolerance = queue.spec.get("rating_tolerance", 1)
    if question.level == "ordinal":
        score, agreeing = agreement.rating_consensus(values, tolerance)
        answer = None if score is None else f"{score:g}"
    else:
        score = None
        answer, agreeing = agreement.majority(values)
    adjudicated = adjudication is not None
    if adjudication is not None:
        decided = vote(queue.kind, question.id, adjudication)
        if question.level == "ordinal":
            score, answer = float(decided), f"{decided:g}"
            agreeing = sum(1 for v in values if abs(v - decided) <= tolerance)
        else:
            answer, agreeing = decided, sum(1 for v in values if v == decided)
    n = len(values)
    share = agreeing / n if n else 0.0
    bar = queue.spec.get("min_agreement", 0.66)
    kept = answer is not None and (adjudicated or (n >= queue.per_item and share >= bar))
    strength = None
    if queue.kind == "pairwise" and answer not in (None, "tie"):
        agreeing_labels = [lab for lab in labels if vote(queue.kind, question.id, lab["value"]) == answer]
        strong = sum(1 for lab in agreeing_labels if lab["value"].get("strength") == "strong")
        strength = "strong" if agreeing_labels and strong * 2 > len(agreeing_labels) else None
        if adjudication is not None:
            strength = adjudication.get("strength")
    return ItemConsensus(
        task_id, question.id, answer, score, n, agreeing, share, adjudicated, kept, strength, dict(votes)
    )


def _annotator_rows(
    question: Question, items: list[ItemConsensus], per_item: dict, tolerance: int | None
) -> list[dict]:
    """Each annotator against the item consensus (adjudication included), and leave-one-out."""
    with_consensus: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        if item.answer is None:
            continue
        for annotator, value in item.votes.items():
            agrees = abs(value - item.score) <= tolerance if tolerance is not None else value == item.answer
            with_consensus[annotator][0] += 1
            with_consensus[annotator][1] += int(agrees)
    leave_one_out = agreement.annotator_agreement(per_item, tolerance)
    rows = []
    for annotator in sorted(set(with_consensus) | set(leave_one_out)):
        compared, agreeing = with_consensus.get(annotator, (0, 0))
        loo_compared, loo_agreeing = leave_one_out.get(annotator, (0, 0))
        rows.append(
            {
                "annotator": annotator,
                "question": question.id,
                "compared": compared,
                "agreeing": agreeing,
                "agreement": agreeing / compared if compared else None,
                "loo_compared": loo_compared,
                "loo_agreement": loo_agreeing / loo_compared if loo_compared else None,
            }
        )
    return rows


def analyze(queue: Queue, labels: list[dict]) -> QueueAnalysis:
    """Consensus for every labeled item of the queue, alpha per question, and per-annotator agreement."""
    by_task: dict[int, list[dict]] = defaultdict(list)
    adjudications: dict[int, dict] = {}
    for label in labels:
        if label["is_adjudication"]:
            adjudications[label["task_id"]] = label["value"]  # labels come oldest first: the latest wins
        else:
            by_task[label["task_id"]].append(label)
    qs = questions(queue)
    items: list[ItemConsensus] = []
    alpha: dict[str, float | None] = {}
    annotator_rows: list[dict] = []
    for question in qs:
        per_item = {}
        question_items = []
        for task_id in sorted(set(by_task) | set(adjudications)):
            task_labels = by_task.get(task_id, [])
            votes = {lab["annotator"]: vote(queue.kind, question.id, lab["value"]) for lab in task_labels}
            votes = {a: v for a, v in votes.items() if v is not None}
            per_item[task_id] = votes
            question_items.append(_item(queue, question, task_id, votes, task_labels, adjudications.get(task_id)))
        items.extend(question_items)
        alpha[question.id] = agreement.krippendorff_alpha(
            [list(v.values()) for v in per_item.values()], question.domain, question.level
        )
        tolerance = queue.spec.get("rating_tolerance", 1) if question.level == "ordinal" else None
        annotator_rows.extend(_annotator_rows(question, question_items, per_item, tolerance))
    return QueueAnalysis(queue, qs, items, alpha, annotator_rows)
