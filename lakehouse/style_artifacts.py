"""The registry of style artifacts: cheap features of a reply that drift when a model overfits a reward.

The CharacterFlywheel report watched emoji, lists and length between generations: a reward model that
likes a style teaches the policy to overdo it, and win rates climb while users notice the tic. Each
feature here is a pure function of (context, response), where context is the last user message (may be
empty), returning a bool or a number. `compare` puts two groups of replies side by side (rates for bools,
means for numbers) and flags the features that moved by more than their threshold. Release builders
(curation) and offline evaluation (train) both use this one registry and these thresholds.

Dependency-free on purpose (stdlib only): curation, train and the labeling app can all import it cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Emoji and pictographs (plus the joiners and variation selectors that glue multi-code-point emoji).
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U0001f900-\U0001f9ff]")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+\S", re.MULTILINE)
_TRAILING = re.compile("[\\s\"')\\]\u201d\U0001f300-\U0001faff\U00002600-\U000027bf\ufe0f\u200d]+$")
STOCK_OPENINGS = (
    "as an ai",
    "as a language model",
    "as an artificial intelligence",
    "i'm just an ai",
    "i am just an ai",
    "i feel",
    "great question",
    "what a great question",
    "certainly!",
    "absolutely!",
)
REFUSALS = (
    "i can't help with",
    "i cannot help with",
    "i can't assist",
    "i cannot assist",
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "i'm not able to",
    "i am not able to",
    "i'm unable to",
    "i am unable to",
    "i won't be able to",
    "i will not be able to",
    "i can't do that",
    "i cannot do that",
    "i must decline",
    "i'm not comfortable",
)
WALL_OF_TEXT_TOKENS = 120
EMOJI_FLOOD = 4
REPEAT_MIN_WORDS = 5


def tokens(text: str) -> list[str]:
    """Whitespace tokens: the unit every length here is counted in (model-independent)."""
    return text.split()


def emoji_count(context: str, response: str) -> int:
    return len(_EMOJI.findall(response))


def emoji_flood(context: str, response: str) -> bool:
    return emoji_count(context, response) >= EMOJI_FLOOD


def contains_list(context: str, response: str) -> bool:
    """Two or more lines that start like list items (`-`, `*`, `•`, `1.`, `2)`)."""
    return len(_LIST_ITEM.findall(response)) >= 2


def length_tokens(context: str, response: str) -> int:
    return len(tokens(response))


def wall_of_text(context: str, response: str) -> bool:
    """A long reply with no paragraph break."""
    return length_tokens(context, response) >= WALL_OF_TEXT_TOKENS and "\n\n" not in response.strip()


def ends_with_question(context: str, response: str) -> bool:
    """The reply hands the turn back with a question (trailing emoji, quotes and brackets ignored)."""
    return _TRAILING.sub("", response).endswith("?")


def stock_opening(context: str, response: str) -> bool:
    return response.lstrip().lower().startswith(STOCK_OPENINGS)


def refusal(context: str, response: str) -> bool:
    lowered = response.lower().replace("\u2019", "'")
    return any(phrase in lowered for phrase in REFUSALS)


def exclamation_density(context: str, response: str) -> float:
    """Exclamation marks per whitespace token."""
    return response.count("!") / max(1, length_tokens(context, response))


def repeats_user(context: str, response: str) -> bool:
    """The reply parrots the user's message back (it holds the whole message, at least a few words long)."""
    said = " ".join(tokens(context.lower()))
    return len(tokens(said)) >= REPEAT_MIN_WORDS and said in " ".join(tokens(response.lower()))


@dataclass(frozen=True)
class Feature:
    """One artifact. `threshold` is the shift that gets flagged: an absolute change of rate for a bool
    feature, a relative change of mean for a number (relative to max(|old mean|, `floor`), so that a
    feature that was near zero is not flagged for a change nobody would notice)."""

    name: str
    kind: str  # "bool" or "number"
    fn: Callable[[str, str], bool | float]
    threshold: float
    description: str
    floor: float = 1.0


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("emoji_count", "number", emoji_count, 0.25, "emoji per reply", floor=0.5),
        Feature("emoji_flood", "bool", emoji_flood, 0.05, f"share of replies with >= {EMOJI_FLOOD} emoji"),
        Feature("contains_list", "bool", contains_list, 0.10, "share of replies with a bulleted or numbered list"),
        Feature("length_tokens", "number", length_tokens, 0.20, "whitespace tokens per reply", floor=10.0),
        Feature(
            "wall_of_text",
            "bool",
            wall_of_text,
            0.05,
            f"share of replies of >= {WALL_OF_TEXT_TOKENS} tokens without a paragraph break",
        ),
        Feature("ends_with_question", "bool", ends_with_question, 0.10, "share of replies ending with a question"),
        Feature("stock_opening", "bool", stock_opening, 0.05, "share of replies opening with a stock phrase"),
        Feature("refusal", "bool", refusal, 0.05, "share of replies with refusal phrasing"),
        Feature("exclamation_density", "number", exclamation_density, 0.25, "exclamation marks per token", floor=0.02),
        Feature("repeats_user", "bool", repeats_user, 0.05, "share of replies parroting the user's message"),
    )
}


def features(response: str, context: str = "") -> dict[str, bool | float]:
    """Every registered feature of one reply."""
    return {name: f.fn(context or "", response or "") for name, f in FEATURES.items()}


def summarize(rows: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Per feature over (context, response) rows: the rate of a bool feature, the mean of a number one."""
    totals = dict.fromkeys(FEATURES, 0.0)
    n = 0
    for context, response in rows:
        n += 1
        for name, value in features(response, context).items():
            totals[name] += float(value)
    return {name: (total / n if n else 0.0) for name, total in totals.items()}


@dataclass(frozen=True)
class Shift:
    """How one feature moved from the old group to the new one."""

    feature: str
    kind: str
    old: float
    new: float
    change: float  # absolute change of rate (bool) or relative change of mean (number)
    threshold: float
    flagged: bool

    def describe(self) -> str:
        unit = "" if self.kind == "bool" else " (relative)"
        mark = "FLAG " if self.flagged else ""
        return (
            f"{mark}{self.feature}: {self.old:.3f} -> {self.new:.3f}, change {self.change:+.3f}{unit}, "
            f"threshold {self.threshold:.2f}"
        )


def compare(
    old: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]], thresholds: dict[str, float] | None = None
) -> list[Shift]:
    """Compare two groups of (context, response) rows feature by feature; `thresholds` overrides defaults."""
    unknown = set(thresholds or {}) - set(FEATURES)
    if unknown:
        raise KeyError(f"unknown artifact feature(s): {', '.join(sorted(unknown))}; known: {', '.join(FEATURES)}")
    before, after = summarize(old), summarize(new)
    shifts = []
    for name, feature in FEATURES.items():
        threshold = (thresholds or {}).get(name, feature.threshold)
        if feature.kind == "bool":
            change = after[name] - before[name]
        else:
            change = (after[name] - before[name]) / max(abs(before[name]), feature.floor)
        shifts.append(Shift(name, feature.kind, before[name], after[name], change, threshold, abs(change) > threshold))
    return shifts


def check_feature_names(thresholds: dict[str, float]) -> dict[str, float]:
    """A pydantic validator body for per-feature thresholds: unknown feature names are an error."""
    unknown = sorted(set(thresholds) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown artifact feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return thresholds
