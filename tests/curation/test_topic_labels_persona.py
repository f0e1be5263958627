"""Topic labels name the topic, measured on Synthetic-Persona-Chat (../shared/data), not on our own traffic.

Topics: k-means over the TF-IDF vectors of 1,000 conversations (a clustering independent of the labeler,
cheap enough for CI). Labels: curation.cluster.labels over the topic's messages, as the cluster stage does.
The subject of a topic comes from data the project did not write: the persona facts of its conversations
("I have two dogs", "I love to bake cookies"). A label word names the subject when at least 20% of the
topic's conversations have it in their persona facts and at least twice as often as conversations overall;
filler words ("depends", "maybe", "tomorrow") never do.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from curation.cluster.labels import CHAT_FILLERS, representative_messages, topic_labels

TOPICS = 20


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


@pytest.fixture(scope="module")
def persona_topics(persona_chat_path):
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    with open(persona_chat_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    conversations, facts = [], []
    for row in rows:
        lines = row["Best Generated Conversation"].splitlines()
        conversations.append([re.sub(r"^User [12]:\s*", "", line).strip() for line in lines if line.strip()])
        persona = f"{row['user 1 personas']}\n{row['user 2 personas']}".lower()
        facts.append({_stem(w) for w in re.findall(r"[a-z]+", persona)})
    vectors = TfidfVectorizer(stop_words="english", min_df=2).fit_transform(" ".join(c) for c in conversations)
    topic_of = KMeans(TOPICS, n_init=2, random_state=0).fit_predict(vectors)
    texts = [m for c in conversations for m in c]
    labels = np.array([topic_of[i] for i, c in enumerate(conversations) for _ in c])
    return texts, labels, topic_of, facts


def _names_subject(term: str, members: list[int], facts: list[set[str]]) -> bool:
    for word in {_stem(w) for w in term.split()}:
        inside = np.mean([word in facts[i] for i in members])
        overall = np.mean([word in f for f in facts])
        if inside >= 0.2 and inside >= 2 * overall:
            return True
    return False


def _subject_scores(names: dict[int, str], topic_of, facts) -> tuple[float, float]:
    """(share of topics whose label has a subject word, mean share of a label's terms that are)."""
    named, shares = 0, []
    for topic, name in names.items():
        members = [i for i, t in enumerate(topic_of) if t == topic]
        terms = [t for t in name.split(", ") if t]
        hits = [_names_subject(t, members, facts) for t in terms]
        named += any(hits)
        shares.append(sum(hits) / max(len(terms), 1))
    return named / len(names), float(np.mean(shares))


def test_most_persona_chat_labels_name_their_conversations_persona_subject(persona_topics):
    texts, labels, topic_of, facts = persona_topics
    names = topic_labels(texts, labels)
    named, term_share = _subject_scores(names, topic_of, facts)
    assert named >= 0.8, names
    assert term_share >= 0.55, names


def test_labels_carry_no_chat_filler_and_beat_a_labeler_that_keeps_fillers(persona_topics, monkeypatch):
    texts, labels, topic_of, facts = persona_topics
    names = topic_labels(texts, labels)
    words = {w for name in names.values() for term in name.split(", ") for w in term.split()}
    assert not words & CHAT_FILLERS
    monkeypatch.setattr("curation.cluster.labels.CHAT_FILLERS", frozenset())
    with_fillers = topic_labels(texts, labels)
    assert _subject_scores(names, topic_of, facts)[1] > _subject_scores(with_fillers, topic_of, facts)[1]


def test_bigrams_survive_as_labels():
    texts = ["my golden retriever loves the park", "golden retriever puppies shed a lot"] * 3
    texts += ["the stock market fell today", "stock market crash again"] * 3
    names = topic_labels(texts, np.array([0] * 6 + [1] * 6), terms=2)
    assert "golden retriever" in names[0] and "stock market" in names[1]


def test_representative_messages_are_the_nearest_distinct_ones_per_topic():
    texts = ["a", "b", "b", "c", "d", "e"]
    labels = np.array([0, 0, 0, 0, 1, 1])
    similarity = np.array([0.5, 0.9, 0.9, 0.7, 0.1, 0.2])
    examples = representative_messages(texts, labels, similarity, per_topic=2)
    assert examples == {0: ["b", "c"], 1: ["e", "d"]}
