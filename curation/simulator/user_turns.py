"""User messages: openers, follow-ups, answers to a question back, pushback after a refusal.

A message is assembled from pieces, some of them tagged (the character's name, a planted PII value), so
that the exact character spans of every tagged piece are known without searching the text afterwards.
"""

from __future__ import annotations

from curation.simulator.grammar import Banks, Rnd, Template, fill, fill_tracking, pick
from curation.simulator.phrases import (
    USER_ANSWERS,
    USER_FOLLOWUPS,
    USER_GREETINGS,
    USER_OPENERS,
    USER_PUSHBACKS,
    USER_THANKS,
)
from curation.simulator.pii import Pii, plant

GREETING_SHARE = 0.25
THANKS_SHARE = 0.06
SECOND_SENTENCE_SHARE = 0.3
TEMPLATES: dict[str, tuple[Template, ...]] = {
    "opener": USER_OPENERS,
    "followup": USER_FOLLOWUPS,
    "answer": USER_ANSWERS,
    "pushback": USER_PUSHBACKS,
}


def _separator(left: str) -> str:
    """What goes between a sentence and the next one in a casual chat message."""
    return " " if left.endswith((".", "?", "!", ")")) else ". "


def with_pii(body: str, segments: list, before: bool) -> tuple[str, list[tuple[str, int, int, str]]]:
    """`body` with a planted PII sentence before or after it, and the spans of the planted values."""
    pieces: list[str] = []
    spans: list[tuple[str, int, int, str]] = []
    position = 0
    if not before:
        pieces.append(body + _separator(body))
        position = len(pieces[0])
    for segment in segments:
        if isinstance(segment, Pii):
            spans.append((segment.type, position, position + len(segment.value), segment.value))
            text = segment.value
        else:
            text = segment
        pieces.append(text)
        position += len(text)
    if before:
        pieces.append(_separator(pieces[-1]) + body)
    return "".join(pieces), spans


def user_message(
    kind: str, banks: Banks, rnd: Rnd, *, locale: str, pii_share: float
) -> tuple[str, list[tuple[int, int]], list[tuple[str, int, int, str]]]:
    """(text, character-name spans, PII spans as (type, start, end, value))."""
    body = fill(pick(TEMPLATES[kind], rnd), banks, rnd)
    if kind == "opener" and rnd() < SECOND_SENTENCE_SHARE:
        second = fill(pick(USER_FOLLOWUPS, rnd), banks, rnd)
        body = body + _separator(body) + second
    pii: list[tuple[str, int, int, str]] = []
    if rnd() < pii_share:
        body, pii = with_pii(body, plant(rnd, locale), before=rnd() < 0.4)
    mentions: list[tuple[int, int]] = []
    if kind == "opener" and rnd() < GREETING_SHARE:
        greeting, mentions = fill_tracking(pick(USER_GREETINGS, rnd), banks, rnd, "name")
        pii = [(t, s + len(greeting), e + len(greeting), v) for t, s, e, v in pii]
        body = greeting + body
    elif kind != "opener" and rnd() < THANKS_SHARE:
        thanks, spans = fill_tracking(pick(USER_THANKS, rnd), banks, rnd, "name", offset=len(body))
        mentions = spans
        body = body + thanks
    return body, mentions, pii
