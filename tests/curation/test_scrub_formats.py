"""Hostile formats, one case per failure class of issue 12, written here by hand: each proves that its
class is detected (the shared dev set, tests/curation/test_scrub_quality.py, proves that detection generalizes).

Every case asserts the value is gone from the scrubbed text and which type replaced it. Card numbers are
built with a valid Luhn digit here, so no test depends on a famous test number.
"""

from __future__ import annotations

import pytest

from curation.scrub.config import ScrubConfig
from curation.scrub.identifiers import codice_fiscale_ok, dni_ok, nip_ok, nir_ok, pesel_ok, steuer_id_ok, verhoeff_ok
from curation.scrub.recognizers import luhn_ok
from curation.scrub.scrubber import Conversation, Scrubber


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber(ScrubConfig())


def luhn_complete(prefix: str) -> str:
    """`prefix` plus the Luhn check digit."""
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def group(digits: str, sizes: list[int], separator: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return separator.join(out)


CARD_16 = luhn_complete("922113456789012")  # no issuer prefix: only the cue says it is a card
CARD_15 = luhn_complete("37828224631000")

CASES = [
    # phones: en-dashes, wide spacing, national formats behind a cue, Unicode digits, exotic spaces
    ("call me at 555\u2013123\u20134567 tonight", "555\u2013123\u20134567", "PHONE_NUMBER"),
    ("my number is 555  123  4567 ok", "555  123  4567", "PHONE_NUMBER"),
    ("tel: 78 651 450 after six", "78 651 450", "PHONE_NUMBER"),
    ("my mobile is 71-33-52-22", "71-33-52-22", "PHONE_NUMBER"),
    ("home phone 668 5702, thanks", "668 5702", "PHONE_NUMBER"),
    (
        "whatsapp \u0660\u0666 \u0661\u0662 \u0663\u0664 \u0665\u0666 \u0667\u0668",
        "\u0660\u0666 \u0661\u0662 \u0663\u0664 \u0665\u0666 \u0667\u0668",
        "PHONE_NUMBER",
    ),
    (
        "call \uff15\uff15\uff15-\uff11\uff12\uff13-\uff14\uff15\uff16\uff17 now",
        "\uff15\uff15\uff15-\uff11\uff12\uff13-\uff14\uff15\uff16\uff17",
        "PHONE_NUMBER",
    ),
    ("appelle-moi au 06\u00a012\u00a034\u00a056\u00a078", "06\u00a012\u00a034\u00a056\u00a078", "PHONE_NUMBER"),
    ("call 06\u202f12\u202f34\u202f56\u202f78 today", "06\u202f12\u202f34\u202f56\u202f78", "PHONE_NUMBER"),
    ("call 555\u200b123\u200b4567 today", "555\u200b123\u200b4567", "PHONE_NUMBER"),
    ("can you send me your new number?\n[3:19 PM] Bob: Sure! It's 555-0123.", "555-0123", "PHONE_NUMBER"),
    # cards: 5-5-6, dots, any issuer prefix behind a cue
    (f"card {group(CARD_16, [5, 5, 6], ' ')} exp 12/27", group(CARD_16, [5, 5, 6], " "), "CREDIT_CARD"),
    (f"my card is {group(CARD_16, [4, 4, 4, 4], '.')}", group(CARD_16, [4, 4, 4, 4], "."), "CREDIT_CARD"),
    (f"visa {group(CARD_16, [4, 4, 4, 4], '-')}", group(CARD_16, [4, 4, 4, 4], "-"), "CREDIT_CARD"),
    (f"amex {group(CARD_15, [4, 6, 5], ' ')}", group(CARD_15, [4, 6, 5], " "), "CREDIT_CARD"),
    # e-mails: spaced @, full-width @, at/dot spelled out, zero-width inside
    ("write to jane.doe @ gmail.com please", "jane.doe @ gmail.com", "EMAIL_ADDRESS"),
    ("mail bob@ example.org", "bob@ example.org", "EMAIL_ADDRESS"),
    ("mail ann\uff20mail.de", "ann\uff20mail.de", "EMAIL_ADDRESS"),
    ("it's jane dot doe at gmail dot com", "jane dot doe at gmail dot com", "EMAIL_ADDRESS"),
    ("mail jo\u200bhn@exa\u200bmple.org", "jo\u200bhn@exa\u200bmple.org", "EMAIL_ADDRESS"),
    # identity numbers: behind a cue (any digits), or by format and checksum
    ("My passport number is X12345678.", "X12345678", "ID_NUMBER"),
    ("passport no: 533380006", "533380006", "ID_NUMBER"),
    ("driver's license D1234-5678-9012", "D1234-5678-9012", "ID_NUMBER"),
    ("Her PESEL is 12345678901.", "12345678901", "ID_NUMBER"),
    ("numer PESEL 44051401359", "44051401359", "ID_NUMBER"),
    ("NIP 526-104-08-28", "526-104-08-28", "ID_NUMBER"),
    ("mi DNI es 12345678Z", "12345678Z", "ID_NUMBER"),
    ("NIE X1234567L", "X1234567L", "ID_NUMBER"),
    ("el 12345678Z es mío", "12345678Z", "ID_NUMBER"),
    ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S", "ID_NUMBER"),
    ("il mio RSSMRA85T10A562S", "RSSMRA85T10A562S", "ID_NUMBER"),
    ("NINO AB 12 34 56 C", "AB 12 34 56 C", "ID_NUMBER"),
    ("my NI number is QQ123456C", "QQ123456C", "ID_NUMBER"),
    ("PAN ABCPE1234F", "ABCPE1234F", "ID_NUMBER"),
    ("Aadhaar 2341 2341 2346", "2341 2341 2346", "ID_NUMBER"),
    ("numéro de sécurité sociale 1 85 05 78 006 084 91", "1 85 05 78 006 084 91", "ID_NUMBER"),
    ("Steuer-ID 86 095 742 719", "86 095 742 719", "ID_NUMBER"),
    # no cue naming it: a valid Steuer-ID is removed, as an ID or (a "Nummer" cue) as a phone, both high tier
    ("meine Nummer beim Finanzamt: 86 095 742 719", "86 095 742 719", "ID_NUMBER|PHONE_NUMBER"),
    # dates of birth
    ("I was born on 05/20/1985 in Ohio", "05/20/1985", "DATE_OF_BIRTH"),
    ("Date of birth: March 5, 1990", "March 5, 1990", "DATE_OF_BIRTH"),
    ("DOB 1985-07-30", "1985-07-30", "DATE_OF_BIRTH"),
    ("née le 12/03/1978 à Lyon", "12/03/1978", "DATE_OF_BIRTH"),
    # street addresses outside the US pattern
    ("I live at Andrássy út 12, 1061 Budapest.", "Andrássy út 12", "STREET_ADDRESS"),
    ("Mannerheimintie 5 B, 00100 Helsinki", "Mannerheimintie 5", "STREET_ADDRESS"),
    ("wyślij na ul. Marszałkowska 12/4, 00-590 Warszawa", "Marszałkowska 12/4", "STREET_ADDRESS"),
    ("Rua Augusta 100, Lisboa", "Rua Augusta 100", "STREET_ADDRESS"),
    ("Karl-Marx-Allee 34, 10178 Berlin", "Karl-Marx-Allee 34", "STREET_ADDRESS"),
    ("Kossuth tér 3, Debrecen", "Kossuth tér 3", "STREET_ADDRESS"),
    ("Atatürk Caddesi No: 5, Kadıköy", "Atatürk Caddesi No: 5", "STREET_ADDRESS"),
    ("Via Roma 10, 00184 Roma", "Via Roma 10", "STREET_ADDRESS"),
    ("Calle Mayor 12, Madrid", "Calle Mayor 12", "STREET_ADDRESS"),
    ("12 rue de Rivoli, 75001 Paris", "12 rue de Rivoli", "STREET_ADDRESS"),
    ("Address: 555 Broadway, New York, NY", "555 Broadway", "STREET_ADDRESS"),
    ("John Doe\n123 Main St\nApt. 4B\nSpringfield, IL 62701", "Springfield, IL 62701", "STREET_ADDRESS"),
    ("John Doe\n123 Main St\nApt. 4B\nSpringfield, IL 62701", "Apt. 4B", "STREET_ADDRESS"),
    ("10 Downing Street, London SW1A 2AA", "SW1A 2AA", "STREET_ADDRESS"),
    # names: no cue, diacritics, other locales, surnames after titles, transcripts, display names
    ("Dear Mr. Kowalczyk, thank you", "Kowalczyk", "PERSON"),
    ("I met Łukasz yesterday", "Łukasz", "PERSON"),
    ("Zoltán Kovács called about the flat", "Zoltán Kovács", "PERSON"),
    ("[11:15 AM] Mark: Hi, do you remember the meeting?", "Mark", "PERSON"),
    ("To: Pepper Potts <pepper.potts@example.org>", "Pepper Potts", "PERSON"),
    ("invite nowak, Kowalczyk and Wiśniewski too", "Wiśniewski", "PERSON"),
    ("Hola Sra. Núñez, ¿qué tal?", "Núñez", "PERSON"),
    ("Unit 5/12 Smith St, Sydney NSW 2000", "Sydney NSW 2000", "STREET_ADDRESS"),
    ("Flat No. 12, MG Road, Bengaluru", "MG Road", "STREET_ADDRESS"),
    ("Address: Plot 45, Sector 18, Gurugram, Haryana 122015", "Plot 45, Sector 18", "STREET_ADDRESS"),
    ("Address: Plot 45, Sector 18, Gurugram, Haryana 122015", "Haryana 122015", "STREET_ADDRESS"),
]


@pytest.mark.parametrize("text, value, entity", CASES, ids=[f"{e}:{v[:20]}" for _, v, e in CASES])
def test_hostile_format_is_removed_as_its_type(scrubber, text, value, entity):
    assert value in text
    out, findings = scrubber.scrub_text(text)
    start = text.index(value)
    covering = [f for f in findings if f.start < start + len(value) and start < f.end]
    assert set(entity.split("|")) & {f.entity_type for f in covering}, (
        text,
        [(f.entity_type, text[f.start : f.end]) for f in findings],
    )
    assert value not in out


NOT_PII = [
    "I will pass the unit 3 test and my IQ is 120.",
    "The year 2023 was great; we sold 12345 units.",
    "Order 1234-5678-9012 shipped; tracking 9400 1000 0000 0000 0000 00.",
    "the pan 2000 watts heats up fast",
    "Email: write to us any time.\nGrade: 10\nInsurer: a big one",
    "Room 204 is booked from 2-4 PM.",
    "I was born in 1985 and I love 5 Guys burgers.",
    "Account Number: 1234567 is yours",
    "Transaction ID is 123456789 and order id: 98765432",
]


@pytest.mark.parametrize("text", NOT_PII, ids=range(len(NOT_PII)))
def test_look_alikes_are_left_alone(scrubber, text):
    out, findings = scrubber.scrub_text(text)
    structured = [(f.entity_type, text[f.start : f.end]) for f in findings if f.entity_type != "PERSON"]
    assert structured == []


def test_surrogates_for_new_types_are_not_found_again(scrubber):
    """The ID surrogate keeps the shape with every digit 0, and the scan does not flag it."""
    surrogate = Scrubber(ScrubConfig(mode="surrogate"))
    text = "my passport number is X12345678 and I was born on 05/20/1985"
    out = surrogate.scrub([Conversation("c", [text])])[0].texts[0]
    assert "X12345678" not in out and "05/20/1985" not in out
    assert "X00000000" in out
    again = [f.entity_type for f in scrubber.scrub_text(out)[1]]
    assert "ID_NUMBER" not in again


def test_placeholders_for_new_types_are_typed_and_numbered(scrubber):
    text = "passport X12345678, licence no. B7654321, passport X12345678, born on 05/20/1985"
    out, _ = scrubber.scrub_text(text)
    assert out == "passport <ID_NUMBER_1>, licence no. <ID_NUMBER_2>, passport <ID_NUMBER_1>, born on <DATE_OF_BIRTH_1>"


def test_a_value_found_once_is_removed_where_it_recurs_in_the_conversation(scrubber):
    texts = ["my passport number is X12345678", "hi", "ok so X12345678 expires when? call 555 123 4567"]
    out = scrubber.scrub([Conversation("c", texts)])[0].texts
    assert out[0] == "my passport number is <ID_NUMBER_1>"
    assert out[2] == "ok so <ID_NUMBER_1> expires when? call <PHONE_NUMBER_1>"


def test_a_number_answering_the_previous_message_is_removed(scrubber):
    """The cue is in one message and the number in the next, as chat traffic stores them."""
    texts = [
        "what's your cell?",
        "555 0123",
        "and your passport number?",
        "sure, it's 533380006",
        "I bought 3 of them",
        "5550123 units sold",
    ]
    out = scrubber.scrub([Conversation("c", texts)])[0].texts
    assert out[1] == "<PHONE_NUMBER_1>"
    assert out[3] == "sure, it's <ID_NUMBER_1>"
    assert out[5] == "5550123 units sold"  # no cue in the message before it


@pytest.mark.parametrize(
    "check, good, bad",
    [
        (pesel_ok, "44051401359", "44051401358"),
        (nip_ok, "5261040828", "5261040827"),
        (steuer_id_ok, "86095742719", "86095742718"),
        (verhoeff_ok, "234123412346", "234123412345"),
        (dni_ok, "12345678Z", "12345678A"),
        (codice_fiscale_ok, "RSSMRA85T10A562S", "RSSMRA85T10A562T"),
        (nir_ok, "185057800608491", "185057800608492"),
    ],
)
def test_checksums_accept_valid_and_reject_altered_numbers(check, good, bad):
    assert check(good) and not check(bad)
