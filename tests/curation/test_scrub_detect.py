"""The scrubber on the real parts: presidio + the spaCy model + our recognizers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation.scrub.config import ScrubConfig
from curation.scrub.scrubber import Conversation, Scrubber


@pytest.fixture(scope="session")
def scrubber() -> Scrubber:
    return Scrubber(ScrubConfig())


@pytest.fixture(scope="session")
def surrogate_scrubber(scrubber) -> Scrubber:
    return Scrubber(ScrubConfig(mode="surrogate"))


def _assert_valid(text: str, findings) -> None:
    previous_end = 0
    for f in findings:
        assert 0 <= previous_end <= f.start < f.end <= len(text)
        previous_end = f.end


BAD_INPUTS = [
    "",
    " ",
    "\n\n\t",
    "😀😀😀 call me 555 123 4567 🙏🏽👨‍👩‍👧",
    "\u200b\u200bjo\u200bhn.smith@gmail.com\u200d",
    "\x00\x01\x02 mail jane@x.org \x7f\x1b[31m",
    "<p>Call <b>Jake</b> at <a href='tel:2125550199'>212-555-0199</a></p><script>alert(1)</script>",
    "Меня зовут Иван, мой email ivan@mail.ru, телефон +7 912 345-67-89",
    "我叫王伟，电话 +86 138 0013 8000，邮箱 wangwei@163.com",
    "مرحبا اسمي أحمد و رقمي +971 50 123 4567",
    "Je m'appelle Amélie, j'habite 12 rue de Rivoli à Paris",
    "mixed ℌ𝔢𝔩𝔩𝔬 ｆｕｌｌｗｉｄｔｈ ５５５-１２３-４５６７ and \ud800 lone surrogate",
    "a" * 50_000,
    "@@@@ ### $$$ 1.2.3.4.5.6.7.8.9 ((((((( )))))) ----",
]


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_never_crashes_and_offsets_are_valid(scrubber, text):
    out, findings = scrubber.scrub_text(text)
    _assert_valid(text, findings)
    assert isinstance(out, str)
    for f in findings:  # the replaced span is gone from the output
        value = text[f.start : f.end]
        if len(value) > 4:
            assert value not in out


def test_pii_behind_zero_width_and_html_is_found(scrubber):
    out, findings = scrubber.scrub_text(BAD_INPUTS[4])
    assert [f.entity_type for f in findings] == ["EMAIL_ADDRESS"]
    assert "smith@gmail" not in out and "<EMAIL_ADDRESS_1>" in out
    out, _ = scrubber.scrub_text(BAD_INPUTS[6])
    assert "212-555-0199" not in out and "Jake" not in out
    out, _ = scrubber.scrub_text(BAD_INPUTS[7])
    assert "ivan@mail.ru" not in out and "345-67-89" not in out


@pytest.mark.slow
def test_one_megabyte_message_with_entities_on_chunk_borders(scrubber):
    config = scrubber.config
    step = config.chunk_chars - config.chunk_overlap
    filler = "the quick brown fox jumps over the lazy dog. "
    text = (filler * (1_050_000 // len(filler)))[:1_048_576]
    emails = []
    # an address across each of the first chunk borders: chunk ends, owned-region edges, chunk starts
    for k, border in enumerate(
        [config.chunk_chars, step + config.chunk_overlap // 2, 2 * step, 3 * step + 5, len(text) - 40]
    ):
        email = f"border{k}.person@gmail.com"
        at = border - len(email) // 2
        text = text[:at] + " " + email + " " + text[at + len(email) + 2 :]
        emails.append((email, at + 1))
    text = text[:1_048_576]
    out, findings = scrubber.scrub_text(text)
    found = [(text[f.start : f.end], f.start) for f in findings if f.entity_type == "EMAIL_ADDRESS"]
    assert sorted(found) == sorted(emails)
    _assert_valid(text, findings)
    assert not any(email in out for email, _ in emails)


def test_placeholders_are_consistent_across_turns_and_independent_across_conversations(scrubber):
    turns = [
        "hi, my name is Jake Peterson, email jake.p@gmail.com",
        "Nice to meet you, Jake! I'll remember jake.p@gmail.com",
        "my sister Emma says hi, and Jake says bye",
    ]
    a, b = scrubber.scrub([Conversation("a", turns), Conversation("b", [turns[2]])])
    assert a.texts[0] == "hi, my name is <PERSON_1>, email <EMAIL_ADDRESS_1>"
    assert a.texts[1] == "Nice to meet you, <PERSON_1>! I'll remember <EMAIL_ADDRESS_1>"
    assert a.texts[2] == "my sister <PERSON_2> says hi, and <PERSON_1> says bye"
    assert b.texts[0] == "my sister <PERSON_1> says hi, and <PERSON_2> says bye"
    assert a.counts == {"PERSON": 4, "EMAIL_ADDRESS": 2}


def test_surrogates_are_deterministic_and_read_naturally(surrogate_scrubber):
    conversation = Conversation(
        "conv-7", ["I'm Jake Peterson, call me at (212) 555-0199", "jake here again, my email is jake.p@gmail.com"]
    )
    first = surrogate_scrubber.scrub([conversation])[0]
    again = Scrubber(ScrubConfig(mode="surrogate")).scrub([conversation])[0]
    assert first.texts == again.texts
    assert "Jake" not in first.texts[0] and "<" not in first.texts[0]
    assert "jake.p@gmail.com" not in first.texts[1]
    other = surrogate_scrubber.scrub([Conversation("conv-8", conversation.texts)])[0]
    assert other.texts != first.texts


def test_character_and_persona_names_survive_but_the_users_name_does_not(scrubber):
    persona = "You are Luna, a moon witch. Your familiar is a cat named Mr. Whiskers and your mentor is Morgana."
    turns = [
        "hey luna!! how are you",
        "Luna, tell Morgana and Mr. Whiskers i said hi",
        "btw my name is Sarah Connor",
        "LUNA YOU'RE THE BEST",
    ]
    result = scrubber.scrub([Conversation("c", turns, "Luna", persona)])[0]
    assert result.texts[0] == turns[0]
    assert result.texts[1] == turns[1]
    assert result.texts[2] == "btw my name is <PERSON_1>"
    assert result.texts[3] == turns[3]
    # without the character record the same name is an ordinary name
    bare = scrubber.scrub([Conversation("c", ["Luna, tell Morgana i said hi"])])[0]
    assert "Morgana" not in bare.texts[0]


@pytest.mark.parametrize(
    "text,name",
    [
        ("my name is jake", "jake"),
        ("call me Priya lol", "Priya"),
        ("hi im jessica and i love cats", "jessica"),
        ("I'm Marcus Whitfield, nice to meet you", "Marcus Whitfield"),
    ],
)
def test_a_user_telling_their_name_is_scrubbed(scrubber, text, name):
    out, findings = scrubber.scrub_text(text)
    assert name not in out
    assert any(f.entity_type == "PERSON" for f in findings)


@pytest.mark.parametrize(
    "text,entity",
    [
        ("my card number is 1234 5678 9012 3456", "CREDIT_CARD"),  # fails Luhn: the context word decides
        ("my iban is DE12 3456 7890 1234 5678 90", "IBAN_CODE"),  # wrong check digits
        ("My SSN is 123-45-6789.", "US_SSN"),  # presidio rejects the famous example; the cue does not
        ("write to jane dot doe at mail dot ru", "EMAIL_ADDRESS"),
    ],
)
def test_made_up_identifiers_with_a_context_word_are_scrubbed(scrubber, text, entity):
    out, findings = scrubber.scrub_text(text)
    assert [f.entity_type for f in findings] == [entity]


@pytest.mark.parametrize(
    "text", ["my lucky numbers are 1234 5678 9012 3456", "the code is DE12 3456 7890 1234 5678 90"]
)
def test_checksum_failures_without_a_context_word_are_left_alone(scrubber, text):
    assert scrubber.scrub_text(text)[1] == []


def test_low_tier_is_kept_and_tier_actions_are_configurable(scrubber):
    text = "I moved to Chicago on March 3rd, my email is ann@gmail.com"
    out, findings = scrubber.scrub_text(text)
    assert "Chicago" in out and "March 3rd" in out and "ann@gmail.com" not in out
    assert [f.entity_type for f in findings] == ["EMAIL_ADDRESS"]
    config = ScrubConfig.model_validate(
        {
            "tiers": {
                "high": {"entities": ["EMAIL_ADDRESS"], "action": "redact"},
                "low": {"entities": ["LOCATION"], "action": "replace", "min_score": 0.5},
            }
        }
    )
    out, _ = Scrubber(config).scrub_text(text)
    assert out == "I moved to <LOCATION_1> on March 3rd, my email is [REDACTED]"


def test_hard_negatives_are_left_alone(scrubber):
    texts = [
        "order #48392019 shipped, tracking 1Z999AA10123456784",
        "it costs $1,299.99 and version 3.10.4 fixed it",
        "the meeting is on 2024-01-05 at 10:30pm in room 402",
        "I ran 5 miles down the road and watched Inception on Netflix",
        "ISBN 978-3-16-148410-0, page 42",
    ]
    for text in texts:
        out, findings = scrubber.scrub_text(text)
        assert out == text, findings


@pytest.mark.parametrize(
    "text",
    [
        "Hush, it will pass. Small steps help.",  # capitalized words at a sentence start
        "Ooh nice!! 🎉 Bookmarks are the way to go.",
        "Hmph, fine. Brown spots mean too much sun.",  # an interjection; a surname that is also a word
        "I love to edit photos and I hate jet lag",  # first names that are everyday words
        "Mamma mia, that pasta looks good",  # a set phrase
        "let me cook rice tonight",  # an everyday first name before a surname-word
        "Bill me later, I'll pay next week.",  # everyday-word names used as verbs, modals, nouns
        "Will you help me? Grace under pressure is hard.",
        "Mark my words, this will work.",
        "first time trying to learn barre chords, I'm stressed",  # a surname-word in a lower-case NER guess
        "summer is here and I love it",
        "my dad is rich and my sister is happy",  # "is" after a relation: no everyday word is a name
    ],
)
def test_everyday_words_are_not_names(scrubber, text):
    out, findings = scrubber.scrub_text(text)
    assert out == text, findings


@pytest.mark.parametrize(
    "text,name",
    [
        ("my cousin carolina is visiting", "carolina"),  # everyday-word name after a relation
        ("we met jordan kowalczyk at the gym", "jordan kowalczyk"),  # everyday-word name + surname
        ("please tell Crystal I'm sorry", "Crystal"),
        ("you can call me April", "April"),
        ("Grace called me yesterday", "Grace"),  # before a verb only people do
        ("Summer says hi!", "Summer"),
        ("anna kowalska said hi", "anna kowalska"),  # a surname in its feminine form
        ("my best friend is Lily and she has a dog", "Lily"),  # a relation with an adjective, then "is"
        ("my older brother tomasz is visiting", "tomasz"),
        ("we met Olu at the gym", "Olu"),  # an unknown capitalized name after a person cue
    ],
)
def test_names_that_are_also_words_are_scrubbed_with_evidence(scrubber, text, name):
    out, findings = scrubber.scrub_text(text)
    assert name not in out and [f.entity_type for f in findings] == ["PERSON"]


@pytest.mark.parametrize(
    "text,address",
    [
        ("send it to 14 rue des Lilas, 69003 Lyon please", "14 rue des Lilas, 69003 Lyon"),
        (
            "we live at 3 avenue Jean Jaurès, 33000 Saint-Médard-en-Jalles now",
            "3 avenue Jean Jaurès, 33000 Saint-Médard-en-Jalles",
        ),
        ("address: Alte Landstraße 12, 20095 Hamburg", "Alte Landstraße 12, 20095 Hamburg"),
        ("my office is 600 Harbor Parkways, Springfield, IL 62701", "600 Harbor Parkways, Springfield, IL 62701"),
    ],
)
def test_addresses_keep_their_postcode_and_town(scrubber, text, address):
    out, findings = scrubber.scrub_text(text)
    assert [(f.entity_type, text[f.start : f.end]) for f in findings] == [("STREET_ADDRESS", address)]


@pytest.mark.parametrize(
    "text,ssn",
    [
        ("social sec: 123.45.6789", "123.45.6789"),
        ("soc. sec. no. 219 09 9999", "219 09 9999"),  # "no." names the number, not an order number
        ("my ssn number: 536228890", "536228890"),
    ],
)
def test_ssns_after_any_spelling_of_the_cue(scrubber, text, ssn):
    _, findings = scrubber.scrub_text(text)
    assert [(f.entity_type, text[f.start : f.end]) for f in findings] == [("US_SSN", ssn)]


def test_an_ip_address_near_a_phone_word_is_an_ip_address(scrubber):
    text = "my phone says 10.0.12.254 is blocked"
    assert [f.entity_type for f in scrubber.scrub_text(text)[1]] == ["IP_ADDRESS"]


def test_missing_model_is_a_clear_error_and_never_a_download(monkeypatch):
    import spacy.cli

    from curation.scrub.detect import ModelNotInstalled, get_detector

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download a model")

    monkeypatch.setattr(spacy.cli, "download", no_download)
    with pytest.raises(ModelNotInstalled, match=r"pip install en-core-web-xl-missing"):
        get_detector(ScrubConfig(model="en_core_web_xl_missing"))


def test_record_batch_stage_function(scrubber):
    from curation.scrub.arrow import scrub_record_batch
    from lakehouse.schemas import CHARACTER, MESSAGE

    messages = [
        [
            {"role": "system", "content": "You are Luna.", "ts": None, "signals": None},
            {"role": "user", "content": "hi Luna, I'm Jake, jake@gmail.com", "ts": None, "signals": None},
            {
                "role": "assistant",
                "content": "Hello Jake!",
                "ts": None,
                "signals": {
                    "continued": True,
                    "thumb": 1,
                    "love": False,
                    "regenerated": False,
                    "reported": False,
                    "feedback": None,
                },
            },
        ],
        None,
        [
            {"role": "user", "content": None, "ts": None, "signals": None},
            {"role": "user", "content": "call 212-555-0199", "ts": None, "signals": None},
        ],
    ]
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["c1", "c2", "c3"]),
            pa.array(messages, pa.list_(MESSAGE)),
            pa.array(
                [{"character_id": "x", "name": "Luna", "description": None, "instructions": None}, None, None],
                CHARACTER,
            ),
        ],
        names=["conversation_id", "messages", "character"],
    )
    for source in (batch, pa.concat_batches([batch, batch]).slice(3, 3)):
        out = scrub_record_batch(source, scrubber=scrubber)
        assert out.schema.field("messages").type == batch.schema.field("messages").type
        rows = out.to_pylist()
        assert [m["content"] for m in rows[0]["messages"]] == [
            "You are Luna.",
            "hi Luna, I'm <PERSON_1>, <EMAIL_ADDRESS_1>",
            "Hello <PERSON_1>!",
        ]
        assert rows[0]["messages"][2]["signals"]["thumb"] == 1
        assert rows[1]["messages"] is None and rows[1]["pii_counts"] == []
        assert [m["content"] for m in rows[2]["messages"]] == [None, "call <PHONE_NUMBER_1>"]
        assert rows[0]["pii_counts"] == [
            {"entity_type": "EMAIL_ADDRESS", "count": 1},
            {"entity_type": "PERSON", "count": 2},
        ]


@pytest.mark.parametrize(
    "text,exempt,needed",
    [
        ("I'm Luna, by the way. Don't worry!", {"luna"}, False),  # contractions of stop words, the character
        ("I'm Luna, by the way.", set(), True),
        ("Small steps help. Ahoy, matey!", set(), False),  # sentence starts resolve.py discards anyway
        ("Grace, come here", set(), True),  # a known first name always needs the model
        ("we met Torhan at the gym", {"luna"}, True),
    ],
)
def test_ner_runs_only_where_a_kept_name_is_possible(scrubber, text, exempt, needed):
    assert scrubber.detector._needs_ner(text, frozenset(exempt)) is needed


def test_skipping_the_model_for_the_characters_name_changes_no_outcome(scrubber):
    from curation.scrub.replace import ConversationReplacer, apply
    from curation.scrub.resolve import resolve
    from curation.scrub.scrubber import Conversation

    persona = "Luna is an astronomer."
    texts = ["I'm Luna, by the way. Small steps help!", "thanks Luna, Torhan Yilmaz says hi", "Ahoy, Luna's here"]
    conversation = Conversation("c", texts, "Luna", persona)
    gated = scrubber.scrub([conversation])[0]
    ungated = scrubber.detect([*texts, persona])  # the model on every text
    allow = scrubber.allow_list(conversation, ungated)
    replacer = ConversationReplacer("c", scrubber.config.mode, scrubber.config.seed)
    assert gated.texts == [apply(t, resolve(t, ungated[t], scrubber.config, allow), replacer)[0] for t in texts]
    assert gated.texts[1] == "thanks Luna, <PERSON_1> says hi" and gated.texts[0] == texts[0]
