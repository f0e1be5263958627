"""The style-artifact registry (lakehouse.style_artifacts): each feature on replies that have it and replies that
do not, and the group comparison's flags."""

from __future__ import annotations

import pytest

from lakehouse import style_artifacts

WALL = " ".join(["word"] * 130)


@pytest.mark.parametrize(
    ("feature", "response", "expected"),
    [
        ("emoji_count", "Great \U0001f600\U0001f389 day \u2728", 3),
        ("emoji_count", "No emoji here.", 0),
        ("emoji_flood", "Yay \U0001f600\U0001f600\U0001f600\U0001f600", True),
        ("emoji_flood", "Yay \U0001f600", False),
        ("contains_list", "Try these:\n- bread\n- soup\n", True),
        ("contains_list", "Steps:\n1. mix\n2) bake", True),
        ("contains_list", "Just one - dash in a sentence.", False),
        ("length_tokens", "one two  three\nfour", 4),
        ("wall_of_text", WALL, True),
        ("wall_of_text", WALL[:200] + "\n\n" + WALL[200:], False),
        ("wall_of_text", "short reply", False),
        ("ends_with_question", "What do you think?", True),
        ("ends_with_question", "What do you think? \U0001f600", True),
        ("ends_with_question", 'He asked "why?"', True),
        ("ends_with_question", "I think so.", False),
        ("stock_opening", "As an AI, I cannot feel.", True),
        ("stock_opening", "  I feel like pizza.", True),
        ("stock_opening", "Pizza is great.", False),
        ("refusal", "I\u2019m sorry, but I can\u2019t help with that.", True),
        ("refusal", "I can help with that!", False),
        ("exclamation_density", "wow! so! good", 2 / 3),
        ("exclamation_density", "", 0.0),
    ],
)
def test_feature_values(feature, response, expected):
    assert style_artifacts.features(response)[feature] == pytest.approx(expected)


def test_repeats_user_uses_the_context():
    said = "tell me about your favourite old trains"
    assert style_artifacts.features(f"You said: {said.upper()}. Sure!", said)["repeats_user"] is True
    assert style_artifacts.features(f"You said: {said}.", "hi there")["repeats_user"] is False
    assert style_artifacts.features("Trains are great.", said)["repeats_user"] is False


def test_summarize_gives_rates_and_means():
    rows = [("", "Hi? \U0001f600"), ("", "Hello there friend."), ("", "Ok?")]
    summary = style_artifacts.summarize(rows)
    assert summary["ends_with_question"] == pytest.approx(2 / 3)
    assert summary["emoji_count"] == pytest.approx(1 / 3)
    assert summary["length_tokens"] == pytest.approx(6 / 3)
    assert style_artifacts.summarize([])["length_tokens"] == 0.0


def test_compare_flags_only_shifts_past_their_threshold():
    old = [("", "Nice. What do you like?")] * 10
    new = [("", "Nice \U0001f600\U0001f600\U0001f600\U0001f600! What do you like?")] * 10
    shifts = {s.feature: s for s in style_artifacts.compare(old, new)}
    assert shifts["emoji_flood"].flagged and shifts["emoji_flood"].change == pytest.approx(1.0)
    assert shifts["emoji_count"].flagged  # 0 -> 4 per reply, relative to the 0.5 floor
    assert not shifts["ends_with_question"].flagged
    assert not shifts["contains_list"].flagged
    assert "FLAG emoji_flood" in shifts["emoji_flood"].describe()


def test_compare_number_features_are_relative():
    old = [("", " ".join(["w"] * 50))] * 4
    slightly_longer = [("", " ".join(["w"] * 55))] * 4
    much_longer = [("", " ".join(["w"] * 70))] * 4
    assert not {s.feature: s for s in style_artifacts.compare(old, slightly_longer)}["length_tokens"].flagged
    shift = {s.feature: s for s in style_artifacts.compare(old, much_longer)}["length_tokens"]
    assert shift.flagged and shift.change == pytest.approx(0.4)


def test_compare_threshold_overrides_and_unknown_features():
    old = [("", "a")] * 10
    new = [("", "a?")] * 2 + [("", "a")] * 8
    assert {s.feature: s for s in style_artifacts.compare(old, new)}["ends_with_question"].flagged  # 0.2 > 0.10
    loose = {s.feature: s for s in style_artifacts.compare(old, new, {"ends_with_question": 0.3})}
    assert not loose["ends_with_question"].flagged and loose["ends_with_question"].threshold == 0.3
    with pytest.raises(KeyError, match="emojis"):
        style_artifacts.compare(old, new, {"emojis": 0.1})
