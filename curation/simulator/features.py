"""The documented features of an assistant reply, measured on its text.

Signals are drawn from these features (`signals.py`), and the truth sidecar records them for every
assistant message, so a reward model trained on the traffic has something real to learn and a test can
check that the signals follow the features. Every feature is a pure function of the reply text and the
character's checkable rules, so anyone can recompute it.
"""

from __future__ import annotations

import re

from curation.simulator.characters import WORD_LIMITS
from curation.simulator.phrases import STOCK_OPENERS

EMOJI_RE = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")
LIST_RE = re.compile(r"^(?:- |\d+\. )", re.MULTILINE)
EMOJI_FLOOD = 4
WALL_OF_TEXT_WORDS = 120
REFUSAL_MARKERS = ("can't help with", "not something I can help with", "unable to help")
PERSONA_BREAK_MARKERS = ("As an AI", "I'm just a computer program", "Since I'm an AI")
_REFUSAL_RE = re.compile("|".join(re.escape(marker) for marker in REFUSAL_MARKERS))
_PERSONA_BREAK_RE = re.compile("|".join(re.escape(marker) for marker in PERSONA_BREAK_MARKERS))
QUESTION_END_RE = re.compile("\\?[\\s\u2600-\u27bf\U0001f300-\U0001faff]*\\Z")

FEATURE_DOCS = {
    "ends_with_question": "the reply ends with '?' (ignoring trailing emoji and spaces): a question back to the user",
    "emoji_count": "number of emoji",
    "emoji_flood": f"{EMOJI_FLOOD} or more emoji",
    "has_list": "a line starting with '- ' or '1. '",
    "words": "whitespace-separated tokens",
    "wall_of_text": f"a paragraph (newline-separated) of more than {WALL_OF_TEXT_WORDS} words",
    "refusal": f"contains a refusal phrase {list(REFUSAL_MARKERS)}",
    "stock_opener": f"starts with a templated opener {list(STOCK_OPENERS)}",
    "exclamation_density": "exclamation marks per 10 words",
    "persona_break": f"steps out of character {list(PERSONA_BREAK_MARKERS)}",
    "instruction_violation": "breaks at least one of the character's checkable rules (see `violations`)",
}


def _wall_of_text(text: str, words: int) -> bool:
    if words <= WALL_OF_TEXT_WORDS:
        return False
    return any(len(paragraph.split()) > WALL_OF_TEXT_WORDS for paragraph in text.split("\n"))


def violated_rules(
    rules: tuple[str, ...], words: int, has_list: bool, question: bool, emoji: int, text: str, persona_break: bool
) -> list[str]:
    violated = []
    for rule in rules:
        if rule in WORD_LIMITS:
            broken = words > WORD_LIMITS[rule]
        elif rule == "no_lists":
            broken = has_list
        elif rule == "question_back":
            broken = not question
        elif rule == "no_emoji":
            broken = emoji > 0
        elif rule == "no_exclamation":
            broken = "!" in text
        elif rule == "stay_in_character":
            broken = persona_break
        else:
            raise ValueError(f"unknown rule {rule!r}")
        if broken:
            violated.append(rule)
    return violated


def _emoji_count(text: str) -> int:
    return 0 if text.isascii() else len(EMOJI_RE.findall(text))


def _ends_with_question(text: str) -> bool:
    stripped = text.rstrip()
    if stripped.endswith("?"):
        return True
    return not stripped[-1:].isascii() and QUESTION_END_RE.search(stripped) is not None


def _has_list(text: str) -> bool:
    return (LIST_RE.search(text) if "\n" in text else LIST_RE.match(text)) is not None


def reply_features(text: str, rules: tuple[str, ...] = ()) -> dict:
    """The features of one assistant reply; `rules` are the character's checkable rules."""
    words = len(text.split())
    emoji = _emoji_count(text)
    has_list = _has_list(text)
    question = _ends_with_question(text)
    persona_break = _PERSONA_BREAK_RE.search(text) is not None
    violations = violated_rules(rules, words, has_list, question, emoji, text, persona_break) if rules else []
    return {
        "ends_with_question": question,
        "emoji_count": emoji,
        "emoji_flood": emoji >= EMOJI_FLOOD,
        "has_list": has_list,
        "words": words,
        "wall_of_text": _wall_of_text(text, words),
        "refusal": _REFUSAL_RE.search(text) is not None,
        "stock_opener": text.startswith(STOCK_OPENERS),
        "exclamation_density": round(10 * text.count("!") / max(words, 1), 3) if "!" in text else 0.0,
        "persona_break": persona_break,
        "instruction_violation": bool(violations),
        "violations": violations,
    }
