"""Precision and recall of the scrubber per entity type, with overlap matching.

A predicted entity (one the scrubber replaced) matches a labeled span of the same type when the two
overlap by at least one character. Recall: labeled spans matched by some prediction. Precision:
predictions that match some labeled span. Character survival: the share of the character's name
mentions left untouched. Real messages (hh-rlhf human turns, persona-chat lines) carry no labels; every
detection of a structured type in them is counted as a false positive per 1,000 messages.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from curation.scrub.config import ScrubConfig
from curation.scrub.evalset import EvalConversation
from curation.scrub.resolve import Finding
from curation.scrub.scrubber import Conversation, Scrubber

# Recall and precision the issue asks for (types not listed have no recall target).
RECALL_TARGETS = {"EMAIL_ADDRESS": 0.99, "CREDIT_CARD": 0.99, "IBAN_CODE": 0.99, "IP_ADDRESS": 0.99, "US_SSN": 0.99,
                  "PHONE_NUMBER": 0.95, "PERSON": 0.90, "STREET_ADDRESS": 0.90}
PRECISION_TARGET = 0.85
CHARACTER_SURVIVAL_TARGET = 0.99
STRUCTURED_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
                    "STREET_ADDRESS", "SOCIAL_HANDLE", "URL")


@dataclass
class TypeScore:
    gold: int = 0
    matched_gold: int = 0
    predicted: int = 0
    correct_predicted: int = 0

    @property
    def recall(self) -> float:
        return self.matched_gold / self.gold if self.gold else float("nan")

    @property
    def precision(self) -> float:
        return self.correct_predicted / self.predicted if self.predicted else float("nan")


@dataclass
class EvalReport:
    messages: int
    per_type: dict[str, TypeScore]
    character_mentions: int
    character_survived: int
    by_style: dict[str, TypeScore] = field(default_factory=dict)
    by_source: dict[str, dict[str, TypeScore]] = field(default_factory=dict)
    real_messages: int = 0
    real_false_positives: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def character_survival(self) -> float:
        return self.character_survived / self.character_mentions if self.character_mentions else float("nan")

    def failures(self, removed_types: Sequence[str]) -> list[str]:
        """The targets this report misses (empty when all are met)."""
        out = []
        for entity, target in RECALL_TARGETS.items():
            score = self.per_type.get(entity)
            if score and score.gold and score.recall < target:
                out.append(f"{entity} recall {score.recall:.3f} < {target}")
        for entity in removed_types:
            score = self.per_type.get(entity)
            if score and score.predicted and score.precision < PRECISION_TARGET:
                out.append(f"{entity} precision {score.precision:.3f} < {PRECISION_TARGET}")
        if self.character_mentions and self.character_survival < CHARACTER_SURVIVAL_TARGET:
            out.append(f"character survival {self.character_survival:.3f} < {CHARACTER_SURVIVAL_TARGET}")
        return out

    def table(self) -> str:
        lines = [f"Evaluation set: {self.messages:,} messages; overlap matching", "",
                 "| entity type | labeled | predicted | precision | recall | recall target |",
                 "|---|---:|---:|---:|---:|---:|"]
        for entity in sorted(self.per_type, key=lambda e: (e not in RECALL_TARGETS, e)):
            s = self.per_type[entity]
            target = RECALL_TARGETS.get(entity)
            lines.append(f"| {entity} | {s.gold} | {s.predicted} | {_fmt(s.precision)} | {_fmt(s.recall)} | "
                         f"{f'>= {target}' if target else ''} |")
        lines += ["", f"Character name survival: {self.character_survived}/{self.character_mentions} = "
                      f"{_fmt(self.character_survival)} (target >= {CHARACTER_SURVIVAL_TARGET})"]
        if len(self.by_source) > 1:
            lines += ["", "| source | entity type | labeled | predicted | precision | recall |", "|---|---|---:|---:|---:|---:|"]
            for source, scores in sorted(self.by_source.items()):
                for entity in sorted(scores, key=lambda e: (e not in RECALL_TARGETS, e)):
                    s = scores[entity]
                    lines.append(f"| {source} | {entity} | {s.gold} | {s.predicted} | {_fmt(s.precision)} | "
                                 f"{_fmt(s.recall)} |")
        if self.by_style:
            lines += ["", "| style | labeled | predicted | recall | precision |", "|---|---:|---:|---:|---:|"]
            for style, s in sorted(self.by_style.items()):
                lines.append(f"| {style} | {s.gold} | {s.predicted} | {_fmt(s.recall)} | {_fmt(s.precision)} |")
        if self.real_messages:
            total = sum(self.real_false_positives.values())
            detail = ", ".join(f"{k}={v}" for k, v in sorted(self.real_false_positives.items())) or "none"
            lines += ["", f"Real messages (unlabeled hard negatives): {self.real_messages:,}; structured-type "
                          f"detections: {total} ({1000 * total / self.real_messages:.1f} per 1,000; {detail})"]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(conversations: Sequence[EvalConversation], config: ScrubConfig | None = None,
             real: Sequence[str] = (), keep_examples: int = 0) -> EvalReport:
    config = config or ScrubConfig()
    scrubber = Scrubber(config)
    inputs = [Conversation(c.id, [m.text for m in c.messages], c.character_name, c.persona) for c in conversations]
    results = scrubber.scrub(inputs)
    per_type: dict[str, TypeScore] = defaultdict(TypeScore)
    by_style: dict[str, TypeScore] = defaultdict(TypeScore)
    by_source: dict[str, dict[str, TypeScore]] = defaultdict(lambda: defaultdict(TypeScore))
    mentions = survived = messages = 0
    misses: list[tuple[str, str, str]] = []
    false_positives: list[tuple[str, str, str]] = []
    for conversation, result in zip(conversations, results):
        for message, found in zip(conversation.messages, result.entities):
            messages += 1
            _score_message(message, found, [per_type, by_source[message.source]], by_style[message.style], misses,
                           false_positives)
            for start, end in message.character_mentions:
                mentions += 1
                survived += not any(_overlaps((start, end), (f.start, f.end)) for f in found)
    report = EvalReport(messages, dict(per_type), mentions, survived, dict(by_style),
                        {source: dict(scores) for source, scores in by_source.items()})
    report.misses = misses[:keep_examples]
    report.false_positives = false_positives[:keep_examples]
    if real:
        report.real_messages = len(real)
        for text, found in zip(real, [r.entities[0] for r in scrubber.scrub(
                [Conversation(f"real-{i}", [t]) for i, t in enumerate(real)])]):
            for f in found:
                if f.entity_type in STRUCTURED_TYPES:
                    report.real_false_positives[f.entity_type] += 1
                    if len(report.false_positives) < 2 * keep_examples:
                        report.false_positives.append((f.entity_type, text[f.start:f.end], text[:200]))
    return report


def _score_message(message, found: list[Finding], type_tables, style_score, misses, false_positives) -> None:
    for span in message.spans:
        hit = any(f.entity_type == span.entity_type and _overlaps((span.start, span.end), (f.start, f.end)) for f in found)
        for score in [table[span.entity_type] for table in type_tables] + [style_score]:
            score.gold += 1
            score.matched_gold += hit
        if not hit:
            misses.append((span.entity_type, message.text[span.start:span.end], message.text))
    for f in found:
        correct = any(f.entity_type == s.entity_type and _overlaps((s.start, s.end), (f.start, f.end)) for s in message.spans)
        for score in [table[f.entity_type] for table in type_tables] + [style_score]:
            score.predicted += 1
            score.correct_predicted += correct
        if not correct:
            false_positives.append((f.entity_type, message.text[f.start:f.end], message.text))
