"""The fail-closed leak scan that runs over a release's text before it is published (DESIGN 4).

The detection is the scrub stage's own (`curation.scrub.leaks`: presidio's pattern recognizers and the
chat recognizers, for the high-risk types e-mail, phone, card, SSN, IBAN and IP), so the gate and the
scrubber agree on what personal data is, and the surrogates the scrubber writes (reserved ranges, failing
check digits) are not taken for leaks. `scan_arrays` first narrows a release's texts with a vectorized
pre-filter (RE2 in Arrow) that every such identifier passes: an '@', nine or more digits separated only by
punctuation, a dotted quad or colon-separated hex groups; a million-row release is scanned in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

SCANNER = "presidio (curation.scrub.leaks: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS)"
PREFILTER = (r"@|\d(?:[\s().+/-]{0,3}\d){8,}|\d{1,3}(?:\.\d{1,3}){3}"
             r"|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}")


def scan_rows(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(row id, text) pairs -> (row id, entity type) for every high-risk identifier found."""
    from curation.scrub.leaks import scan_texts

    return [(leak.row_id, leak.entity_type) for leak in scan_texts(rows)]


def entities(text: str) -> list[str]:
    """The high-risk identifier types found in one text (each type once, in order of appearance)."""
    return list(dict.fromkeys(entity for _, entity in scan_rows([("text", text)])))


def scan_arrays(row_ids: pa.Array, texts: pa.Array) -> list[tuple[str, str]]:
    """`scan_rows` over two aligned Arrow arrays, pre-filtered in Arrow."""
    if len(texts) == 0:
        return []
    suspect = pc.fill_null(pc.match_substring_regex(texts, PREFILTER), False)
    if not pc.any(suspect).as_py():
        return []
    return scan_rows(zip(pc.filter(row_ids, suspect).to_pylist(), pc.filter(texts, suspect).to_pylist()))
