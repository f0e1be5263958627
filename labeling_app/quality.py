"""Annotator quality and queue pace for the Review page: accuracy on gold items, agreement with the
consensus over time, labels per hour and seconds per item.

Gold items carry a known answer (queues.add_gold), so accuracy on them does not depend on the other
annotators; agreement with the consensus does, and is shown per day so a drift (fatigue, a guideline
misread) shows up as a falling line. Undone labels never count (the store leaves them out).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict

from labeling_app.consensus import QueueAnalysis, vote
from labeling_app.store import Queue


def _day(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date().isoformat()


def _hour(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d %H:00")


def gold_correct(queue: Queue, label: dict) -> bool:
    """Whether a label on a gold item gives every known answer of the item."""
    return all(vote(queue.kind, question, label["value"]) == answer for question, answer in label["gold"].items())


def gold_accuracy(queue: Queue, gold_labels: list[dict]) -> list[dict]:
    """Per annotator: gold items labeled, how many right, the share right."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for label in gold_labels:
        if label["is_adjudication"]:
            continue
        tally[label["annotator"]][0] += 1
        tally[label["annotator"]][1] += int(gold_correct(queue, label))
    return [
        {"annotator": name, "gold items": n, "correct": right, "accuracy": right / n}
        for name, (n, right) in sorted(tally.items())
    ]


def agreement_over_time(analysis: QueueAnalysis, labels: list[dict]) -> list[dict]:
    """Per annotator and day: the share of their votes that match the item's consensus (items without
    one are not compared); ratings agree within the queue's tolerance."""
    consensus = {(i.task_id, i.question): i for i in analysis.items if i.answer is not None}
    tolerance = analysis.queue.spec.get("rating_tolerance", 1)
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for label in labels:
        if label["is_adjudication"]:
            continue
        for question in analysis.questions:
            item = consensus.get((label["task_id"], question.id))
            value = vote(analysis.queue.kind, question.id, label["value"])
            if item is None or value is None:
                continue
            agrees = abs(value - item.score) <= tolerance if question.level == "ordinal" else value == item.answer
            cell = tally[(_day(label["created_at"]), label["annotator"])]
            cell[0] += 1
            cell[1] += int(agrees)
    return [
        {"day": day, "annotator": name, "compared": n, "agreement": agreeing / n}
        for (day, name), (n, agreeing) in sorted(tally.items())
    ]


def throughput(queues: dict[int, str], labels: list[dict]) -> list[dict]:
    """Per queue and hour: labels stored and the median seconds an item was on screen before its label."""
    cells: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for label in labels:
        if label["is_adjudication"] or label["queue_id"] not in queues:
            continue
        cells[(_hour(label["created_at"]), queues[label["queue_id"]])].append(label["seconds"])
    rows = []
    for (hour, queue), seconds in sorted(cells.items()):
        timed = [s for s in seconds if s is not None]
        rows.append(
            {
                "hour": hour,
                "queue": queue,
                "labels": len(seconds),
                "median seconds per item": statistics.median(timed) if timed else None,
            }
        )
    return rows
