"""Labeled sets written by somebody else: JSONL `{id, text, spans: [{type, start, end}]}`.

The template set and the simulator's planted PII (evalset.py) were written by the same code the
recognizers were tuned on, so they cannot measure generalization. This module reads any span-labeled
file in the shared dev set's format (`../shared/data/pii-dev-contextual-anonymizer.jsonl.gz`, see its
README) into the evaluation's own form, so `evaluation.evaluate` scores it like any other set.

Label names vary between public sets; `TYPE_ALIASES` maps the common ones onto this engine's entity
types. A span whose type maps to nothing the engine removes (`OTHER`: dates, money, account and ticket
numbers in the dev set) is kept as an *unscored* span: it counts for neither recall nor precision, and
a prediction overlapping it is not a false positive (an account number removed as a card is no harm).
A span that cannot be a value of its type is label noise and is unscored too: a numeric type without a
digit (the dev set labels the cue word "PESEL" itself as an ID_NUMBER 28 times), a phone number with
fewer than 7 digits (one-time codes, "the last four digits"), an e-mail address without "@".
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from curation.scrub.evalset import EvalConversation, EvalMessage, LabeledSpan
from lakehouse.errors import InputError

UNSCORED = "OTHER"
NUMERIC_TYPES = frozenset({"ID_NUMBER", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS"})
# Public sets' label names -> the engine's entity types (identity for the engine's own names).
TYPE_ALIASES = {
    "USERNAME": "SOCIAL_HANDLE",
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "TELEPHONENUM": "PHONE_NUMBER",
    "ADDRESS": "STREET_ADDRESS",
    "STREET": "STREET_ADDRESS",
    "NAME": "PERSON",
    "PER": "PERSON",
    "CREDITCARDNUMBER": "CREDIT_CARD",
    "CREDIT_CARD_NUMBER": "CREDIT_CARD",
    "SSN": "US_SSN",
    "SOCIALNUM": "US_SSN",
    "IBAN": "IBAN_CODE",
    "IP": "IP_ADDRESS",
    "IPV4": "IP_ADDRESS",
    "IPV6": "IP_ADDRESS",
    "DOB": "DATE_OF_BIRTH",
    "PASSPORT": "ID_NUMBER",
    "IDCARDNUM": "ID_NUMBER",
    "DRIVERLICENSENUM": "ID_NUMBER",
    "TAXNUM": "ID_NUMBER",
    "PESEL": "ID_NUMBER",
    "NIP": "ID_NUMBER",
}


class LabeledSetError(InputError):
    """A labeled file that cannot be read as `{id, text, spans}` lines; the message names file and line."""


@dataclass(frozen=True)
class LabeledText:
    id: str
    text: str
    spans: tuple[LabeledSpan, ...]


def canonical_type(label: str) -> str:
    upper = str(label).strip().upper()
    return TYPE_ALIASES.get(upper, upper)


def _parse(line: str, where: str) -> LabeledText:
    try:
        record = json.loads(line)
        text, raw_spans = record["text"], record.get("spans") or []
        if not isinstance(text, str) or not isinstance(raw_spans, list):
            raise TypeError("`text` must be a string and `spans` a list")
        spans = tuple(LabeledSpan(canonical_type(s["type"]), int(s["start"]), int(s["end"])) for s in raw_spans)
    except (ValueError, KeyError, TypeError) as err:
        raise LabeledSetError(f"{where}: not a labeled line ({type(err).__name__}: {err})") from None
    for span in spans:
        if not 0 <= span.start < span.end <= len(text):
            raise LabeledSetError(
                f"{where}: span {span.entity_type} [{span.start}, {span.end}) is outside the "
                f"text ({len(text)} characters)"
            )
    return LabeledText(str(record.get("id", where)), text, spans)


def load_labeled(path: str | Path, limit: int | None = None) -> list[LabeledText]:
    """Every labeled text of a JSONL file (gzipped when its name ends in .gz); a bad line is an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such labeled file: {path}")
    opener = gzip.open if path.name.endswith(".gz") else open
    out: list[LabeledText] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                out.append(_parse(line, f"{path.name}:{number}"))
            if limit is not None and len(out) >= limit:
                break
    return out


def _implausible(text: str, span: LabeledSpan) -> bool:
    value = text[span.start : span.end]
    digits = sum(c.isdigit() for c in value)
    return (
        span.entity_type in NUMERIC_TYPES
        and not digits
        or span.entity_type == "PHONE_NUMBER"
        and digits < 7
        or span.entity_type == "EMAIL_ADDRESS"
        and "@" not in value
    )


def as_conversations(texts: list[LabeledText], scored: frozenset[str] | set[str]) -> list[EvalConversation]:
    """Each text as its own conversation (no character: these are not character chats). Spans of types
    outside `scored` (the types the config removes) become UNSCORED."""
    conversations = []
    for item in texts:
        spans = [
            s if s.entity_type in scored and not _implausible(item.text, s) else LabeledSpan(UNSCORED, s.start, s.end)
            for s in item.spans
        ]
        message = EvalMessage(item.id, item.text, spans, source="labeled")
        conversations.append(EvalConversation(item.id, None, None, [message]))
    return conversations
