"""Public NER samples in tests/data (written by others; see each file's header for source and licence):
load them as texts with PER/LOC spans, and score the scrubber's PERSON and LOCATION findings on them.

A gold name counts as found when a finding of its type overlaps it; a finding of that type overlapping
no gold entity of the type is a false positive. "Replaced" spans (acted on, not kept) that overlap no
gold PER or LOC at all are the false positives a reader of the scrubbed text sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
GERMAN_SAMPLE = DATA / "ner_de_germeval2014_sample.txt"
FRENCH_SAMPLE = DATA / "ner_fr_europeana_sample.txt"
_TYPES = {"PER": "PERSON", "LOC": "LOCATION"}
_ENTITY = re.compile(r"\[(PER|LOC) ([^\]]+)\]")
_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "“", "%"}
_NO_SPACE_AFTER = {"(", "[", "„"}


@dataclass
class Sample:
    text: str
    spans: list[tuple[str, int, int]]  # (PERSON | LOCATION, start, end)


def _tokens(line: str) -> list[tuple[str, str | None]]:
    """(token, entity type or None) for each token of a bracketed line."""
    out: list[tuple[str, str | None]] = []
    position = 0
    for match in _ENTITY.finditer(line):
        out += [(t, None) for t in line[position : match.start()].split()]
        out += [(t, _TYPES[match.group(1)]) for t in match.group(2).split()]
        out.append(("", "END"))  # an entity boundary (two adjacent entities stay two)
        position = match.end()
    return out + [(t, None) for t in line[position:].split()]


def parse_line(line: str) -> Sample:
    """A corpus line (tokens separated by spaces) as readable text with character spans."""
    text, spans, current = "", [], None
    previous = ""
    for token, kind in _tokens(line):
        if kind == "END":
            current = None
            continue
        glue = (
            not text
            or token in _NO_SPACE_BEFORE
            or previous in _NO_SPACE_AFTER
            or previous.endswith(("'", "’"))
            and len(previous) <= 3
        )
        if not glue:
            text += " "
        start = len(text)
        text += token
        if kind is None:
            current = None
        elif current is not None and current[0] == kind:
            current[2] = len(text)
        else:
            current = [kind, start, len(text)]
            spans.append(current)
        previous = token
    return Sample(text, [tuple(s) for s in spans])


def load(path: Path) -> list[Sample]:
    return [
        parse_line(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


@dataclass
class Scores:
    gold: dict = field(default_factory=lambda: {"PERSON": 0, "LOCATION": 0})
    found: dict = field(default_factory=lambda: {"PERSON": 0, "LOCATION": 0})
    predicted: dict = field(default_factory=lambda: {"PERSON": 0, "LOCATION": 0})
    correct: dict = field(default_factory=lambda: {"PERSON": 0, "LOCATION": 0})
    false_replaced: list = field(default_factory=list)  # (entity type, surface)
    messages: int = 0

    def recall(self, kind: str) -> float:
        return self.found[kind] / self.gold[kind] if self.gold[kind] else 1.0

    def precision(self, kind: str) -> float:
        return self.correct[kind] / self.predicted[kind] if self.predicted[kind] else 1.0

    def false_positives_per_1000(self) -> float:
        return 1000 * len(self.false_replaced) / max(1, self.messages)

    def table(self) -> str:
        rows = [
            f"{k}: recall {self.recall(k):.3f} ({self.found[k]}/{self.gold[k]}), "
            f"precision {self.precision(k):.3f} ({self.correct[k]}/{self.predicted[k]})"
            for k in ("PERSON", "LOCATION")
        ]
        return "\n".join(
            rows
            + [
                f"replaced spans on no gold name: {self.false_positives_per_1000():.1f} per 1,000 messages "
                f"({len(self.false_replaced)} in {self.messages})"
            ]
        )


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(samples: list[Sample], findings: list[list]) -> Scores:
    """`findings[i]`: the scrubber's findings (type, start, end, action) for samples[i]."""
    scores = Scores()
    for sample, found in zip(samples, findings, strict=True):
        scores.messages += 1
        for kind in ("PERSON", "LOCATION"):
            gold = [(s, e) for t, s, e in sample.spans if t == kind]
            predicted = [(f.start, f.end) for f in found if f.entity_type == kind]
            scores.gold[kind] += len(gold)
            scores.found[kind] += sum(any(_overlaps(g, p) for p in predicted) for g in gold)
            scores.predicted[kind] += len(predicted)
            scores.correct[kind] += sum(any(_overlaps(p, g) for g in gold) for p in predicted)
        names = [(s, e) for _, s, e in sample.spans]
        scores.false_replaced += [
            (f.entity_type, sample.text[f.start : f.end])
            for f in found
            if f.action != "keep" and not any(_overlaps((f.start, f.end), n) for n in names)
        ]
    return scores
