"""A labeled evaluation set of chat-like messages, generated deterministically from templates.

Each template is chat text with slots: `{PERSON}`, `{EMAIL_ADDRESS}`, ... are personal data (labeled
spans), `{CHAR}` is the character's own name (must survive), and `{ORDER}`, `{PRICE}`, `{VERSION}`, ...
are hard negatives (numbers and capitalized words that are not personal data). Slot values come from
Faker in a dozen locales and are formatted several ways (numbers with spaces or dashes, lower-case names,
obfuscated e-mail); the literal text is rendered in several styles (casual, all lower-case, misspelled,
with emoji, upper-case). Same seed, same set.

`load_simulation` reads the output of `flywheel simulate` (traffic and its truth sidecar) into the same
form: the evaluation set is the template set plus simulated conversations.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import random
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation.scrub.arrow import character_and_persona
from curation.simulator import SimulationConfig, run_simulation
from lakehouse.errors import InputError

PII_SLOTS = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "SOCIAL_HANDLE",
    "URL",
)
STYLES = ("casual", "lower", "misspelled", "emoji", "upper")

# ---------------------------------------------------------------------------------------------------------
# Characters: a name and a persona that names other people (all of them allowed in that conversation).

CHARACTERS = [
    (
        "Luna",
        "You are Luna, a gentle moon witch. Your familiar is a cat named Mr. Whiskers and your mentor is Morgana.",
    ),
    (
        "Captain Nova",
        "You are Captain Nova of the starship Stardust. Your first mate is Zyx and your engineer is Tomas.",
    ),
    ("Sherlock Holmes", "You are Sherlock Holmes, the detective of 221B Baker Street. Dr. Watson is your friend."),
    ("Aria", "You are Aria, an upbeat fitness coach who loves morning runs with your dog Biscuit."),
    ("Professor Hale", "You are Professor Edmund Hale, a historian who talks about Rome and your late wife Clara."),
    ("Max", "You are Max, a laid-back surfer from California. Your best friend is Kenji."),
    ("Elena", "You are Elena, a Spanish tutor. You often mention your grandmother Rosa and your brother Diego."),
    ("Kai", "You are Kai, a game master who runs fantasy campaigns. Your favorite NPC is Lord Varric."),
    ("Sophie", "You are Sophie, a bakery owner in Lyon who adores your apprentice Julien."),
    ("Marcus", "You are Marcus, a stoic philosopher. You quote Seneca and Epictetus often."),
    ("Zara", "You are Zara, a fashion designer. Your muse is a model named Imani."),
    ("Dr. Morgan Reyes", "You are Dr. Morgan Reyes, a kind therapist. Your supervisor was Dr. Patel."),
    ("Milo", "You are Milo, a cheerful robot who helps kids with homework. Your creator is Ada."),
    ("Grandma Rose", "You are Grandma Rose, who bakes pies and tells stories about Grandpa Walter."),
    ("Orion", "You are Orion, a hunter from the old myths who talks about Artemis."),
    ("Ivy", "You are Ivy, a botanist who names her plants Fern, Basil and Gus."),
    ("Jasper", "You are Jasper, a noir jazz pianist in 1940s Chicago. Your singer is Lola."),
    ("Sakura", "You are Sakura, a calm tea master from Kyoto. Your teacher was Master Hiroshi."),
    ("Coach Carter", "You are Coach Carter, a tough but fair basketball coach. Your star player is Timo."),
    ("Nyx", "You are Nyx, a mysterious night spirit who speaks in riddles."),
    ("Athena", "You are Athena, goddess of wisdom. Your owl is called Glaukos."),
    ("Leo", "You are Leo, a shy librarian who recommends books. Your cat is Pixel."),
    ("Mira", "You are Mira, a travel blogger. Your travel buddy is Anouk."),
    ("Rex", "You are Rex, a loyal talking dog who loves his owner Sam."),
    ("Theo", "You are Theo, a startup founder who mentors people. Your cofounder is Priya."),
    ("Isabella", "You are Isabella, an opera singer from Milan. Your voice coach is Maestro Bellini."),
    ("Oliver", "You are Oliver, a British butler. Your employer is Lady Ashford."),
    ("Hana", "You are Hana, a K-pop dancer. Your group leader is Jisoo."),
    ("Gus", "You are Gus, a grumpy pirate parrot."),
    ("Selene", "You are Selene, a vampire countess. Your servant is Renfield."),
]

# ---------------------------------------------------------------------------------------------------------
# Templates. Slots in braces; a message may hold several. Written as users (and characters) actually write.

TEMPLATES = [
    # introducing oneself
    "hi {CHAR}! my name is {PERSON} and i'm new here",
    "Hey {CHAR}, I'm {PERSON:first}. Nice to finally talk to you",
    "im {PERSON:first} lol whats up",
    "call me {PERSON:first}, everyone does",
    "My name's {PERSON} but my friends call me {PERSON:first}",
    "this is {PERSON:first} again, did you miss me {CHAR}?",
    "{PERSON:first} here 👋 back for more advice",
    "its {PERSON:first}!! remember me from yesterday?",
    "I go by {PERSON:first} online but my real name is {PERSON}",
    "name: {PERSON}\nage: 27\nhobbies: gaming, hiking",
    # other people
    "my sister {PERSON:first} thinks you're hilarious {CHAR}",
    "My boss {PERSON} keeps yelling at me, what should I do?",
    "can you help me write a birthday card for my friend {PERSON:first}?",
    "me and {PERSON:first} broke up last week and i cant stop crying",
    "{PERSON} from accounting stole my lunch again 😤",
    "I was texting {PERSON:first} and she didn't reply for {NUMBER} hours",
    "tell {PERSON:first} i said hi",
    "my daughter's name is {PERSON:first} and she's turning {NUMBER} on {DATE}",
    "Dear {PERSON}, thank you for your order {ORDER}.",
    "Thanks so much, {CHAR}! — {PERSON:first}",
    "Nice to meet you, {PERSON:first}! What brings you here today?",
    "Of course, {PERSON:first}. Let's work through it together.",
    "Happy birthday {PERSON:first}!!! 🎂🎉",
    "my husband {PERSON:first} and I are planning a trip to {CITY} in {MONTH}",
    "do you think {PERSON:first} likes me? he smiled at me today",
    # contact details
    "you can email me at {EMAIL_ADDRESS} if the chat breaks",
    "my email is {EMAIL_ADDRESS} pls send the recipe there",
    "Send the invoice to {EMAIL_ADDRESS} and cc {EMAIL_ADDRESS}",
    "contact: {EMAIL_ADDRESS} / {PHONE_NUMBER}",
    "text me at {PHONE_NUMBER} when you're free",
    "my number is {PHONE_NUMBER}, call after 6pm",
    "call {PHONE_NUMBER} and ask for {PERSON:first}",
    "My cell: {PHONE_NUMBER}. Home: {PHONE_NUMBER}",
    "whatsapp me {PHONE_NUMBER} 😊",
    "reach me on {PHONE_NUMBER} or at {EMAIL_ADDRESS}",
    "The doctor's office number is {PHONE_NUMBER}, can you remind me to call on {DAY}?",
    "{PHONE_NUMBER} is my new number btw",
    "you can ring me on {PHONE_NUMBER} anytime",
    # addresses
    "i live at {STREET_ADDRESS}, come visit sometime",
    "Ship it to {STREET_ADDRESS} please",
    "my address is {STREET_ADDRESS}",
    "We just moved to {STREET_ADDRESS}! the house is huge",
    "can you write a complaint letter? my address is {STREET_ADDRESS} and my name is {PERSON}",
    "the party is at {STREET_ADDRESS} at {TIME}, bring snacks",
    "Deliver to: {STREET_ADDRESS}",
    "my grandma lives at {STREET_ADDRESS} and i visit her every {DAY}",
    # financial and identity numbers
    "my card number is {CREDIT_CARD} exp {EXPIRY}, can you check if it's valid?",
    "I paid with {CREDIT_CARD} but the charge of {PRICE} went through twice",
    "is it safe to share my visa {CREDIT_CARD} here?",
    "my ssn is {US_SSN} for the form",
    "SSN: {US_SSN}",
    "social security number {US_SSN}, dob {DATE}",
    "the tax form asks for my social, it's {US_SSN}",
    "my IBAN is {IBAN_CODE}, please send the {PRICE} there",
    "iban {IBAN_CODE} bic DEUTDEFF",
    "Wire the deposit to {IBAN_CODE} (account holder {PERSON})",
    "can you check this iban for me {IBAN_CODE}",
    # network and online identity
    "my ip address is {IP_ADDRESS} and the server won't let me in",
    "ssh into {IP_ADDRESS} keeps timing out after {NUMBER} seconds",
    "the router at {IP_ADDRESS} is blocking my game on version {VERSION}",
    "i got banned, my ip was {IP_ADDRESS}",
    "follow me on insta {SOCIAL_HANDLE} 💅",
    "my twitter is {SOCIAL_HANDLE}, i post memes",
    "add me on discord: {SOCIAL_HANDLE}",
    "here's my profile {URL}",
    "check out my page {URL} !!",
    # mixed
    "Hi {CHAR}, it's {PERSON}. My number changed to {PHONE_NUMBER} and my email is {EMAIL_ADDRESS}",
    "hey so im {PERSON:first}, {AGE} yo, living at {STREET_ADDRESS} lol",
    "pls remember: {PERSON}, {PHONE_NUMBER}, {STREET_ADDRESS}",
    "my mom {PERSON:first} said to give you her email {EMAIL_ADDRESS}",
    "{CHAR} can you fill this form: name {PERSON}, card {CREDIT_CARD}, ssn {US_SSN}",
    # character mentions and hard negatives only
    "{CHAR} you're the best, seriously",
    "good morning {CHAR}!! ☀️ how did you sleep",
    "what do you think about {CITY}, {CHAR}?",
    "I ordered {PRODUCT} for {PRICE}, order {ORDER}, still not here after {NUMBER} days",
    "my tracking number is {TRACKING} and it says delivered but it's not",
    "the meeting moved to {DATE} at {TIME}",
    "I upgraded to version {VERSION} and now it crashes",
    "Is {PRODUCT} worth {PRICE}? My budget is {PRICE}",
    "it's {NUMBER} degrees in {CITY} today 🥵",
    "My flight {FLIGHT} leaves {DATE} from gate {GATE}",
    "we won {SCORE} last night!!!",
    "room {ROOM} on floor {NUMBER}, the wifi password is on the door",
    "i ran {NUMBER} miles down the road this morning",
    "lol {CHAR} that's so true",
    "thx {CHAR} ur a lifesaver",
    "Can you explain {TOPIC} like I'm five?",
    "{CHAR}, do you remember what we talked about on {DAY}?",
    "I watched {MOVIE} on Netflix, it was amazing",
    "the ISBN is {ISBN}, is it a good book?",
    "my zip code is {ZIP}, is there a store near me?",
    "I have {NUMBER} cats and {NUMBER} dogs, the house is chaos",
    "Pay {PRICE} by {DATE} or the order {ORDER} gets cancelled",
    "my package {TRACKING} is stuck in {CITY}",
    "In {YEAR} I moved to {CITY} for work",
    "our team of {NUMBER} people ships release {VERSION} on {DAY}",
    "the recipe needs {NUMBER} cups of flour and {NUMBER} eggs",
    "I scored {NUMBER} on the SAT in {YEAR}",
    "Call of Duty patch {VERSION} is out",
    "Apple stock hit {PRICE} today, should I buy?",
    "{CHAR} what's your favorite book",
    "hello {CHAR} how r u",
    "Ok {CHAR}, tell me a story about {TOPIC}",
]

# ---------------------------------------------------------------------------------------------------------
# Slot values

NAME_LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pl_PL",
    "pt_BR",
    "sv_SE",
    "en_IN",
    "en_AU",
    "ga_IE",
    "tr_TR",
)
CITIES = ["Paris", "Tokyo", "Chicago", "Berlin", "Toronto", "Sydney", "Madrid", "Austin", "Lagos", "Mumbai", "Denver"]
PRODUCTS = ["an iPhone 15", "AirPods Pro", "a PS5", "Nike Air Max 90", "a Kindle", "the Galaxy S24", "a Dyson V11"]
TOPICS = [
    "black holes",
    "the French Revolution",
    "Python decorators",
    "photosynthesis",
    "the stock market",
    "World War II",
    "quantum computing",
    "the Roman Empire",
]
MOVIES = ["Inception", "The Godfather", "Spirited Away", "Dune: Part Two", "Barbie", "Oppenheimer"]
DAYS = ["Monday", "Tuesday", "Friday", "Sunday", "monday", "saturday", "tuesday night"]
MONTHS = ["January", "March", "June", "August", "October", "december"]
EMOJI = ["😂", "🙏", "❤️", "🔥", "😅", "✨", "👀", "🥺", "💀", "😭"]
MAIL_DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
    "web.de",
    "orange.fr",
    "libero.it",
    "mail.ru",
    "company.co.uk",
    "uni-heidelberg.de",
    "acme.io",
]
STREET_BASES = [
    "Main",
    "Oak",
    "Maple",
    "Elm",
    "Pine",
    "Cedar",
    "Park",
    "Washington",
    "Lake",
    "Hill",
    "Church",
    "High",
    "Mill",
    "Sunset",
    "River",
    "Spring",
    "Highland",
    "Lincoln",
    "Jackson",
    "Franklin",
    "Chestnut",
    "Walnut",
    "Willow",
    "Cherry",
    "Birch",
    "5th",
    "42nd",
    "3rd",
    "Market",
    "King",
    "Queen",
    "Victoria",
]
STREET_SUFFIXES = [
    "Street",
    "St",
    "St.",
    "Avenue",
    "Ave",
    "Ave.",
    "Road",
    "Rd",
    "Lane",
    "Ln",
    "Drive",
    "Dr",
    "Boulevard",
    "Blvd",
    "Court",
    "Ct",
    "Place",
    "Way",
    "Terrace",
    "Circle",
    "Parkway",
    "Highway",
]
US_STATES = ["CA", "NY", "TX", "WA", "IL", "MA", "FL", "OR", "CO", "GA"]


class ValueMaker:
    """Slot values, deterministic given the rng."""

    def __init__(self, rng: random.Random):
        from faker import Faker

        self.rng = rng
        self.fakers = {
            loc: Faker(loc) for loc in sorted(set(NAME_LOCALES) | {"de_DE", "fr_FR", "es_ES", "it_IT", "en_GB"})
        }
        for i, fake in enumerate(self.fakers.values()):
            fake.seed_instance(rng.getrandbits(32) + i)

    def fake(self, *locales: str):
        return self.fakers[self.rng.choice(locales or NAME_LOCALES)]

    def person(self) -> tuple[str, str]:
        fake = self.fake()
        first = fake.first_name()
        return first, f"{first} {fake.last_name()}"

    def email(self, person: tuple[str, str] | None) -> str:
        r = self.rng
        first, full = person or self.person()
        last = full.split()[-1]
        ascii_first = re.sub(r"[^a-z]", "", first.lower()) or "sam"
        ascii_last = re.sub(r"[^a-z]", "", last.lower()) or "lee"
        local = r.choice(
            [
                f"{ascii_first}.{ascii_last}",
                f"{ascii_first}{ascii_last}{r.randint(1, 99)}",
                f"{ascii_first[0]}{ascii_last}",
                f"{ascii_first}_{ascii_last}",
                f"{ascii_first}{r.randint(1980, 2009)}",
                f"{ascii_first}+shop",
            ]
        )
        domain = r.choice(MAIL_DOMAINS)
        style = r.random()
        if style < 0.08:
            return f"{local} at {domain.replace('.', ' dot ')}"
        if style < 0.12:
            return f"{local}[at]{domain.replace('.', '[dot]')}"
        if style < 0.2:
            return f"{local}@{domain}".upper() if r.random() < 0.3 else f"{local.title()}@{domain}"
        if style < 0.3:
            return self.fake("en_US", "en_GB", "de_DE", "fr_FR").free_email()
        return f"{local}@{domain}"

    def phone(self) -> str:
        r = self.rng
        area, exchange, line = r.randint(201, 989), r.randint(200, 989), r.randint(0, 9999)
        formats = [
            f"({area}) {exchange}-{line:04d}",
            f"{area}-{exchange}-{line:04d}",
            f"{area}.{exchange}.{line:04d}",
            f"{area} {exchange} {line:04d}",
            f"{area}{exchange}{line:04d}",
            f"+1 {area} {exchange} {line:04d}",
            f"+1-{area}-{exchange}-{line:04d}",
            f"1-{area}-{exchange}-{line:04d}",
            f"+1{area}{exchange}{line:04d}",
            f"{area} - {exchange} - {line:04d}",
        ]
        if r.random() < 0.45:
            return self.fake(
                "en_GB",
                "de_DE",
                "fr_FR",
                "es_ES",
                "it_IT",
                "nl_NL",
                "en_IN",
                "en_AU",
                "pt_BR",
                "en_US",
                "pl_PL",
                "sv_SE",
            ).phone_number()
        return r.choice(formats)

    def card(self) -> str:
        r = self.rng
        fake = self.fake("en_US")
        kind = r.choice(["visa16", "visa16", "mastercard", "mastercard", "amex", "discover"])
        number = fake.credit_card_number(kind)
        style = r.random()
        if kind == "amex" and style < 0.5:
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        if style < 0.35:
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        if style < 0.6:
            return "-".join(number[i : i + 4] for i in range(0, len(number), 4))
        return number

    def ssn(self) -> str:
        value = self.fake("en_US").ssn()
        style = self.rng.random()
        if style < 0.2:
            return value.replace("-", " ")
        if style < 0.35:
            return value.replace("-", "")
        return value

    def iban(self) -> str:
        value = self.fake("de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL").iban()
        style = self.rng.random()
        if style < 0.45:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        if style > 0.8:
            value = value.lower()
        return value

    def ip(self) -> str:
        fake = self.fake("en_US")
        return self.rng.choice([fake.ipv4_public, fake.ipv4_public, fake.ipv4_private, fake.ipv6])()

    def address(self) -> str:
        r = self.rng
        style = r.random()
        if style < 0.2:
            return self.fake("en_US", "en_GB", "en_AU").street_address()
        if style < 0.32:
            return self.fake("de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL").street_address().strip()
        street = f"{r.randint(1, 9999)} {r.choice(STREET_BASES)} {r.choice(STREET_SUFFIXES)}"
        if r.random() < 0.25:
            street += r.choice(
                [
                    f" Apt {r.randint(1, 40)}",
                    f", Apt. {r.randint(1, 20)}{r.choice('ABCD')}",
                    f" #{r.randint(1, 300)}",
                    f", Suite {r.randint(100, 900)}",
                    f" Unit {r.randint(1, 9)}",
                ]
            )
        if r.random() < 0.4:
            fake = self.fake("en_US")
            street += f", {fake.city()}, {r.choice(US_STATES)} {fake.postcode()}"
        return street

    def handle(self) -> str:
        fake = self.fake("en_US", "en_GB")
        name = fake.user_name()
        return f"@{name}" if self.rng.random() < 0.7 else f"{name}_{self.rng.randint(1, 99)}"

    def url(self) -> str:
        name = self.fake("en_US").user_name()
        site = self.rng.choice(
            [
                "instagram.com/",
                "https://www.facebook.com/",
                "twitter.com/",
                "https://linkedin.com/in/",
                "tiktok.com/@",
                "github.com/",
                "https://www.youtube.com/@",
            ]
        )
        return f"{site}{name}"

    def negative(self, slot: str) -> str:
        r = self.rng
        values = {
            "ORDER": lambda: r.choice(
                [
                    f"#{r.randint(100000, 99999999)}",
                    f"{r.randint(10**7, 10**10)}",
                    f"ORD-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}",
                    f"#A{r.randint(10000, 99999)}",
                ]
            ),
            "PRICE": lambda: r.choice(
                [
                    f"${r.randint(1, 2000)}.{r.randint(0, 99):02d}",
                    f"€{r.randint(5, 900)}",
                    f"£{r.randint(1, 99)}",
                    f"${r.randint(1, 9)},{r.randint(100, 999)}.99",
                    f"{r.randint(10, 500)} dollars",
                ]
            ),
            "DATE": lambda: r.choice(
                [
                    f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                    f"{r.randint(1, 12)}/{r.randint(1, 28)}/{r.choice([2023, 2024, 2025])}",
                    f"March {r.randint(1, 28)}",
                    f"the {r.randint(1, 28)}th",
                    "next Friday",
                ]
            ),
            "TIME": lambda: r.choice(
                [
                    f"{r.randint(1, 12)}:{r.choice(['00', '15', '30', '45'])}pm",
                    f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
                    "noon",
                ]
            ),
            "VERSION": lambda: r.choice(
                [
                    f"{r.randint(1, 5)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
                    f"v{r.randint(1, 3)}.{r.randint(0, 9)}",
                    f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 999)}",
                ]
            ),
            "NUMBER": lambda: str(r.choice([2, 3, 5, 7, 10, 12, 20, 45, 100, 365])),
            "AGE": lambda: str(r.randint(16, 70)),
            "YEAR": lambda: str(r.randint(1990, 2025)),
            "TRACKING": lambda: r.choice(
                [
                    f"1Z{r.randint(10**15, 10**16 - 1)}",
                    f"9400 {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(10, 99)}",
                    f"TBA{r.randint(10**11, 10**12 - 1)}",
                ]
            ),
            "FLIGHT": lambda: f"{r.choice(['UA', 'BA', 'LH', 'DL'])} {r.randint(10, 9999)}",
            "GATE": lambda: f"{r.choice('ABCDE')}{r.randint(1, 40)}",
            "SCORE": lambda: f"{r.randint(0, 120)}-{r.randint(0, 120)}",
            "ROOM": lambda: str(r.randint(100, 999)),
            "ISBN": lambda: f"978-{r.randint(0, 9)}-{r.randint(10, 99)}-{r.randint(100000, 999999)}-{r.randint(0, 9)}",
            "ZIP": lambda: f"{r.randint(10000, 99999)}",
            "EXPIRY": lambda: f"{r.randint(1, 12):02d}/{r.randint(25, 31)}",
            "CITY": lambda: r.choice(CITIES),
            "PRODUCT": lambda: r.choice(PRODUCTS),
            "TOPIC": lambda: r.choice(TOPICS),
            "MOVIE": lambda: r.choice(MOVIES),
            "DAY": lambda: r.choice(DAYS),
            "MONTH": lambda: r.choice(MONTHS),
        }
        return values[slot]()


# ---------------------------------------------------------------------------------------------------------
# Messages and rendering


@dataclass
class LabeledSpan:
    entity_type: str
    start: int
    end: int


@dataclass
class EvalMessage:
    conversation_id: str
    text: str
    spans: list[LabeledSpan]
    character_mentions: list[tuple[int, int]] = field(default_factory=list)
    style: str = "casual"
    template: int = -1
    source: str = "templates"


@dataclass
class EvalConversation:
    id: str
    character_name: str | None
    persona: str | None
    messages: list[EvalMessage]


_SLOT = re.compile(r"\{([A-Z_]+)(?::(\w+))?\}")


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.7:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _style_literal(text: str, style: str, rng: random.Random) -> str:
    if style == "lower":
        return text.lower()
    if style == "upper":
        return text.upper()
    if style == "misspelled":
        return re.sub(r"[A-Za-z]+", lambda m: _typo(m.group(), rng) if rng.random() < 0.25 else m.group(), text)
    return text


def _style_value(slot: str, value: str, style: str) -> str:
    if style == "lower" and slot in {"PERSON", "CHAR", "STREET_ADDRESS", "EMAIL_ADDRESS"}:
        return value.lower()
    if style == "upper" and slot in {"PERSON", "CHAR"}:
        return value.upper()
    return value


def render(
    template: str, values: ValueMaker, character: str, style: str, rng: random.Random, person: tuple[str, str]
) -> tuple[str, list[LabeledSpan], list[tuple[int, int]]]:
    """Fill a template's slots; returns the text, the PII spans and the character-name spans."""
    out: list[str] = []
    spans: list[LabeledSpan] = []
    mentions: list[tuple[int, int]] = []
    length = 0
    cursor = 0
    for match in _SLOT.finditer(template):
        literal = _style_literal(template[cursor : match.start()], style, rng)
        out.append(literal)
        length += len(literal)
        slot, variant = match.group(1), match.group(2)
        value = _slot_value(slot, variant, values, character, person, rng)
        value = _style_value(slot, value, style)
        if slot in PII_SLOTS:
            spans.append(LabeledSpan(slot, length, length + len(value)))
        elif slot == "CHAR":
            mentions.append((length, length + len(value)))
        out.append(value)
        length += len(value)
        cursor = match.end()
    tail = _style_literal(template[cursor:], style, rng)
    out.append(tail)
    text = "".join(out)
    if style == "emoji":
        text = text + " " + rng.choice(EMOJI)
    return text, spans, mentions


def _slot_value(
    slot: str, variant: str | None, values: ValueMaker, character: str, person: tuple[str, str], rng: random.Random
) -> str:
    if slot == "CHAR":
        first = (
            character.split()[-1]
            if character.split()[0] in {"Captain", "Professor", "Dr.", "Coach", "Grandma"}
            else character.split()[0]
        )
        return rng.choice([character, character, first]) if " " in character else character
    if slot == "PERSON":
        return person[0] if variant == "first" or rng.random() < 0.35 else person[1]
    makers = {
        "EMAIL_ADDRESS": lambda: values.email(person if rng.random() < 0.5 else None),
        "PHONE_NUMBER": values.phone,
        "CREDIT_CARD": values.card,
        "US_SSN": values.ssn,
        "IBAN_CODE": values.iban,
        "IP_ADDRESS": values.ip,
        "STREET_ADDRESS": values.address,
        "SOCIAL_HANDLE": values.handle,
        "URL": values.url,
    }
    if slot in makers:
        return makers[slot]()
    return values.negative(slot)


def _user_person(values: ValueMaker, character: str, persona: str) -> tuple[str, str]:
    taken = {w.lower().strip(".,") for w in (character + " " + persona).split()}
    while True:
        first, full = values.person()
        if not {w.lower() for w in full.split()} & taken:
            return first, full


def generate(n_messages: int = 1200, seed: int = 13) -> list[EvalConversation]:
    """About `n_messages` labeled messages in conversations of 3 to 6 turns."""
    rng = random.Random(seed)
    values = ValueMaker(rng)
    conversations: list[EvalConversation] = []
    count = 0
    index = 0
    while count < n_messages:
        character, persona = CHARACTERS[index % len(CHARACTERS)]
        conversation_id = f"eval-{index:05d}"
        person = _user_person(values, character, persona)
        messages = []
        for _ in range(min(rng.randint(3, 6), n_messages - count)):
            template_index = rng.randrange(len(TEMPLATES))
            style = rng.choices(STYLES, weights=(5, 3, 2, 1, 1))[0]
            text, spans, mentions = render(TEMPLATES[template_index], values, character, style, rng, person)
            messages.append(EvalMessage(conversation_id, text, spans, mentions, style, template_index))
        conversations.append(EvalConversation(conversation_id, character, persona, messages))
        count += len(messages)
        index += 1
    return conversations


class SimulationMismatch(InputError):
    """The simulator's traffic and truth sidecar do not describe the same conversations."""


def load_simulation(folder: Path, limit: int | None = None) -> list[EvalConversation]:
    """The first `limit` conversations (all by default) of a `flywheel simulate` output folder, labeled
    from its truth sidecar (docs/simulator.md).

    Traffic is `folder/traffic/part-*.jsonl.gz` (docs/architecture.md, The traffic record) and
    `folder/truth.jsonl.gz` has one line per conversation, in the same order: `pii` spans (`turn` = index into
    `messages`, `type`, `start`, `end`, `value`, code-point offsets with `content[start:end] == value`) and
    `character_mentions` (`turn`, `start`, `end`). Every message of every role is kept: assistant replies carry no
    planted spans but are scrubbed too (precision) and hold the character's self-introductions (name survival). A
    sidecar out of step with the traffic, or a span whose text is not its `value`, raises `SimulationMismatch`.
    """
    traffic = sorted((folder / "traffic").glob("part-*.jsonl.gz"))
    if not traffic or not (folder / "truth.jsonl.gz").exists():
        raise FileNotFoundError(
            f"{folder}: not a simulator output folder (traffic/part-*.jsonl.gz and "
            "truth.jsonl.gz expected; make one with `flywheel simulate`)"
        )
    records = (record for path in traffic for record in read_jsonl(path))
    out: list = []
    for record, truth in itertools.zip_longest(records, read_jsonl(folder / "truth.jsonl.gz")):
        if limit is not None and len(out) >= limit:
            break
        if record is None or truth is None:
            raise SimulationMismatch(f"{folder}: traffic and truth.jsonl.gz hold different numbers of conversations")
        out.append(_simulated_conversation(record, truth))
    return out


def simulate(conversations: int, seed: int = 7) -> list[EvalConversation]:
    """A fresh simulation of `conversations` conversations (written to a temporary folder), labeled."""

    with tempfile.TemporaryDirectory(prefix="flywheel-scrub-eval-") as folder:
        run_simulation(SimulationConfig(conversations=conversations, seed=seed), folder, workers=1, progress=False)
        return load_simulation(Path(folder))


def _simulated_conversation(record: dict, truth: dict) -> EvalConversation:
    conversation_id = record["conversation_id"]
    if truth.get("conversation_id") != conversation_id:
        raise SimulationMismatch(
            f"truth line {truth.get('conversation_id')!r} does not describe traffic conversation {conversation_id!r}"
        )
    messages = [
        EvalMessage(
            conversation_id,
            message.get("content") or "",
            [],
            [],
            f"simulator {message.get('role')}",
            source="simulator",
        )
        for message in record["messages"]
    ]
    for span in truth.get("pii", []):
        message = _turn(messages, span, conversation_id)
        if message.text[span["start"] : span["end"]] != span["value"]:
            raise SimulationMismatch(
                f"{conversation_id} turn {span['turn']}: {span['type']} span "
                f"[{span['start']}:{span['end']}] is not its value"
            )
        message.spans.append(LabeledSpan(span["type"], span["start"], span["end"]))
    for mention in truth.get("character_mentions", []):
        _turn(messages, mention, conversation_id).character_mentions.append((mention["start"], mention["end"]))
    name, persona = character_and_persona(record.get("character"))
    return EvalConversation(conversation_id, name, persona, messages)


def _turn(messages: list[EvalMessage], span: dict, conversation_id: str) -> EvalMessage:
    if not 0 <= span["turn"] < len(messages):
        raise SimulationMismatch(f"{conversation_id}: truth names turn {span['turn']} of {len(messages)} messages")
    return messages[span["turn"]]


def read_jsonl(path: Path) -> Iterator[dict]:
    """The objects of a JSONL file (gzipped when its name ends in .gz), blank lines skipped."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def shared_data_dir() -> Path:
    """../shared/data beside the project (the real public data of tests and demos), or $FLYWHEEL_SHARED_DATA."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    return Path(os.environ.get("FLYWHEEL_SHARED_DATA") or default)


HH_FILE = "hh-rlhf-harmless-base-test-1500.jsonl.gz"
PERSONA_CHAT_FILE = "synthetic-persona-chat-valid.csv"


def real_messages(hh_path: Path | None, persona_chat_path: Path | None, limit: int = 500, seed: int = 5) -> list[str]:
    """Real user-side messages (hh-rlhf human turns, persona-chat lines): hard negatives for precision."""
    rng = random.Random(seed)
    texts: list[str] = []
    if hh_path and Path(hh_path).exists():
        with gzip.open(hh_path, "rt", encoding="utf-8") as fh:
            for line in fh:
                transcript = json.loads(line)["chosen"]
                texts += [t.split("\n\nAssistant:")[0].strip() for t in transcript.split("\n\nHuman: ")[1:]]
    if persona_chat_path and Path(persona_chat_path).exists():
        with open(persona_chat_path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for line in row["Best Generated Conversation"].splitlines():
                    if ":" in line:
                        texts.append(line.split(":", 1)[1].strip())
    texts = sorted({t for t in texts if t})
    rng.shuffle(texts)
    return texts[:limit]
