"""The fail-closed leak scan that runs over a release's text before it is published (DESIGN 4).

This is the stand-in until the PII issue's presidio scan (curation/scrub) is merged: regular expressions
for e-mail addresses, phone numbers (North American with area code, or international with a leading +)
and payment card numbers (13-19 digits passing the Luhn check). Swapping in the real scan means
replacing `scan_rows`; `scan_arrays` only narrows the texts with a vectorized pre-filter (RE2 in Arrow)
that every hit of these patterns must pass, so a million-row release is scanned in seconds.

Note for the swap: scrubbed text carries surrogate values (fake e-mails and numbers made by the scrub
stage); a scan after scrubbing must recognize those as surrogates, which this regex scan cannot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

SCANNER = "regex: email, phone (NANP with area code, or +international), card (13-19 digits, Luhn)"
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)|[2-9]\d{2})[\s.-]?[2-9]\d{2}[\s.-]?\d{4}"  # NANP: (415) 555-0134
    r"|\+(?:[2-9]\d{0,2})[\s.-]?\d(?:[\s.-]?\d){7,12}"  # international: +44 20 7946 0958
    r")(?!\d)"
)
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# Every match of the patterns above contains '@' or at least 9 digits separated only by punctuation.
PREFILTER = r"@|\d(?:[\s().+-]{0,3}\d){8,}"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def entities(text: str) -> list[str]:
    """The high-risk identifier types found in one text (each type once)."""
    found = []
    if EMAIL.search(text):
        found.append("EMAIL_ADDRESS")
    if PHONE.search(text):
        found.append("PHONE_NUMBER")
    if any(luhn_ok(re.sub(r"\D", "", m.group())) for m in CARD.finditer(text)):
        found.append("CREDIT_CARD")
    return found


def scan_rows(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(row id, text) pairs -> (row id, entity type) for every high-risk identifier found."""
    return [(row_id, entity) for row_id, text in rows if text for entity in entities(text)]


def scan_arrays(row_ids: pa.Array, texts: pa.Array) -> list[tuple[str, str]]:
    """`scan_rows` over two aligned Arrow arrays, pre-filtered in Arrow."""
    if len(texts) == 0:
        return []
    suspect = pc.fill_null(pc.match_substring_regex(texts, PREFILTER), False)
    if not pc.any(suspect).as_py():
        return []
    return scan_rows(zip(pc.filter(row_ids, suspect).to_pylist(), pc.filter(texts, suspect).to_pylist()))
