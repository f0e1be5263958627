"""Topic labels: each topic's most distinctive terms by class-based TF-IDF (c-TF-IDF, as in BERTopic).

All texts of a topic form one document; a term scores high when it is frequent in that topic and rare
across topics: tf(term, topic) * log(1 + average words per topic / frequency of the term in all topics).

Stop words are English's plus the words of chat itself (greetings, hedges, "tomorrow", "end of the month"):
they are frequent everywhere, but k-means over short chat messages happily makes a topic of "maybe it
depends", and c-TF-IDF would then name it by its fillers. Removing them leaves the words a topic is about.
"""

from __future__ import annotations

import numpy as np

# Part of the cluster stage's ledger key: a lake labelled by an earlier labeler is relabelled on the next run.
LABELER_VERSION = 2

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

# Words of conversation rather than of a subject: greetings and thanks, hedges and intensifiers, time
# words, pronoun-like fillers and the commonest chat verbs. A topic made of them has no subject to name.
CHAT_FILLERS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "howdy",
        "bye",
        "goodbye",
        "thanks",
        "thank",
        "thx",
        "ty",
        "welcome",
        "please",
        "sorry",
        "ok",
        "okay",
        "okey",
        "alright",
        "yeah",
        "yes",
        "yep",
        "yup",
        "nope",
        "nah",
        "no",
        "oh",
        "ooh",
        "ah",
        "ahh",
        "aw",
        "aww",
        "wow",
        "whoa",
        "um",
        "umm",
        "uh",
        "hmm",
        "hm",
        "huh",
        "lol",
        "lmao",
        "haha",
        "hahaha",
        "hehe",
        "omg",
        "btw",
        "idk",
        "imo",
        "tbh",
        "ya",
        "yo",
        "sure",
        "maybe",
        "perhaps",
        "probably",
        "possibly",
        "definitely",
        "certainly",
        "absolutely",
        "really",
        "actually",
        "basically",
        "literally",
        "totally",
        "honestly",
        "seriously",
        "pretty",
        "quite",
        "kinda",
        "sorta",
        "just",
        "still",
        "even",
        "depends",
        "depend",
        "depending",
        "guess",
        "suppose",
        "think",
        "thought",
        "know",
        "knew",
        "want",
        "wanted",
        "wants",
        "need",
        "needs",
        "like",
        "liked",
        "likes",
        "love",
        "lol",
        "feel",
        "feeling",
        "felt",
        "sounds",
        "sound",
        "sounded",
        "mean",
        "means",
        "meant",
        "say",
        "said",
        "says",
        "tell",
        "told",
        "ask",
        "asked",
        "let",
        "lets",
        "make",
        "made",
        "get",
        "gets",
        "got",
        "getting",
        "go",
        "goes",
        "going",
        "gone",
        "went",
        "come",
        "came",
        "coming",
        "gonna",
        "wanna",
        "gotta",
        "try",
        "trying",
        "tried",
        "see",
        "seen",
        "saw",
        "look",
        "looks",
        "looking",
        "way",
        "ways",
        "thing",
        "things",
        "stuff",
        "lot",
        "lots",
        "bit",
        "kind",
        "sort",
        "good",
        "great",
        "nice",
        "cool",
        "fine",
        "awesome",
        "amazing",
        "bad",
        "better",
        "best",
        "right",
        "wrong",
        "true",
        "sure",
        "glad",
        "happy",
        "fun",
        "today",
        "tomorrow",
        "tonight",
        "yesterday",
        "morning",
        "evening",
        "night",
        "day",
        "days",
        "week",
        "weeks",
        "weekend",
        "month",
        "months",
        "year",
        "years",
        "time",
        "times",
        "moment",
        "soon",
        "later",
        "now",
        "ago",
        "end",
        "start",
        "did",
        "does",
        "doing",
        "done",
        "use",
        "used",
        "having",
    ]
)


def topic_labels(texts: list[str], labels: np.ndarray, terms: int = 4) -> dict[int, str]:
    """A label per topic id: its top terms joined by ", " (a bigram replaces its own words)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    topics = sorted(set(labels.tolist()))
    documents = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == topic) for topic in topics]
    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | _CONTRACTION_PARTS | CHAT_FILLERS),
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


# A bigram scoring at least this share of a word it contains replaces that word ("golden retriever"
# rather than "golden"): as frequent, and it says more.
BIGRAM_SHARE = 0.8


def _top_terms(scores: np.ndarray, vocabulary: np.ndarray, terms: int) -> str:
    chosen: dict[str, float] = {}
    for index in np.lexsort((vocabulary, -scores)):
        term, score = str(vocabulary[index]), float(scores[index])
        if score <= 0 or (len(chosen) == terms and score < BIGRAM_SHARE * min(chosen.values())):
            break
        words = set(term.split())
        overlapping = [other for other in chosen if words & set(other.split())]
        if not overlapping:
            if len(chosen) < terms:
                chosen[term] = score
        elif len(words) > 1 and all(
            len(other.split()) == 1 and score >= BIGRAM_SHARE * chosen[other] for other in overlapping
        ):
            chosen = {(term if other in overlapping else other): value for other, value in chosen.items()}
            chosen[term] = score
    return ", ".join(dict.fromkeys(chosen))


def representative_messages(
    texts: list[str], labels: np.ndarray, centroid_similarity: np.ndarray, per_topic: int = 3
) -> dict[int, list[str]]:
    """Up to `per_topic` distinct messages per topic, nearest its centroid first: what a reader checks a
    label against (terms alone can mislead; three real messages rarely do)."""
    order = np.lexsort((np.asarray(texts, dtype=object).astype(str), -np.asarray(centroid_similarity)))
    examples: dict[int, list[str]] = {int(t): [] for t in np.unique(labels)}
    for index in order:
        chosen = examples[int(labels[index])]
        if len(chosen) < per_topic and texts[index] not in chosen:
            chosen.append(texts[index])
    return examples
