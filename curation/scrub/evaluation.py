"""Precision and recall of the scrubber per entity type, with overlap matching.

A predicted entity (one the scrubber replaced) matches a labeled span of the same type when the two
overlap by at least one character. Recall: labeled spans matched by some prediction. Precision:
predictions that match some labeled span. Character survival: the share of the character's name
mentions left untouched. Real messages (hh-rlhf human turns, persona-chat lines) carry no labels; every
detection of a structured type in them is counted as a false positive per 1,000 messages.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from curation.scrub.config import ScrubConfig
from curation.scrub.evalset import EvalConversation
from curation.scrub.labeled import UNSCORED, LabeledText, as_conversations
from curation.scrub.resolve import Finding
from curation.scrub.scrubber import Conversation, Scrubber

# Recall and precision the issue asks for (types not listed have no recall target).
RECALL_TARGETS = {
    "EMAIL_ADDRESS": 0.99,
    "CREDIT_CARD": 0.99,
    "IBAN_CODE": 0.99,
    "IP_ADDRESS": 0.99,
    "US_SSN": 0.99,
    "PHONE_NUMBER": 0.95,
    "PERSON": 0.90,
    "STREET_ADDRESS": 0.90,
}
PRECISION_TARGET = 0.85
# On a labeled set from outside the project (labeled.py): every removed type with enough spans to measure.
LABELED_RECALL_TARGET = 0.95
LABELED_RECALL_EXCEPTIONS = {"STREET_ADDRESS": 0.90}
LABELED_MIN_SPANS = 20
CHARACTER_SURVIVAL_TARGET = 0.99
STRUCTURED_TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "SOCIAL_HANDLE",
    "URL",
    "ID_NUMBER",
    "DATE_OF_BIRTH",
)
# "High-risk values left verbatim" counts the identifiers a reader could use as they stand (the issue's
# measure: phones and ID numbers on the dev set). Street addresses are measured by recall: the dev set
# labels city names ("Paris", "Los Angeles, CA") as addresses, and those stay in the text by design.
VERBATIM_TYPES = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "ID_NUMBER", "DATE_OF_BIRTH"}
)
# On outside labeled sets, a prediction of a compatible type covers a label: the dev set's USERNAME is the
# user's display name as often as a handle ("Sarah", "Sarah Connor (@sarah.connor)"), and its ID_NUMBER
# holds US social security numbers as well as PESEL and NIP.
LABELED_COMPATIBLE = {
    "SOCIAL_HANDLE": frozenset({"PERSON"}),
    "ID_NUMBER": frozenset({"US_SSN"}),
    "US_SSN": frozenset({"ID_NUMBER"}),
}


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
    recall_targets: dict[str, float] = field(default_factory=lambda: dict(RECALL_TARGETS))
    # Labeled values of the most sensitive tier's types found verbatim in the scrubbed text, by type.
    verbatim: Counter = field(default_factory=Counter)
    verbatim_examples: list[tuple[str, str, str]] = field(default_factory=list)
    max_verbatim: int | None = None
    # Labeled spans and predictions not scored: OTHER and kept types, and predictions overlapping them.
    unscored_spans: int = 0
    unscored_predictions: int = 0
    real_replaced: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        predicted = sum(s.predicted for s in self.per_type.values())
        return sum(s.correct_predicted for s in self.per_type.values()) / predicted if predicted else float("nan")

    @property
    def character_survival(self) -> float:
        return self.character_survived / self.character_mentions if self.character_mentions else float("nan")

    def failures(self, removed_types: Sequence[str]) -> list[str]:
        """The targets this report misses (empty when all are met)."""
        out = []
        for entity, target in self.recall_targets.items():
            score = self.per_type.get(entity)
            if score and score.gold and score.recall < target:
                out.append(f"{entity} recall {score.recall:.3f} < {target}")
        for entity in removed_types:  # judged where the set labels the type: a set without dates of birth
            score = self.per_type.get(entity)  # cannot tell a right one from a wrong one
            if score and score.gold and score.predicted and score.precision < PRECISION_TARGET:
                out.append(f"{entity} precision {score.precision:.3f} < {PRECISION_TARGET}")
        if self.character_mentions and self.character_survival < CHARACTER_SURVIVAL_TARGET:
            out.append(f"character survival {self.character_survival:.3f} < {CHARACTER_SURVIVAL_TARGET}")
        if self.max_verbatim is not None and sum(self.verbatim.values()) > self.max_verbatim:
            out.append(
                f"{sum(self.verbatim.values())} high-risk value(s) left verbatim "
                f"({_counts(self.verbatim)}) > {self.max_verbatim}"
            )
        return out

    def table(self) -> str:
        lines = [
            f"Evaluation set: {self.messages:,} messages; overlap matching",
            "",
            "| entity type | labeled | predicted | precision | recall | recall target |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for entity in sorted(self.per_type, key=lambda e: (e not in self.recall_targets, e)):
            s = self.per_type[entity]
            target = self.recall_targets.get(entity)
            lines.append(
                f"| {entity} | {s.gold} | {s.predicted} | {_fmt(s.precision)} | {_fmt(s.recall)} | "
                f"{f'>= {target}' if target else ''} |"
            )
        lines += [
            "",
            f"All types: precision {_fmt(self.precision)}; high-risk values left verbatim: "
            f"{sum(self.verbatim.values())} ({_counts(self.verbatim) or 'none'})",
        ]
        if self.unscored_spans or self.unscored_predictions:
            lines.append(
                f"Unscored: {self.unscored_spans:,} labeled spans of types the config keeps or the set calls "
                f"OTHER, {self.unscored_predictions:,} predictions overlapping only those"
            )
        lines += [
            "",
            f"Character name survival: {self.character_survived}/{self.character_mentions} = "
            f"{_fmt(self.character_survival)} (target >= {CHARACTER_SURVIVAL_TARGET})",
        ]
        if len(self.by_source) > 1:
            lines += [
                "",
                "| source | entity type | labeled | predicted | precision | recall |",
                "|---|---|---:|---:|---:|---:|",
            ]
            for source, scores in sorted(self.by_source.items()):
                for entity in sorted(scores, key=lambda e: (e not in RECALL_TARGETS, e)):
                    s = scores[entity]
                    lines.append(
                        f"| {source} | {entity} | {s.gold} | {s.predicted} | {_fmt(s.precision)} | {_fmt(s.recall)} |"
                    )
        if self.by_style:
            lines += ["", "| style | labeled | predicted | recall | precision |", "|---|---:|---:|---:|---:|"]
            for style, s in sorted(self.by_style.items()):
                lines.append(f"| {style} | {s.gold} | {s.predicted} | {_fmt(s.recall)} | {_fmt(s.precision)} |")
        if self.real_messages:
            total = sum(self.real_false_positives.values())
            replaced = sum(self.real_replaced.values())
            lines += [
                "",
                f"Real messages (unlabeled hard negatives): {self.real_messages:,}; structured-type "
                f"detections: {total} ({1000 * total / self.real_messages:.1f} per 1,000; "
                f"{_counts(self.real_false_positives) or 'none'}); all replaced spans: {replaced} "
                f"({1000 * replaced / self.real_messages:.1f} per 1,000; {_counts(self.real_replaced) or 'none'})",
            ]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counter.items()))


def labeled_targets(per_type: dict[str, TypeScore]) -> dict[str, float]:
    """Recall targets on an outside labeled set: each scored type with at least LABELED_MIN_SPANS spans."""
    return {
        e: LABELED_RECALL_EXCEPTIONS.get(e, LABELED_RECALL_TARGET)
        for e, s in per_type.items()
        if s.gold >= LABELED_MIN_SPANS
    }


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(
    conversations: Sequence[EvalConversation],
    config: ScrubConfig | None = None,
    real: Sequence[str] = (),
    keep_examples: int = 0,
    compatible: dict[str, frozenset[str]] | None = None,
) -> EvalReport:
    """Scores per type; `compatible[label type]`: prediction types that also cover a label of that type."""
    config = config or ScrubConfig()
    scrubber = Scrubber(config)
    inputs = [Conversation(c.id, [m.text for m in c.messages], c.character_name, c.persona) for c in conversations]
    results = scrubber.scrub(inputs)
    high_risk = frozenset(next(iter(config.tiers.values())).entities) & VERBATIM_TYPES if config.tiers else frozenset()
    tally = _Tally(high_risk=high_risk, compatible=compatible or {})
    mentions = survived = messages = 0
    for conversation, result in zip(conversations, results, strict=True):
        for message, found, scrubbed in zip(conversation.messages, result.entities, result.texts, strict=True):
            messages += 1
            tally.score(message, found, scrubbed)
            for start, end in message.character_mentions:
                mentions += 1
                survived += not any(_overlaps((start, end), (f.start, f.end)) for f in found)
    report = tally.report(messages, mentions, survived, keep_examples)
    if real:
        _score_real(report, scrubber, real, keep_examples)
    return report


def _score_real(report: EvalReport, scrubber: Scrubber, real: Sequence[str], keep_examples: int) -> None:
    """Every replacement in real text without labels: structured types are false positives; names may be
    real names (hh-rlhf asks about celebrities), so they are counted and shown, not called wrong."""
    report.real_messages = len(real)
    results = scrubber.scrub([Conversation(f"real-{i}", [t]) for i, t in enumerate(real)])
    for text, found in zip(real, [r.entities[0] for r in results], strict=True):
        for f in found:
            report.real_replaced[f.entity_type] += 1
            if f.entity_type in STRUCTURED_TYPES:
                report.real_false_positives[f.entity_type] += 1
            if len(report.false_positives) < 2 * keep_examples:
                report.false_positives.append((f"{f.entity_type} (real)", text[f.start : f.end], text[:200]))


@dataclass
class _Tally:
    """Scores accumulated message by message (overall, by source, by style) with examples."""

    high_risk: frozenset[str]
    compatible: dict[str, frozenset[str]] = field(default_factory=dict)
    per_type: dict[str, TypeScore] = field(default_factory=lambda: defaultdict(TypeScore))
    by_style: dict[str, TypeScore] = field(default_factory=lambda: defaultdict(TypeScore))
    by_source: dict[str, dict[str, TypeScore]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(TypeScore))
    )
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)
    verbatim: Counter = field(default_factory=Counter)
    verbatim_examples: list[tuple[str, str, str]] = field(default_factory=list)
    unscored_spans: int = 0
    unscored_predictions: int = 0

    def score(self, message, found: list[Finding], scrubbed: str) -> None:
        tables = [self.per_type, self.by_source[message.source], {message.style: self.by_style[message.style]}]
        scored = [s for s in message.spans if s.entity_type != UNSCORED]
        self.unscored_spans += len(message.spans) - len(scored)
        for span in scored:
            hit = any(
                self._covers(f.entity_type, span.entity_type) and _overlaps((span.start, span.end), (f.start, f.end))
                for f in found
            )
            for score in _cells(tables, span.entity_type, message.style):
                score.gold += 1
                score.matched_gold += hit
            if not hit:
                self.misses.append((span.entity_type, message.text[span.start : span.end], message.text))
            value = message.text[span.start : span.end]
            if span.entity_type in self.high_risk and len(value.strip()) >= 4 and _verbatim(value, scrubbed):
                self.verbatim[span.entity_type] += 1
                self.verbatim_examples.append((span.entity_type, value, message.text))
        for f in found:
            correct = any(
                self._covers(f.entity_type, s.entity_type) and _overlaps((s.start, s.end), (f.start, f.end))
                for s in scored
            )
            if not correct and any(
                _overlaps((s.start, s.end), (f.start, f.end)) for s in message.spans if s.entity_type == UNSCORED
            ):
                self.unscored_predictions += 1
                continue
            for score in _cells(tables, f.entity_type, message.style):
                score.predicted += 1
                score.correct_predicted += correct
            if not correct:
                self.false_positives.append((f.entity_type, message.text[f.start : f.end], message.text))

    def _covers(self, predicted: str, labeled: str) -> bool:
        return predicted == labeled or predicted in self.compatible.get(labeled, ())

    def report(self, messages: int, mentions: int, survived: int, keep_examples: int) -> EvalReport:
        report = EvalReport(
            messages,
            dict(self.per_type),
            mentions,
            survived,
            dict(self.by_style),
            {source: dict(scores) for source, scores in self.by_source.items()},
        )
        report.misses = self.misses[:keep_examples]
        report.false_positives = self.false_positives[:keep_examples]
        report.verbatim, report.verbatim_examples = self.verbatim, self.verbatim_examples[:keep_examples]
        report.unscored_spans, report.unscored_predictions = self.unscored_spans, self.unscored_predictions
        return report


def _verbatim(value: str, scrubbed: str) -> bool:
    """`value` as a token of its own in `scrubbed` (not inside a longer number or word)."""
    return re.search(r"(?<![\w])" + re.escape(value) + r"(?![\w])", scrubbed) is not None


def _cells(tables, entity_type: str, style: str) -> list[TypeScore]:
    return [tables[0][entity_type], tables[1][entity_type], tables[2][style]]


def evaluate_labeled(
    texts: Sequence[LabeledText], config: ScrubConfig | None = None, real: Sequence[str] = (), keep_examples: int = 0
) -> EvalReport:
    """Scores on a labeled set from outside the project (labeled.py), with its targets: every removed type
    with enough spans at LABELED_RECALL_TARGET (addresses at their exception) and no high-risk value left."""
    config = config or ScrubConfig()
    removed = {e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities}
    report = evaluate(as_conversations(list(texts), removed), config, real, keep_examples, LABELED_COMPATIBLE)
    report.recall_targets = labeled_targets(report.per_type)
    report.max_verbatim = 0
    report.by_style = {}
    return report
