"""Assistant replies, built sentence by sentence with a style that depends on the model generation.

A `Style` gives, per reply, the chance of each documented feature (question back, emoji, emoji flood,
list, wall of text, refusal, stock opener, persona break, exclamations) and how often the model follows
the character's checkable rules. gen-15 asks more questions back and produces fewer floods, walls,
refusals and violations than gen-14: that is how the experiment's depth lift is planted, through the
same signal model every reply goes through. A regenerated reply is replaced by a draw from
`Style.improved()` (users regenerate bad replies and usually get a better one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from curation.simulator.characters import WORD_LIMITS, Character
from curation.simulator.grammar import Banks, Rnd, fill, fill_tracking, pick
from curation.simulator.phrases import (
    ASSISTANT_ACKS,
    ASSISTANT_BODY,
    ASSISTANT_INTROS,
    ASSISTANT_LIST_INTROS,
    ASSISTANT_PERSONA,
    ASSISTANT_QUESTIONS,
    ASSISTANT_REFUSALS,
    PERSONA_BREAKS,
    STOCK_OPENERS,
)

EMOJI_POOL = tuple("😂😊😍🔥✨🎉👍🙌💪🌟😅🤔😎🥰💖🙏😄👀💯🌈")
WALL_MIN_WORDS = 125


@dataclass(frozen=True)
class Style:
    question: float
    emoji: float
    flood: float
    lists: float
    wall: float
    refusal: float
    stock: float
    persona_break: float
    exclaim: float
    follow_rules: float
    persona: float = 0.3
    intro: float = 0.35
    ack: float = 0.55
    flavor: float = 0.3

    def improved(self) -> Style:
        """The style of the replacement drawn after a regeneration."""
        return replace(
            self,
            question=min(1.0, self.question + 0.15),
            flood=self.flood / 2,
            wall=self.wall / 2,
            refusal=self.refusal / 4,
            stock=self.stock / 2,
            persona_break=self.persona_break / 2,
            follow_rules=min(1.0, self.follow_rules + 0.1),
        )


STYLES: dict[str, Style] = {
    "gen-14": Style(
        question=0.38,
        emoji=0.3,
        flood=0.07,
        lists=0.13,
        wall=0.07,
        refusal=0.04,
        stock=0.13,
        persona_break=0.04,
        exclaim=0.15,
        follow_rules=0.78,
    ),
    "gen-15": Style(
        question=0.43,
        emoji=0.3,
        flood=0.055,
        lists=0.11,
        wall=0.055,
        refusal=0.032,
        stock=0.1,
        persona_break=0.03,
        exclaim=0.13,
        follow_rules=0.85,
    ),
    # `flywheel simulate --generations N` (docs/simulator.md): the style drifts generation by generation.
    "gen-16": Style(
        question=0.47,
        emoji=0.32,
        flood=0.05,
        lists=0.1,
        wall=0.05,
        refusal=0.028,
        stock=0.09,
        persona_break=0.027,
        exclaim=0.12,
        follow_rules=0.87,
    ),
    # Over-optimized for what users click in the moment: emoji everywhere, lists and exclamations, rules
    # ignored; floods and walls of cheer cost the conversations their depth (the report's V11-V12 spike).
    "gen-17": Style(
        question=0.5,
        emoji=0.5,
        flood=0.22,
        lists=0.24,
        wall=0.05,
        refusal=0.025,
        stock=0.16,
        persona_break=0.03,
        exclaim=0.4,
        follow_rules=0.72,
    ),
    "gen-18": Style(
        question=0.5,
        emoji=0.3,
        flood=0.04,
        lists=0.09,
        wall=0.045,
        refusal=0.025,
        stock=0.08,
        persona_break=0.025,
        exclaim=0.11,
        follow_rules=0.89,
    ),
}


class Decisions(NamedTuple):
    """The uniforms that decide one reply's features, compared with the style's probabilities.

    Always drawn together, in this order, from the conversation's decision stream: paired
    conversations of the two arms share that stream, so a gen-15 reply asks a question back whenever
    its gen-14 twin does (0.43 > 0.38) and floods only if its twin floods (common random numbers)."""

    follow: float
    refusal: float
    stock: float
    intro: float
    ack: float
    wall: float
    lists: float
    persona: float
    persona_break: float
    flavor: float
    question: float
    exclaim: float
    flood: float
    emoji: float

    @classmethod
    def draw(cls, decide: Rnd) -> Decisions:
        return cls(*[decide() for _ in cls._fields])


def _lower_first(sentence: str) -> str:
    if sentence.startswith(("I ", "I'")):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def _cap(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _exclaim(sentences: list[str], rnd: Rnd) -> None:
    for i, sentence in enumerate(sentences):
        if sentence.endswith(".") and rnd() < 0.7:
            sentences[i] = sentence[:-1] + ("!!" if rnd() < 0.2 else "!")


def _add_emoji(sentences: list[str], palette: tuple[str, ...], count: int, together: bool, rnd: Rnd) -> None:
    if together:
        sentences[-1] += " " + "".join(pick(palette, rnd) for _ in range(count))
        return
    for _ in range(count):
        i = int(rnd() * len(sentences))
        sentences[i] += " " + pick(palette, rnd)


def _body(banks: Banks, rnd: Rnd, n: int) -> list[str]:
    return [_cap(fill(pick(ASSISTANT_BODY, rnd), banks, rnd)) for _ in range(n)]


def _wall(banks: Banks, rnd: Rnd, words: int) -> list[str]:
    sentences = []
    while words <= WALL_MIN_WORDS:
        sentence = _cap(fill(pick(ASSISTANT_BODY, rnd), banks, rnd))
        sentences.append(sentence)
        words += len(sentence.split())
    return sentences


def _list_block(banks: Banks, rnd: Rnd) -> str:
    intro = fill(pick(ASSISTANT_LIST_INTROS, rnd), banks, rnd)
    tips = banks["tip"]
    numbered = rnd() < 0.5
    items: list[str] = []
    for _ in range(3 + int(rnd() * 3)):
        item = _cap(pick(tips, rnd))
        if item not in items:
            items.append(item)
    lines = [f"{i + 1}. {item}" if numbered else f"- {item}" for i, item in enumerate(items)]
    return intro + "\n" + "\n".join(lines)


def _truncate(sentences: list[str], keep: set[int], limit: int) -> list[str]:
    """Drop droppable sentences from the end until the reply fits the character's word limit."""
    words = [len(s.split()) for s in sentences]
    total = sum(words)
    for i in range(len(sentences) - 1, -1, -1):
        if total <= limit:
            break
        if i not in keep:
            total -= words[i]
            sentences[i] = ""
    return [s for s in sentences if s]


@dataclass
class _Draft:
    sentences: list[str] = field(default_factory=list)
    block: str = ""  # a list (and the question after it), on lines of their own
    intro_at: int = -1  # index of the sentence that names the character
    name_spans: list[tuple[int, int]] = field(default_factory=list)  # inside that sentence


def _answer(
    draft: _Draft,
    style: Style,
    character: Character,
    banks: Banks,
    rnd: Rnd,
    u: Decisions,
    *,
    follow: bool,
    first_turn: bool,
) -> None:
    """The content of a non-refusal: opener, intro, acknowledgement, body or wall, list, persona."""
    rules = character.rules
    sentences = draft.sentences
    opener = pick(STOCK_OPENERS, rnd) if u.stock < style.stock else ""
    if opener:
        sentences.append(opener)
    if first_turn and u.intro < style.intro:
        draft.intro_at = len(sentences)
        intro, draft.name_spans = fill_tracking(pick(ASSISTANT_INTROS, rnd), banks, rnd, "name")
        sentences.append(intro)
    if u.ack < style.ack:
        sentences.append(fill(pick(ASSISTANT_ACKS, rnd), banks, rnd))
    limit = next((WORD_LIMITS[r] for r in rules if r in WORD_LIMITS), None) if follow else None
    if u.wall < style.wall and limit is None:
        sentences += _wall(banks, rnd, sum(len(s.split()) for s in sentences))
    else:
        sentences += _body(banks, rnd, 1 + int(rnd() * (2 if limit == 50 else 3)))
        if u.lists < style.lists and not (follow and "no_lists" in rules):
            draft.block = _list_block(banks, rnd)
    if u.persona < style.persona:
        sentences.append(_cap(fill(pick(ASSISTANT_PERSONA, rnd), banks, rnd)))
    if u.persona_break < style.persona_break and not (follow and "stay_in_character" in rules):
        sentences.insert(min(len(sentences), 1 + int(opener != "")), fill(pick(PERSONA_BREAKS, rnd), banks, rnd))
    if character.flavor and u.flavor < style.flavor:
        target = next(i for i in range(int(opener != ""), len(sentences)) if i != draft.intro_at)
        sentences[target] = f"{pick(character.flavor, rnd)} {_lower_first(sentences[target])}"
    if limit is not None:
        keep = {0, 1, draft.intro_at} if opener else {0, draft.intro_at}
        draft.sentences = _truncate(sentences, keep, limit - 12 - len(draft.block.split()))


def _decorate(
    draft: _Draft, style: Style, character: Character, banks: Banks, rnd: Rnd, u: Decisions, *, follow: bool
) -> None:
    """A question back, exclamations and emoji, unless the character's rules forbid them."""
    rules = character.rules
    if u.question < style.question or (follow and "question_back" in rules):
        question = _cap(fill(pick(ASSISTANT_QUESTIONS, rnd), banks, rnd))
        if draft.block:
            draft.block += "\n" + question
        else:
            draft.sentences.append(question)
    if not (follow and "no_exclamation" in rules) and u.exclaim < style.exclaim:
        _exclaim(draft.sentences, rnd)
    if not (follow and "no_emoji" in rules):
        palette = character.emoji + EMOJI_POOL
        if u.flood < style.flood:
            _add_emoji(draft.sentences, palette, 4 + int(rnd() * 6), rnd() < 0.5, rnd)
        elif u.emoji < style.emoji:
            _add_emoji(draft.sentences, palette, 1 + int(rnd() * 2), False, rnd)


def _render(draft: _Draft) -> tuple[str, list[tuple[int, int]]]:
    text = " ".join(draft.sentences)
    if draft.block:
        text = f"{text}\n{draft.block}" if text else draft.block
    if draft.intro_at < 0:
        return text, []
    shift = sum(len(s) + 1 for s in draft.sentences[: draft.intro_at])
    return text, [(start + shift, end + shift) for start, end in draft.name_spans]


def build_reply(
    style: Style,
    character: Character,
    banks: Banks,
    rnd: Rnd,
    decisions: Decisions,
    *,
    first_turn: bool,
    refusal_bias: float = 0.0,
) -> tuple[str, list[tuple[int, int]]]:
    """One reply and the spans of the character's name in it: `decisions` choose its features, `rnd`
    its words."""
    follow = decisions.follow < style.follow_rules
    draft = _Draft()
    if decisions.refusal < style.refusal + refusal_bias:
        draft.sentences.append(fill(pick(ASSISTANT_REFUSALS, rnd), banks, rnd))
    else:
        _answer(draft, style, character, banks, rnd, decisions, follow=follow, first_turn=first_turn)
    _decorate(draft, style, character, banks, rnd, decisions, follow=follow)
    return _render(draft)
