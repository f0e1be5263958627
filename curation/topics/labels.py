"""Topic labels: each topic's most distinctive terms by class-based TF-IDF (c-TF-IDF, as in BERTopic).

All texts of a topic form one document; a term scores high when it is frequent in that topic and rare
across topics: tf(term, topic) * log(1 + average words per topic / frequency of the term in all topics).
"""

from __future__ import annotations

import numpy as np

# Fragments the token pattern leaves from contractions ("I've" -> "ve"), on top of English stop words.
_CONTRACTION_PARTS = {
    "ve",
    "ll",
    "re",
    "don",
    "didn",
    "doesn",
    "isn",
    "wasn",
    "aren",
    "won",
    "couldn",
    "wouldn",
    "shouldn",
    "haven",
    "hasn",
    "im",
    "ive",
    "dont",
}


def topic_labels(texts: list[str], labels: np.ndarray, terms: int = 4) -> dict[int, str]:
    """A label per topic id: its top terms joined by ", " (a bigram replaces its own words)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    topics = sorted(set(labels.tolist()))
    documents = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == topic) for topic in topics]
    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | _CONTRACTION_PARTS),
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
    )
    try:
        counts = vectorizer.fit_transform(documents).astype(np.float64)
    except ValueError:  # no term at all (only stop words or empty texts)
        return dict.fromkeys(topics, "")
    vocabulary = vectorizer.get_feature_names_out()
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    average = counts.sum() / len(topics)
    idf = np.log1p(average / np.maximum(np.asarray(counts.sum(axis=0)).ravel(), 1))
    scores = tf.multiply(idf).tocsr()
    return {topic: _top_terms(scores.getrow(i).toarray().ravel(), vocabulary, terms) for i, topic in enumerate(topics)}


def _top_terms(scores: np.ndarray, vocabulary: np.ndarray, terms: int) -> str:
    chosen: list[str] = []
    for index in np.lexsort((vocabulary, -scores)):
        if scores[index] <= 0 or len(chosen) == terms:
            break
        term = str(vocabulary[index])
        words = set(term.split())
        if any(words <= set(other.split()) or set(other.split()) <= words for other in chosen):
            continue
        chosen.append(term)
    return ", ".join(chosen)
