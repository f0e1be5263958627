"""Replacement values, consistent within a conversation.

Placeholders: `<PERSON_1>` is the same person in every turn of a conversation; numbering restarts in
each conversation. "Jake" after "Jake Peterson" is the same person (a name that is part of a known name
reuses its number).

Surrogates: Faker values chosen by a hash of (seed, conversation id, entity type, normalized value), so
a rerun is byte-identical and the same value gets the same surrogate throughout a conversation. The
high-risk surrogates come from ranges reserved for fiction or failing their checksum, so the leak scan
(leak_gate.py) never mistakes a surrogate for a leak: e-mail at example.com/.net/.org (RFC 2606), phone
numbers 555-01xx (NANP fiction range), IPs in the documentation networks (RFC 5737, RFC 3849), card
numbers and IBANs with a wrong check digit, SSNs with serial 0000, identity numbers with every digit 0.
"""

from __future__ import annotations

import hashlib
import random
import re
from functools import lru_cache

from curation.scrub.resolve import Finding, name_key

REDACTED = "[REDACTED]"


def canonical(entity_type: str, value: str) -> str:
    """The form under which two mentions count as the same value."""
    if entity_type in {"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "ID_NUMBER"}:
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if entity_type == "PERSON":
        return " ".join(name_key(w) for w in value.split())
    return " ".join(value.lower().split())


@lru_cache(maxsize=1)
def _shared_faker():
    from faker import Faker

    return Faker("en_US")


def _faker(rng: random.Random):
    """The one Faker instance, reseeded from `rng`, so a surrogate depends only on the conversation's seed."""
    fake = _shared_faker()
    fake.seed_instance(rng.getrandbits(64))
    return fake


def _match_case(surrogate: str, original: str) -> str:
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        return surrogate.lower()
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return surrogate.upper()
    return surrogate


def _fill_digits(template: str, digits: str) -> str:
    """`template` with its digits replaced, in order, by `digits` (keeps the original grouping)."""
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in template)


class Surrogates:
    """Faker-backed surrogate values; every method is a pure function of (rng, original)."""

    @staticmethod
    def person(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        words = original.split()
        value = fake.first_name() if len(words) == 1 else f"{fake.first_name()} {fake.last_name()}"
        return _match_case(value, original)

    @staticmethod
    def email(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        user = f"{fake.first_name()}.{fake.last_name()}{rng.randint(1, 99)}".lower()
        return f"{user}@example.{rng.choice(['com', 'net', 'org'])}"

    @staticmethod
    def phone(rng: random.Random, original: str) -> str:
        area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        line = f"01{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if original.lstrip().startswith("+"):
            return f"+1 {area}-555-{line}"
        if "(" in original:
            return f"({area}) 555-{line}"
        separator = "." if "." in original else " " if " " in original.strip() else "-"
        return separator.join((area, "555", line))

    @staticmethod
    def credit_card(rng: random.Random, original: str) -> str:
        count = sum(c.isdigit() for c in original)
        digits = "4" + "".join(str(rng.randint(0, 9)) for _ in range(count - 1))
        from curation.scrub.recognizers import luhn_ok

        if luhn_ok(digits):  # a surrogate must never pass as a real card number
            digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        return _fill_digits(original, digits)

    @staticmethod
    def ssn(rng: random.Random, original: str) -> str:
        digits = f"{rng.randint(100, 665)}{rng.randint(10, 99)}0000"
        count = sum(c.isdigit() for c in original)
        return _fill_digits(original, digits) if count == 9 else f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"

    @staticmethod
    def iban(rng: random.Random, original: str) -> str:
        from curation.scrub.recognizers import iban_checksum_ok

        compact = re.sub(r"\s", "", original).upper()
        body = "".join(
            str(rng.randint(0, 9)) if c.isdigit() else rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") if c.isalpha() else c
            for c in compact[4:]
        )
        value = f"{compact[:2]}{rng.randint(10, 99)}{body}"
        while iban_checksum_ok(value):
            value = f"{value[:2]}{rng.randint(10, 99)}{value[4:]}"
        if " " in original.strip():
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return _match_case(value, original)

    @staticmethod
    def ip(rng: random.Random, original: str) -> str:
        if ":" in original:
            return (
                "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(3)) + "::" + f"{rng.getrandbits(16):x}"
            )
        network = rng.choice(["192.0.2", "198.51.100", "203.0.113"])
        return f"{network}.{rng.randint(1, 254)}"

    @staticmethod
    def street_address(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        return _match_case(fake.street_address(), original)

    @staticmethod
    def id_number(rng: random.Random, original: str) -> str:
        """The original's shape with every letter an X and every digit a 0: no checksum passes, and the
        ID recognizer skips numbers whose digits are all the same, so the leak scan never flags it."""
        return "".join("0" if c.isdigit() else "X" if c.isalpha() else c for c in original)

    @staticmethod
    def date_of_birth(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        born = fake.date_of_birth(minimum_age=18, maximum_age=90)
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", original.strip()):
            return born.strftime("%Y-%m-%d")
        numeric = re.fullmatch(r"\d{1,2}([./-])\d{1,2}\1\d{2,4}", original.strip())
        if numeric:
            separator = numeric.group(1)
            return born.strftime(f"%m{separator}%d{separator}%Y")
        return born.strftime("%B %d, %Y")

    @staticmethod
    def handle(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        name = f"{fake.user_name()}{rng.randint(1, 99)}"
        return f"@{name}" if original.startswith("@") else name

    @staticmethod
    def url(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        return f"https://example.com/{fake.user_name()}"

    @staticmethod
    def location(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        return _match_case(fake.city(), original)

    @staticmethod
    def date_time(rng: random.Random, original: str) -> str:
        fake = _faker(rng)
        return fake.date(pattern="%B %d, %Y")


_SURROGATES = {
    "PERSON": Surrogates.person,
    "EMAIL_ADDRESS": Surrogates.email,
    "PHONE_NUMBER": Surrogates.phone,
    "CREDIT_CARD": Surrogates.credit_card,
    "US_SSN": Surrogates.ssn,
    "IBAN_CODE": Surrogates.iban,
    "IP_ADDRESS": Surrogates.ip,
    "STREET_ADDRESS": Surrogates.street_address,
    "ID_NUMBER": Surrogates.id_number,
    "DATE_OF_BIRTH": Surrogates.date_of_birth,
    "SOCIAL_HANDLE": Surrogates.handle,
    "URL": Surrogates.url,
    "LOCATION": Surrogates.location,
    "DATE_TIME": Surrogates.date_time,
}


class ConversationReplacer:
    """Replacement values for one conversation, consistent across its turns."""

    def __init__(self, conversation_id: str, mode: str, seed: str):
        self.conversation_id = conversation_id
        self.mode = mode
        self.seed = seed
        self._numbers: dict[tuple[str, str], int] = {}
        self._counts: dict[str, int] = {}
        self._surrogates: dict[tuple[str, str], str] = {}
        self._people: list[str] = []

    def _person_alias(self, key: str) -> str:
        """A single-word name that is one word of a known multi-word name refers to that person."""
        if " " not in key:
            for known in self._people:
                if key in known.split():
                    return known
        if key not in self._people:
            self._people.append(key)
        return key

    def _rng(self, entity_type: str, key: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}\x1f{self.conversation_id}\x1f{entity_type}\x1f{key}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def placeholder(self, entity_type: str, value: str) -> str:
        key = canonical(entity_type, value)
        if entity_type == "PERSON":
            key = self._person_alias(key)
        if (entity_type, key) not in self._numbers:
            self._counts[entity_type] = self._counts.get(entity_type, 0) + 1
            self._numbers[(entity_type, key)] = self._counts[entity_type]
        return f"<{entity_type}_{self._numbers[(entity_type, key)]}>"

    def surrogate(self, entity_type: str, value: str) -> str:
        key = canonical(entity_type, value)
        if entity_type == "PERSON":
            full = self._person_alias(key)
            if full != key and ("PERSON", full) in self._surrogates:  # "Jake" of "Jake Peterson"
                words = self._surrogates[("PERSON", full)].split()
                position = full.split().index(key)
                return _match_case(words[min(position, len(words) - 1)], value)
        if (entity_type, key) not in self._surrogates:
            self._surrogates[(entity_type, key)] = _SURROGATES[entity_type](self._rng(entity_type, key), value)
        return self._surrogates[(entity_type, key)]

    def replacement(self, finding: Finding, value: str) -> str | None:
        """The text that replaces `value`, or None when the finding's tier keeps it."""
        if finding.action == "keep":
            return None
        if finding.action == "redact":
            return REDACTED
        if self.mode == "surrogate":
            return self.surrogate(finding.entity_type, value)
        return self.placeholder(finding.entity_type, value)


def apply(text: str, findings: list[Finding], replacer: ConversationReplacer) -> tuple[str, list[Finding]]:
    """`text` with the findings replaced (offsets are into `text`), and the findings that were acted on."""
    pieces: list[str] = []
    acted: list[Finding] = []
    cursor = 0
    for finding in findings:
        replacement = replacer.replacement(finding, text[finding.start : finding.end])
        if replacement is None:
            continue
        pieces.append(text[cursor : finding.start])
        pieces.append(replacement)
        cursor = finding.end
        acted.append(finding)
    pieces.append(text[cursor:])
    return "".join(pieces), acted
