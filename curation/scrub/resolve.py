"""From raw detections to the entities acted on: thresholds, false-positive filters, the conversation's
allow-list (the character's names), and overlaps resolved by risk tier, then score, then length.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from curation.scrub.config import ScrubConfig
from curation.scrub.detect import Detection
from curation.scrub.names import (
    NAME_IDIOMS,
    ambiguous_name,
    at_sentence_start,
    dictionary_words,
    in_dictionary,
    is_first_name,
    is_last_name,
    known_first_name,
    not_a_name,
)

# Numbers right after these words are identifiers of things, not of people ("order 4839201934").
_NOT_PERSONAL_BEFORE = re.compile(
    r"(?:\b(?:order|orders|tracking|track|invoice|inv|ref|reference|confirmation|conf|ticket|case|serial|sku|"
    r"isbn|model|part|item|product|flight|booking|reservation|transaction|txn|receipt|version|ver|v|release|"
    r"account|acct|policy|claim|student|employee|customer|member|"
    r"build|patch|firmware|zip|postcode|postal|pin|code|otp|id|no)\b\.?\s*(?:number|num|no\.?|nr|id|#|:)?\s*"
    r"(?:is|was|=)?\s*[#:]?"
    r"|#)\s*$",
    re.IGNORECASE,
)
_NUMERIC_TYPES = {"PHONE_NUMBER", "US_SSN", "IP_ADDRESS", "CREDIT_CARD"}
# Above this score a detection is validated (Luhn, IBAN checksum) or context-confirmed: never dropped
# for a preceding "order" or "#".
_CERTAIN = 0.95
# Recognizers that only fire after a word naming the entity ("ssn", "soc. sec. no."): the number is personal.
_NAMED_BY_CUE = frozenset({"SsnCueRecognizer"})

# Greetings, titles' punctuation and chat words that NER glues to a name ("Hey Jake", "Jake lol").
# fmt: off
_NAME_EDGE_WORDS = frozenset(
    [
        "hi",
        "hey",
        "hello",
        "heya",
        "hiya",
        "yo",
        "dear",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "bye",
        "lol",
        "haha",
        "omg",
        "ok",
        "okay",
        "yes",
        "no",
        "yeah",
        "so",
        "and",
        "or",
        "but",
        "the",
        "a",
        "an",
        "my",
        "your",
        "our",
        "his",
        "her",
        "their",
        "mr.",
        "mrs.",
        "ms.",
        "miss",
        "dr.",
        "mr",
        "mrs",
        "ms",
        "dr",
        "sir",
    ]
)
# fmt: on
_NAME_LIKE_TYPES = {"PERSON", "LOCATION"}
_WORD = re.compile(r"[^\W\d_](?:[\w'’.-]*[^\W_])?", re.UNICODE)
# Object pronouns, determiners and prepositions: after a capitalized sentence-initial word they make it a
# verb, a modal or a noun ("Bill me", "Mark my words", "Will you", "Grace under pressure"), not a subject.
# fmt: off
_NOT_AFTER_A_SUBJECT = frozenset(
    [
        "me",
        "my",
        "you",
        "your",
        "him",
        "her",
        "us",
        "our",
        "them",
        "their",
        "it",
        "this",
        "that",
        "these",
        "those",
        "the",
        "a",
        "an",
        "of",
        "under",
        "over",
        "in",
        "on",
        "into",
        "upon",
        "for",
    ]
)
# fmt: on
_IDIOMS = re.compile(
    r"\b(?:" + "|".join(re.escape(i).replace("'", "['’]") for i in NAME_IDIOMS) + r")\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Finding:
    """An entity the scrubber acts on; `action` is its tier's (replace, redact or keep)."""

    entity_type: str
    start: int
    end: int
    score: float
    action: str

    def to_json(self) -> dict:
        return {"type": self.entity_type, "start": self.start, "end": self.end, "score": self.score}


def name_key(word: str) -> str:
    """A name word as compared against the allow-list: lower case, no possessive, no surrounding marks."""
    word = word.lower().strip(".'’-_@")
    for suffix in ("'s", "’s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    return word


class AllowList:
    """Names that are not personal data in one conversation: the character's own and its persona's."""

    def __init__(self, names: Iterable[str] = (), terms: Iterable[str] = ()):
        self.words = {name_key(w) for name in names for w in _WORD.findall(name or "") if len(name_key(w)) > 1}
        self.terms = {t.strip().lower() for t in terms if t and t.strip()}

    def allows(self, surface: str) -> bool:
        return surface.strip().lower() in self.terms

    def allows_word(self, word: str) -> bool:
        return name_key(word) in self.words


def _strip_common_edges(surface: str, start: int, end: int) -> tuple[int, int]:
    """Drop lower-case common words at the edges of a name ("jake again" -> "jake"); a capitalized one
    ("Will Smith") stays, and so does a name that is nothing but common words."""
    words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(surface[start:end])]
    while len(words) > 1 and _common_lower(surface[words[-1][0] : words[-1][1]]):
        words.pop()
    while len(words) > 1 and _common_lower(surface[words[0][0] : words[0][1]]):
        words.pop(0)
    return (words[0][0], words[-1][1]) if words else (start, end)


def _common_lower(word: str) -> bool:
    return word.islower() and not_a_name(word)


def _trim_name(text: str, finding: Detection, allow: AllowList) -> list[Detection]:
    """Split a name-like span into the runs of its words that are neither allowed nor edge words."""
    surface = text[finding.start : finding.end]
    runs: list[tuple[int, int]] = []
    current: list[int] | None = None
    for match in _WORD.finditer(surface):
        word = match.group()
        dropped = allow.allows_word(word) or word.lower() in _NAME_EDGE_WORDS
        if dropped:
            current = None
            continue
        if current is None:
            current = [match.start(), match.end()]
            runs.append(current)  # type: ignore[arg-type]
        else:
            current[1] = match.end()
    out = []
    for start, end in runs:
        start, end = _strip_common_edges(surface, start, end)
        if start >= end:
            continue
        piece = surface[start:end]
        for suffix in ("'s", "’s"):
            if piece.endswith(suffix):
                end -= len(suffix)
        out.append(
            Detection(
                finding.entity_type, finding.start + start, finding.start + end, finding.score, finding.recognizer
            )
        )
    return out


def _split_lines(text: str, d: Detection) -> list[Detection]:
    """A name never spans a line break ("Sarah Connor\nBio" from NER is "Sarah Connor" and "Bio")."""
    surface = text[d.start : d.end]
    if "\n" not in surface:
        return [d]
    out, offset = [], d.start
    for line in surface.split("\n"):
        if line.strip():
            out.append(Detection(d.entity_type, offset, offset + len(line), d.score, d.recognizer))
        offset += len(line) + 1
    return out


def _field_label(text: str, d: Detection, dictionary: frozenset[str]) -> bool:
    """One English word followed by a colon is a form's field label ("Email:", "Insurer:", "Grade:"), not a
    person, unless it is a known first name ("Mark: hi" in a transcript)."""
    words = _WORD.findall(text[d.start : d.end])
    if len(words) != 1 or not re.match(r"[ \t]*:", text[d.end : d.end + 3]):
        return False
    word = name_key(words[0])
    return not known_first_name(word) and (in_dictionary(word, dictionary) or not_a_name(word))


def _fragment_of_longer_number(text: str, d: Detection) -> bool:
    """A card number inside a longer digit sequence ("9400 3288 6076 4737 9741 10" is a tracking number)."""
    return bool(
        re.search(r"\d[ -]?$", text[max(0, d.start - 2) : d.start]) or re.match(r"[ -]?\d", text[d.end : d.end + 2])
    )


def _ner_guess(text: str, d: Detection, dictionary: frozenset[str]) -> bool:
    """A lower-case PERSON from the NER model alone, with no known first name in it, is usually a typo,
    slang or a word the model has not seen ("remeber", "hlelo", "barre chords"); names in lower case are
    caught by the name lists. Surnames alone count only when every word is one and none is an English
    word ("kowalczyk"; not "barre chords", "cook")."""
    surface = text[d.start : d.end]
    if d.recognizer != "SpacyRecognizer" or any(c.isupper() for c in surface):
        return False
    words = [name_key(w) for w in _WORD.findall(surface)]
    if any(is_first_name(w) for w in words):
        return False
    return not (words and all(is_last_name(w) and not in_dictionary(w, dictionary) for w in words))


def _word_at_sentence_start(text: str, d: Detection, dictionary: frozenset[str]) -> bool:
    """A capitalized word the NER model alone tagged as a person where a sentence starts ("Hush now",
    "Small wins count", "Cook it slowly", "Ahoy, matey") is a word, not a name: every word of it is an
    English word, or it is one unknown word set off by a comma (an interjection). Known first names
    ("Grace is here", "Will Smith") stay, unless an everyday-word one is followed by a word that cannot
    follow a name as subject ("Bill me later", "Mark my words", "Will you", "Grace under pressure")."""
    if d.recognizer != "SpacyRecognizer" or not at_sentence_start(text, d.start):
        return False
    words = _WORD.findall(text[d.start : d.end])
    if len(words) == 1 and ambiguous_name(name_key(words[0])):
        following = _WORD.match(text, d.end + 1) if text[d.end : d.end + 1] == " " else None
        if following and following.group().lower() in _NOT_AFTER_A_SUBJECT:
            return True
    if not words or any(known_first_name(w.lower()) for w in words):
        return False
    if all(w.islower() or in_dictionary(name_key(w), dictionary) or not_a_name(name_key(w)) for w in words):
        return True
    return len(words) == 1 and text[d.end : d.end + 1] == ","


def _in_idiom(text: str, d: Detection) -> bool:
    return any(m.start() <= d.start and d.end <= m.end() for m in _IDIOMS.finditer(text))


def _dotted_quad(surface: str) -> bool:
    try:
        ipaddress.IPv4Address(surface)
    except ValueError:
        return False
    return True


def _plausible(text: str, detection: Detection, dictionary: frozenset[str]) -> bool:
    surface = text[detection.start : detection.end]
    if not surface.strip():
        return False
    if detection.entity_type == "PERSON":
        words = _WORD.findall(surface)
        return (
            bool(words)
            and not any(c.isdigit() or c == "@" for c in surface)
            and len(words) <= 5
            and not _ner_guess(text, detection, dictionary)
            and not _word_at_sentence_start(text, detection, dictionary)
            and not _in_idiom(text, detection)
            and not _field_label(text, detection, dictionary)
        )
    if detection.entity_type == "CREDIT_CARD" and _fragment_of_longer_number(text, detection):
        return False
    if detection.entity_type == "PHONE_NUMBER" and _dotted_quad(surface):
        return False  # an IPv4 address that a phone pattern also matched ("is 192.168.1.213 my public address?")
    if (
        detection.entity_type in _NUMERIC_TYPES
        and detection.score < _CERTAIN
        and detection.recognizer not in _NAMED_BY_CUE
    ):
        return not _NOT_PERSONAL_BEFORE.search(text[max(0, detection.start - 40) : detection.start])
    return True


def _merge_same_type(detections: list[Detection]) -> list[Detection]:
    """Overlapping detections of one type become their union: a name found as "Jake" by NER and as
    "jake peterson" by a cue is one name."""
    merged: list[Detection] = []
    for d in sorted(detections, key=lambda d: (d.entity_type, d.start, -d.end)):
        last = merged[-1] if merged else None
        if last is not None and last.entity_type == d.entity_type and d.start < last.end:
            merged[-1] = Detection(d.entity_type, last.start, max(last.end, d.end), max(last.score, d.score))
        else:
            merged.append(d)
    return merged


def resolve(
    text: str, detections: Sequence[Detection], config: ScrubConfig, allow: AllowList | None = None
) -> list[Finding]:
    """The non-overlapping entities to act on in `text`, sorted by position."""
    allow = allow or AllowList()
    dictionary = dictionary_words(config.model)
    tiers = list(config.tiers)
    candidates: list[Detection] = []
    tier_of: dict[str, str] = {}  # the entity types of the candidates, each with its tier
    for d in detections:
        tier = config.tier_of(d.entity_type)
        if tier is None or d.score < config.tiers[tier].min_score:
            continue
        tier_of[d.entity_type] = tier
        surface = text[d.start : d.end]
        if allow.allows(surface) or (d.entity_type == "SOCIAL_HANDLE" and allow.allows_word(surface)):
            continue
        pieces = (
            [p for line in _split_lines(text, d) for p in _trim_name(text, line, allow)]
            if d.entity_type in _NAME_LIKE_TYPES
            else [d]
        )
        candidates.extend(p for p in pieces if _plausible(text, p, dictionary))
    chosen: list[Finding] = []
    taken: list[tuple[int, int]] = []
    ranked = sorted(
        _merge_same_type(candidates),
        key=lambda d: (tiers.index(tier_of[d.entity_type]), -d.score, d.start - d.end, d.start),
    )
    for d in ranked:
        if any(d.start < end and start < d.end for start, end in taken):
            continue
        taken.append((d.start, d.end))
        chosen.append(Finding(d.entity_type, d.start, d.end, d.score, config.tiers[tier_of[d.entity_type]].action))
    return sorted(chosen, key=lambda f: f.start)


# A value found once in a conversation is removed wherever it recurs there ("passport X1234567 ... yes,
# X1234567"): the second mention often has no cue of its own.
PROPAGATED_TYPES = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "ID_NUMBER"})


def found_values(texts: Sequence[str], findings: Sequence[Sequence[Finding]]) -> dict[str, Finding]:
    """Values of the propagated types acted on in a conversation (at least 6 characters, 5 of them
    digits, or an e-mail address), each with the finding it came from."""
    values: dict[str, Finding] = {}
    for text, found in zip(texts, findings, strict=True):
        for f in found:
            value = text[f.start : f.end]
            if (
                f.entity_type in PROPAGATED_TYPES
                and f.action != "keep"
                and len(value) >= 6
                and (sum(c.isdigit() for c in value) >= 5 or "@" in value)
            ):
                values.setdefault(value, f)
    return values


def propagate(text: str, findings: list[Finding], values: dict[str, Finding]) -> list[Finding]:
    """`findings` plus every other whole-token occurrence in `text` of a value in `values`."""
    added: list[Finding] = []
    for value, origin in values.items():
        for match in re.finditer(r"(?<![\w@.+-])" + re.escape(value) + r"(?![\w@]|[.-]\w)", text):
            if not any(match.start() < f.end and f.start < match.end() for f in findings + added):
                added.append(Finding(origin.entity_type, match.start(), match.end(), origin.score, origin.action))
    return sorted(findings + added, key=lambda f: f.start) if added else findings


def lift_after_cue_turn(previous: str, detections: Sequence[Detection]) -> list[Detection]:
    """Detections of a message that answers the previous one: after "what's your number?" a bare or
    nationally grouped number is a phone ("555 0123"), after "and your passport number?" a number-like
    answer is an ID. The recognizers see one message; this gives their below-threshold candidates the
    score a cue in the same message would."""
    from curation.scrub.identifiers import REPLY_SCORE, id_cue_before
    from curation.scrub.recognizers import CUED_PHONE_SCORE, phone_cue_before

    low_phone = any(d.entity_type == "PHONE_NUMBER" and d.score < CUED_PHONE_SCORE for d in detections)
    low_id = any(d.entity_type == "ID_NUMBER" and d.score < REPLY_SCORE for d in detections)
    phone = low_phone and phone_cue_before(previous, len(previous))  # the cue search only where it can matter
    ident = low_id and id_cue_before(previous, len(previous))
    if not (phone or ident):
        return list(detections)
    out = []
    for d in detections:
        if (
            phone
            and d.entity_type == "PHONE_NUMBER"
            and d.recognizer == "ChatPhoneRecognizer"
            and d.score < CUED_PHONE_SCORE
        ):
            d = replace(d, score=CUED_PHONE_SCORE)
        elif ident and d.entity_type == "ID_NUMBER" and d.recognizer == "IdNumberRecognizer" and d.score < REPLY_SCORE:
            d = replace(d, score=REPLY_SCORE)
        out.append(d)
    return out
