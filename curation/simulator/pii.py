"""Personal data planted in user messages, with exact character spans.

Entity types use presidio's names (PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE,
IP_ADDRESS, US_SSN) plus STREET_ADDRESS. Values are realistic enough for recognizers that validate
them: card numbers pass Luhn, IBANs pass the mod-97 check (and French and Spanish national keys), SSNs
use valid area and group numbers, phone numbers follow national formats. Names, streets and cities come
from Faker pools built once per process with a fixed seed; character names are excluded so that the
scrubber's "keep the character's name" rule is testable.

A planted sentence is a list of segments: plain strings and `Pii(type, value)` objects; the caller
concatenates them and records the spans.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from curation.simulator.characters import CHARACTER_NAMES
from curation.simulator.grammar import Rnd, pick

ENTITY_TYPES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
)
# Relative frequency of each entity type among planted values.
TYPE_WEIGHTS = (0.26, 0.16, 0.18, 0.12, 0.08, 0.07, 0.07, 0.06)
SECOND_ENTITY_SHARE = 0.15
FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "en_IN")
POOL_SEED = 20261101
POOL_SIZE = 300


@dataclass(frozen=True, slots=True)
class Pii:
    type: str
    value: str


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: dict[str, tuple[str, ...]]
    cities: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def pools() -> Pools:
    """Faker-generated name, street and city pools (deterministic: fixed seed, pinned Faker)."""
    from faker import Faker

    excluded = {token.lower() for name in CHARACTER_NAMES for token in name.replace(".", "").split()}
    first: set[str] = set()
    last: set[str] = set()
    streets: dict = {}
    cities: dict = {}
    for i, locale in enumerate(FAKER_LOCALES):
        faker = Faker(locale)
        faker.seed_instance(POOL_SEED + i)
        first.update(faker.first_name() for _ in range(POOL_SIZE))
        last.update(faker.last_name() for _ in range(POOL_SIZE))
        streets[locale] = tuple(sorted({faker.street_name() for _ in range(POOL_SIZE)}))
        cities[locale] = tuple(sorted({faker.city() for _ in range(POOL_SIZE)}))
    clean_first = tuple(sorted(n for n in first if n.lower() not in excluded and " " not in n))
    clean_last = tuple(sorted(n for n in last if n.lower() not in excluded and " " not in n))
    return Pools(clean_first, clean_last, streets, cities)


def _digits(rnd: Rnd, n: int) -> str:
    """n random decimal digits, nine per draw (a float carries 15 significant digits)."""
    chunks = []
    while n > 0:
        k = min(n, 9)
        chunks.append(f"{int(rnd() * 10**k):0{k}d}")
        n -= k
    return "".join(chunks)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def person(rnd: Rnd) -> tuple[str, str]:
    """(full name, first name) from the pools."""
    p = pools()
    first, last = pick(p.first_names, rnd), pick(p.last_names, rnd)
    return f"{first} {last}", first


EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.co.uk",
    "web.de",
    "orange.fr",
    "proton.me",
    "icloud.com",
    "gmx.de",
    "rediffmail.com",
    "fastmail.com",
    "mail.com",
)


def email(rnd: Rnd) -> str:
    full, first = person(rnd)
    first, last = _ascii(first), _ascii(full.split(" ", 1)[1]).replace(" ", "")
    style = int(rnd() * 5)
    local = (
        f"{first}.{last}",
        f"{first}{last}{_digits(rnd, 2)}",
        f"{first[0]}{last}",
        f"{first}_{last}",
        f"{last}.{first}{_digits(rnd, 1)}",
    )[style]
    return f"{local}@{pick(EMAIL_DOMAINS, rnd)}"


def _us_phone(rnd: Rnd) -> str:
    area = str(2 + int(rnd() * 8)) + _digits(rnd, 2)
    exchange = str(2 + int(rnd() * 8)) + _digits(rnd, 2)
    line = _digits(rnd, 4)
    return pick(
        (
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"+1 {area} {exchange} {line}",
            f"+1-{area}-{exchange}-{line}",
        ),
        rnd,
    )


def _uk_phone(rnd: Rnd) -> str:
    london = f"{_digits(rnd, 4)} {_digits(rnd, 4)}"
    mobile = f"7{str(1 + int(rnd() * 9))}{_digits(rnd, 2)} {_digits(rnd, 6)}"
    return pick((f"+44 20 {london}", f"020 {london}", f"0{mobile}", f"+44 {mobile}", f"+44 (0)20 {london}"), rnd)


def _de_phone(rnd: Rnd) -> str:
    return pick(
        (
            f"+49 30 {_digits(rnd, 6)}",
            f"+49 30 {_digits(rnd, 4)} {_digits(rnd, 4)}",
            f"030 {_digits(rnd, 6)}",
            f"+49 151 {_digits(rnd, 8)}",
            f"0151-{_digits(rnd, 8)}",
        ),
        rnd,
    )


def _fr_phone(rnd: Rnd) -> str:
    pairs = [_digits(rnd, 2) for _ in range(4)]
    lead = pick("1234569", rnd)
    return pick(
        (
            f"+33 {lead} " + " ".join(pairs),
            f"0{lead} " + " ".join(pairs),
            f"0{lead}." + ".".join(pairs),
            f"0{lead}-" + "-".join(pairs),
        ),
        rnd,
    )


def _in_phone(rnd: Rnd) -> str:
    head = str(6 + int(rnd() * 4)) + _digits(rnd, 4)
    tail = _digits(rnd, 5)
    return pick((f"+91 {head} {tail}", f"+91-{head}-{tail}", f"0{head} {tail}", f"+91 {head}{tail}"), rnd)


PHONE_BY_LOCALE = {
    "en-US": _us_phone,
    "en-CA": _us_phone,
    "en-GB": _uk_phone,
    "de-DE": _de_phone,
    "fr-FR": _fr_phone,
    "en-IN": _in_phone,
}
PHONE_FORMATS = (_us_phone, _uk_phone, _de_phone, _fr_phone, _in_phone)


def phone(rnd: Rnd, locale: str) -> str:
    make = PHONE_BY_LOCALE.get(locale, _us_phone) if rnd() < 0.6 else pick(PHONE_FORMATS, rnd)
    return make(rnd)


US_STATES = ("CA", "NY", "TX", "WA", "IL", "MA", "OR", "CO", "GA", "FL", "PA", "OH", "MN", "AZ", "NC")
FAMOUS_ADDRESSES = (
    "221B Baker Street",
    "1600 Pennsylvania Ave NW, Washington, DC 20500",
    "12 rue de la Paix, 75002 Paris",
    "10 Downing Street, London SW1A 2AA",
)


def street_address(rnd: Rnd) -> str:
    p = pools()
    number = str(1 + int(rnd() * 998))
    kind = int(rnd() * 9)
    if kind == 0:
        return pick(FAMOUS_ADDRESSES, rnd)
    if kind <= 3:
        return (
            f"{number} {pick(p.streets['en_US'], rnd)}, {pick(p.cities['en_US'], rnd)}, "
            f"{pick(US_STATES, rnd)} {_digits(rnd, 5)}"
        )
    if kind <= 5:
        letter = pick(("", "", "", "A", "B"), rnd)
        postcode = (
            f"{pick(string.ascii_uppercase, rnd)}{pick(string.ascii_uppercase, rnd)}{1 + int(rnd() * 9)} "
            f"{1 + int(rnd() * 9)}{pick(string.ascii_uppercase, rnd)}{pick(string.ascii_uppercase, rnd)}"
        )
        return f"{number}{letter} {pick(p.streets['en_GB'], rnd)}, {pick(p.cities['en_GB'], rnd)} {postcode}"
    if kind <= 7:
        return f"{pick(p.streets['de_DE'], rnd)} {number}, {_digits(rnd, 5)} {pick(p.cities['de_DE'], rnd)}"
    return f"{number} {pick(p.streets['fr_FR'], rnd)}, {_digits(rnd, 5)} {pick(p.cities['fr_FR'], rnd)}"


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def credit_card(rnd: Rnd) -> str:
    brand = int(rnd() * 4)
    if brand == 3:
        body = pick(("34", "37"), rnd) + _digits(rnd, 12)
        number = body + luhn_check_digit(body)
        groups: tuple[str, ...] = (number[:4], number[4:10], number[10:])
    else:
        prefix = ("4", "5" + str(1 + int(rnd() * 5)), "6011")[brand]
        body = prefix + _digits(rnd, 15 - len(prefix))
        number = body + luhn_check_digit(body)
        groups = tuple(number[i : i + 4] for i in range(0, 16, 4))
    return pick((" ", "-", ""), rnd).join(groups)


def iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def _fr_rib_key(bank: str, branch: str, account: str) -> str:
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97:02d}"


def _es_control(digits: str) -> str:
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)
    value = 11 - sum(int(d) * w for d, w in zip(digits.zfill(10), weights, strict=True)) % 11
    return str({11: 0, 10: 1}.get(value, value))


def _bban(rnd: Rnd, country: str) -> str:
    letters = string.ascii_uppercase
    if country == "DE":
        return _digits(rnd, 18)
    if country == "GB":
        return "".join(pick(letters, rnd) for _ in range(4)) + _digits(rnd, 14)
    if country == "NL":
        return "".join(pick(letters, rnd) for _ in range(4)) + _digits(rnd, 10)
    if country == "CH":
        return _digits(rnd, 17)
    if country == "FR":
        bank, branch, account = _digits(rnd, 5), _digits(rnd, 5), _digits(rnd, 11)
        return bank + branch + account + _fr_rib_key(bank, branch, account)
    bank, branch, account = _digits(rnd, 4), _digits(rnd, 4), _digits(rnd, 10)
    return bank + branch + _es_control("00" + bank + branch) + _es_control(account) + account


IBAN_COUNTRIES = ("DE", "GB", "FR", "NL", "ES", "CH")


def iban(rnd: Rnd) -> str:
    country = pick(IBAN_COUNTRIES, rnd)
    bban = _bban(rnd, country)
    code = country + iban_check_digits(country, bban) + bban
    if rnd() < 0.6:
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


def ip_address(rnd: Rnd) -> str:
    kind = int(rnd() * 10)
    if kind < 7:
        first = pick((23, 31, 45, 62, 73, 81, 89, 94, 104, 142, 151, 176, 185, 203, 212, 217), rnd)
        return f"{first}.{int(rnd() * 256)}.{int(rnd() * 256)}.{1 + int(rnd() * 254)}"
    if kind < 8:
        return f"192.168.{int(rnd() * 3)}.{1 + int(rnd() * 254)}"
    groups = [f"{int(rnd() * 65536):x}" for _ in range(8)]
    groups[0] = pick(("2001", "2a02", "2607", "2400", "2c0f"), rnd)
    if kind == 8:
        return ":".join(groups)
    return ":".join(groups[:3]) + "::" + ":".join(groups[6:])


def us_ssn(rnd: Rnd) -> str:
    area = 1 + int(rnd() * 899)
    if area == 666:
        area = 667
    group, serial = 1 + int(rnd() * 99), 1 + int(rnd() * 9999)
    separator = " " if rnd() < 0.2 else "-"
    return f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"


Segments = list  # of str | Pii

EMAIL_FRAMES = (
    ("you can reach me at ", ""),
    ("my email is ", ""),
    ("send it to ", " please"),
    ("can you remember my email? it's ", ""),
    ("", " is my work email btw"),
)
PHONE_FRAMES = (
    ("my number is ", ""),
    ("call me at ", " if that's easier"),
    ("text ", " when you can"),
    ("is ", " a normal phone format?"),
    ("my mom's cell is ", ", should I save it here?"),
)
ADDRESS_FRAMES = (
    ("I live at ", ""),
    ("ship it to ", " please"),
    ("my new place is ", ""),
    ("the party is at ", " on saturday"),
    ("can you find a cafe near ", "?"),
)
CARD_FRAMES = (
    ("my card is ", ", is that safe?"),
    ("I paid with ", " and got charged twice"),
    ("can you check if ", " is a valid card?"),
    ("card number ", " keeps getting declined"),
)
IBAN_FRAMES = (
    ("my IBAN is ", ", can you check it?"),
    ("they asked me to send money to ", ""),
    ("refund goes to ", " right?"),
    ("is ", " a real bank account?"),
)
IP_FRAMES = (
    ("my router IP is ", " and it keeps dropping"),
    ("someone logged in from ", " last night"),
    ("is ", " my public address?"),
    ("my server is at ", ", how do I secure it?"),
)
SSN_FRAMES = (
    ("my ssn is ", ", do I need it for the form?"),
    ("the form wants my social: ", ""),
    ("I typed ", " as my SSN, was that ok?"),
)
SELF_NAME_FRAMES = (("my name is ", ""), ("I'm ", " btw"), ("this is ", " writing"), ("call me ", ""), ("", " here"))
OTHER_NAME_FRAMES = (
    ("my sister ", " says hi"),
    ("", " from work keeps bugging me"),
    ("my friend ", " agrees"),
    ("tell ", " I said hi"),
    ("my neighbor ", " recommended you"),
)


def _person_value(rnd: Rnd) -> str:
    full, first = person(rnd)
    value = full if rnd() < 0.55 else first
    return value.lower() if rnd() < 0.2 else value


def _framed(frames: tuple[tuple[str, str], ...], entity: Pii, rnd: Rnd) -> Segments:
    before, after = pick(frames, rnd)
    return [before, entity, after]


def plant_one(rnd: Rnd, locale: str) -> Segments:
    """One sentence carrying one planted entity, its type drawn by TYPE_WEIGHTS."""
    u, cumulative, kind = rnd(), 0.0, ENTITY_TYPES[-1]
    for entity_type, weight in zip(ENTITY_TYPES, TYPE_WEIGHTS, strict=True):
        cumulative += weight
        if u < cumulative:
            kind = entity_type
            break
    if kind == "PERSON":
        frames = SELF_NAME_FRAMES if rnd() < 0.5 else OTHER_NAME_FRAMES
        return _framed(frames, Pii(kind, _person_value(rnd)), rnd)
    if kind == "EMAIL_ADDRESS":
        return _framed(EMAIL_FRAMES, Pii(kind, email(rnd)), rnd)
    if kind == "PHONE_NUMBER":
        return _framed(PHONE_FRAMES, Pii(kind, phone(rnd, locale)), rnd)
    if kind == "STREET_ADDRESS":
        return _framed(ADDRESS_FRAMES, Pii(kind, street_address(rnd)), rnd)
    if kind == "CREDIT_CARD":
        return _framed(CARD_FRAMES, Pii(kind, credit_card(rnd)), rnd)
    if kind == "IBAN_CODE":
        return _framed(IBAN_FRAMES, Pii(kind, iban(rnd)), rnd)
    if kind == "IP_ADDRESS":
        return _framed(IP_FRAMES, Pii(kind, ip_address(rnd)), rnd)
    return _framed(SSN_FRAMES, Pii(kind, us_ssn(rnd)), rnd)


def plant(rnd: Rnd, locale: str) -> Segments:
    """A PII sentence; sometimes two entities ("my name is X, you can reach me at Y")."""
    segments = plant_one(rnd, locale)
    if rnd() < SECOND_ENTITY_SHARE:
        segments = segments + [", and "] + plant_one(rnd, locale)
    return segments
