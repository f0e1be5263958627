"""Identity numbers (ID_NUMBER) and dates of birth (DATE_OF_BIRTH): the high-tier types presidio's
English defaults lack.

ID_NUMBER is found two ways:
- after a cue word that names the document, in English and the simulator's languages plus Polish and
  Indian ones ("passport no.", "driver's licence", "PESEL", "NIP", "DNI", "Steuer-ID", "Aadhaar",
  "codice fiscale", "numéro de sécurité sociale", "patient ID"): whatever the digits, the user said what
  they are, so a mistyped or made-up number is removed too;
- without a cue, by format *and* checksum where the format is distinctive enough that a valid checksum
  is no accident: Spanish DNI/NIE (check letter), Italian codice fiscale (check character), French
  NIR/INSEE (key 97), UK National Insurance numbers (prefix rules), Indian PAN (holder-type letter) and
  Aadhaar (Verhoeff, grouped 4-4-4), Polish PESEL (weights 1-3-7-9 and a valid birth date) and NIP (grouped
  3-3-2-2, mod 11), German Steuer-ID (ISO 7064 mod 11,10 and its digit-repetition rule, grouped).
Numbers whose digits are all the same ("000000000", the surrogate replace.py writes) are never IDs.

DATE_OF_BIRTH: a date (numeric or with an English month name) right after a birth cue ("born on",
"date of birth", "DOB", "birthday", "né le", "geboren am", "fecha de nacimiento", "data di nascita",
"data urodzenia").
"""

from __future__ import annotations

import re
from datetime import date

from curation.scrub.recognizers import RegexRecognizer, Rule

# ---------------------------------------------------------------------------------------------------------
# Checksums

_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, d in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(d)]]
    return check == 0


def pesel_ok(digits: str) -> bool:
    """11 digits: weights 1-3-7-9 and a real birth date (the month carries the century)."""
    if len(digits) != 11:
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    if (10 - sum(int(d) * w for d, w in zip(digits[:10], weights, strict=True)) % 10) % 10 != int(digits[10]):
        return False
    year, month, day = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    century = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}.get(month - month % 20 if month > 12 else 0, 1900)
    try:
        date(century + year, month % 20, day)
    except ValueError:
        return False
    return True


def nip_ok(digits: str) -> bool:
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return total != 10 and total == int(digits[9])


def steuer_id_ok(digits: str) -> bool:
    """German tax id: 11 digits, no leading 0, one digit 2 or 3 times in the first ten, ISO 7064 check."""
    if len(digits) != 11 or digits[0] == "0":
        return False
    counts = sorted((digits[:10].count(d) for d in set(digits[:10])), reverse=True)
    if counts[0] not in (2, 3) or counts.count(counts[0]) != 1:
        return False
    product = 10
    for d in digits[:10]:
        total = (int(d) + product) % 10 or 10
        product = (total * 2) % 11
    return (11 - product) % 10 == int(digits[10])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(value: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): the letter is number mod 23."""
    value = value.upper()
    if value[0] in "XYZ":
        value = str("XYZ".index(value[0])) + value[1:]
    return value[:-1].isdigit() and _DNI_LETTERS[int(value[:-1]) % 23] == value[-1]


_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ),
        strict=True,
    )
)


def codice_fiscale_ok(value: str) -> bool:
    value = value.upper()
    total = 0
    for i, c in enumerate(value[:15]):
        total += _CF_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
    return chr(65 + total % 26) == value[15]


def nir_ok(digits: str) -> bool:
    """French NIR/INSEE: sex digit, 12 more, and a key 97 - (number mod 97); Corsica's 2A/2B as 19/18."""
    return len(digits) == 15 and digits[0] in "12" and 97 - int(digits[:13]) % 97 == int(digits[13:])


# ---------------------------------------------------------------------------------------------------------
# ID numbers after a cue

_ID_CUES = (
    r"passport|passeport|reisepass|pasaporte|passaporto|paszport|"
    r"driver['’]?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e\s+(?:no|number|#)|\bdl\s?#|permis\s+de\s+conduire|"
    r"f[üu]hrerschein|carn[eé]t?\s+de\s+conducir|patente(?:\s+di\s+guida)?|prawo\s+jazdy|"
    r"national\s+id(?:entity)?(?:\s+card)?|identity\s+card|id\s+card|identity\s+(?:number|no)|"
    r"(?:patient|student|employee|member|citizen|personal|voter|military|government|state|tax|taxpayer)\s+id|"
    r"\bmrn\b|medical\s+(?:record|file|chart)(?:\s+number)?|"
    r"carte\s+d['’]identit[ée]|personalausweis|ausweisnummer|dowód(?:\s+osobisty)?|carta\s+d['’]identit[àa]|"
    r"c[ée]dula|documento\s+nacional|\bdni\b|\bnie\b|\bnif\b|\bcpf\b|\bcurp\b|\bbsn\b|personnummer|"
    r"codice\s+fiscale|steuer-?id|steueridentifikationsnummer|steuernummer|tax\s+(?:identification\s+)?(?:number|no)|"
    r"\btin\b|\bpesel\b|\bnip\b|\bregon\b|aadhaa?r|\bpan(?:\s+card)?\b|\bnino\b|national\s+insurance(?:\s+number)?|"
    r"\bni\s+(?:number|no)|\binsee\b|\bnir\b|s[ée]curit[ée]\s+sociale|\bsin\b|social\s+insurance(?:\s+number)?|"
    r"sozialversicherungsnummer|nhs\s+(?:number|no)|medicare(?:\s+number)?|\bepic\b|voter\s+card|\bid\b"
)
_FILLER = (
    r"(?:[\s:#=.,()-]|\b(?:number|num|numer|nummer|numéro|numero|número|no|nr|n[°º]|id|code|is|was|of|card|details)\b)*"
)
_GROUP = r"[a-z0-9]*\d[a-z0-9]*"
_ID_AFTER_CUE = re.compile(
    rf"\b(?=[a-zà-ÿ])(?:{_ID_CUES}){_FILLER}(?P<value>(?:[a-z]{{1,6}}[ -])?{_GROUP}(?:[ ./-]{_GROUP})*(?:[ -][a-d](?![\w]))?)(?![\w@])",
    re.IGNORECASE,
)
_DATE_SHAPE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})|\d{4}[./-]\d{1,2}[./-]\d{1,2})$")
# A bare "ID" names a thing's identifier after these words ("order ID", "session id"), a person's otherwise.
_THING_BEFORE_ID = re.compile(
    r"\b(?:order|transaction|txn|ticket|claim|case|session|tracking|customer|subscription|reference|ref|booking|"
    r"invoice|product|item|user|account|request|device|app|client|message|chat|meeting|project|policy|file|job|"
    r"batch|build|run|event|payment|shipment|package|reservation|confirmation|merchant|store|vendor|sku|model)"
    r"\W{0,3}$",
    re.IGNORECASE,
)


def _validate_cued_id(match: re.Match) -> float | None:
    value = match.group("value")
    cue = match.group(0)[: match.start("value") - match.start()]
    if re.match(r"id\b", cue, re.IGNORECASE) and _THING_BEFORE_ID.search(match.string[: match.start()]):
        return None
    digits = re.sub(r"\D", "", value)
    letters = sum(c.isalpha() for c in value)
    if len(digits) < (4 if letters >= 2 else 5) or len(value) > 30 or len(set(digits)) == 1 or _DATE_SHAPE.match(value):
        return None
    return 0.85


# ---------------------------------------------------------------------------------------------------------
# ID numbers by format and checksum

_B, _E = r"(?<![\w@./-])", r"(?![\w@]|[./-]\w)"
_DNI = re.compile(rf"{_B}(?P<value>[xyz]?\d{{7,8}}-?[a-z]){_E}", re.IGNORECASE)
_CF = re.compile(rf"{_B}(?P<value>[a-z]{{6}}\d{{2}}[a-z]\d{{2}}[a-z]\d{{3}}[a-z]){_E}", re.IGNORECASE)
_NIR = re.compile(
    rf"{_B}(?P<value>[12][ ]?\d{{2}}[ ]?\d{{2}}[ ]?(?:\d{{2}}|2[ab])[ ]?\d{{3}}[ ]?\d{{3}}[ ]?\d{{2}}){_E}",
    re.IGNORECASE,
)
_NINO = re.compile(
    rf"{_B}(?P<value>(?!bg|gb|nk|kn|tn|nt|zz)[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z] ?\d{{2}} ?\d{{2}} ?\d{{2}} ?[a-d]){_E}",
    re.IGNORECASE,
)
_PAN = re.compile(rf"{_B}(?P<value>(?-i:[A-Z]{{3}}[PCHFATBLJG][A-Z]\d{{4}}[A-Z])){_E}")
_AADHAAR = re.compile(rf"{_B}(?P<value>[2-9]\d{{3}}([ -])\d{{4}}\2\d{{4}}){_E}")
_PESEL = re.compile(rf"{_B}(?P<value>\d{{11}}){_E}")
_NIP = re.compile(rf"{_B}(?P<value>\d{{3}}-\d{{3}}-\d{{2}}-\d{{2}}|\d{{3}}-\d{{2}}-\d{{2}}-\d{{3}}){_E}")
_STEUER_ID = re.compile(rf"{_B}(?P<value>\d{{2}} \d{{3}} \d{{3}} \d{{3}}){_E}")


def _digits(match: re.Match) -> str:
    return re.sub(r"\D", "", match.group("value"))


def _validate_dni(match: re.Match) -> float | None:
    return 0.6 if dni_ok(match.group("value").replace("-", "")) else None


def _validate_nir(match: re.Match) -> float | None:
    compact = re.sub(r"\s", "", match.group("value")).upper()
    compact = compact[:5] + compact[5:7].replace("2A", "19").replace("2B", "18") + compact[7:]
    return 0.7 if nir_ok(compact) else None


# In a dialogue the cue is often a turn before the number ("what's your passport number?" ... "Sure, it's
# A123456789"): a number-like answer right after "it's" / "is" / a colon, with an ID cue in the window.
_REPLY_VALUE = re.compile(
    r"(?:\b(?:it's|it’s|it is|is|was|sure|yes)\b[\s,:!.-]*|:\s*)(?P<value>[a-z]{0,3}\d{6,14}[a-z]?)(?![\w@]|[.,/-]\d)",
    re.IGNORECASE,
)
_CUE_ONLY = re.compile(rf"(?:{_ID_CUES})", re.IGNORECASE)
REPLY_WINDOW = 160


REPLY_SCORE = 0.6
# Without a cue in the same text: below every threshold, for resolve.lift_after_cue_turn to lift when the
# previous message of the conversation asked for the number.
UNCUED_REPLY_SCORE = 0.2


def id_cue_before(text: str, start: int) -> bool:
    """An ID cue (not a bare "ID") within REPLY_WINDOW characters and two line breaks before `start`."""
    window = "\n".join(text[max(0, start - REPLY_WINDOW) : start].split("\n")[-3:])
    return any(c.group().lower() != "id" for c in _CUE_ONLY.finditer(window))


def _validate_reply(match: re.Match) -> float | None:
    digits = re.sub(r"\D", "", match.group("value"))
    if len(set(digits)) < 2:
        return None
    return REPLY_SCORE if id_cue_before(match.string, match.start("value")) else UNCUED_REPLY_SCORE


class IdNumberRecognizer(RegexRecognizer):
    """Passport, driver's licence and national identity numbers (see the module docstring)."""

    ENTITY = "ID_NUMBER"
    CONTEXT = [
        "passport",
        "licence",
        "license",
        "id",
        "identity",
        "pesel",
        "nip",
        "dni",
        "nie",
        "aadhaar",
        "pan",
        "insurance",
        "fiscal",
        "fiscale",
        "tax",
        "insee",
        "ssn",
        "citizen",
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [
                Rule("id_after_cue", _ID_AFTER_CUE, 0.85, _validate_cued_id),
                Rule("id_in_reply", _REPLY_VALUE, 0.6, _validate_reply),
                Rule("dni_nie", _DNI, 0.6, _validate_dni),
                Rule("codice_fiscale", _CF, 0.85, lambda m: 0.85 if codice_fiscale_ok(m.group("value")) else None),
                Rule("nir_insee", _NIR, 0.7, _validate_nir),
                Rule("uk_nino", _NINO, 0.6),
                Rule("in_pan", _PAN, 0.5),
                Rule("aadhaar", _AADHAAR, 0.6, lambda m: 0.6 if verhoeff_ok(_digits(m)) else None),
                Rule("pesel", _PESEL, 0.3, lambda m: 0.3 if pesel_ok(_digits(m)) else None),
                Rule("nip", _NIP, 0.5, lambda m: 0.5 if nip_ok(_digits(m)) else None),
                Rule("steuer_id", _STEUER_ID, 0.5, lambda m: 0.5 if steuer_id_ok(_digits(m)) else None),
            ],
            supported_language,
        )

    def analyze(self, text: str, entities, nlp_artifacts=None):
        from presidio_analyzer import RecognizerResult

        results = super().analyze(text, entities, nlp_artifacts)
        for result in results:
            if result.score == UNCUED_REPLY_SCORE:  # only the previous message's cue may lift it, not "order id"
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results


# ---------------------------------------------------------------------------------------------------------
# Dates of birth

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = (
    rf"(?:\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}[./-]\d{{1,2}}[./-]\d{{1,2}}|"
    rf"(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?)"
)
_BIRTH_CUES = (
    r"born(?:\s+(?:on|in))?|date\s+of\s+birth|birth\s?date|birthday|\bd\.?o\.?b\b\.?|"
    r"n[ée]e?\s+le|date\s+de\s+naissance|geboren(?:\s+am)?|geburtsdatum|\bgeb\.|"
    r"fecha\s+de\s+nacimiento|nacid[oa]\s+el|data\s+di\s+nascita|nat[oa]\s+il|data\s+urodzenia|"
    r"urodzon[ya](?:\s+dnia)?"
)
_DOB = re.compile(
    rf"\b(?=[a-zñé])(?:{_BIRTH_CUES})(?:[\s:,-]|\b(?:is|was|on|am|el|il|le|dnia)\b)*(?P<value>{_DATE})(?!\d)",
    re.IGNORECASE,
)


class DateOfBirthRecognizer(RegexRecognizer):
    ENTITY = "DATE_OF_BIRTH"

    def __init__(self, supported_language: str = "en"):
        super().__init__([Rule("date_after_birth_cue", _DOB, 0.85)], supported_language)
