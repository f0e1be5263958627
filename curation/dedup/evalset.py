"""Labeled corpora for measuring dedup quality: real conversations, seeded edited copies, and the truth.

Originals are real conversations (hh-rlhf `chosen` transcripts, Synthetic-Persona-Chat) or the prompts
of their turn samples. A copy edits 1-10% of an original's words (insert, delete or replace, at random
positions, with words drawn from the corpus) and belongs to its original's group. Two originals are in
one group only when they are duplicates by the same definition: their word sequences (`edits.words`:
case and punctuation ignored) are within 10% word edits of each other, which for texts under ten words
means equal. Everything else, the shared openers, topics and persona traits included, is a negative.

hh-rlhf's `rejected` transcripts are left out: each repeats its `chosen` transcript but for the last
reply, so it would be a near-copy planted by the dataset rather than by traffic.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.dedup.edits import MAX_EDIT_RATE, words
from curation.dedup.normalize import normalize
from curation.dedup.units import Message, prompts_of, sample_prompts
from curation.ingest.adapters import Defaults, parse_hh_transcript, persona_chat

HH_FILE = "hh-rlhf-harmless-base-test-1500.jsonl.gz"
PERSONA_FILE = "synthetic-persona-chat-valid.csv"


@dataclass(frozen=True)
class Truth:
    """Which originals are duplicates of each other. `classes[i]` is original i's class of equal word
    sequences; `links` holds the pairs of classes (a < b) within 10% word edits of each other; `groups`
    are the connected components of those links."""

    classes: np.ndarray
    links: frozenset[tuple[int, int]]
    groups: np.ndarray

    def linked(self, a: int, b: int) -> bool:
        """Whether originals a and b are duplicates by the definition (not only through others)."""
        ca, cb = int(self.classes[a]), int(self.classes[b])
        return ca == cb or (min(ca, cb), max(ca, cb)) in self.links


def original_truth(texts: list[str], block_jaccard: float = 0.6, chunk: int = 1000) -> Truth:
    """Duplicate structure of the originals by the definition (within 10% word edits, case and
    punctuation ignored). Candidates come from exact word-set Jaccard (a sparse product, no MinHash),
    which any pair within 10% edits exceeds; the word edit distance then decides."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    class_of: dict[tuple[str, ...], int] = {}
    classes = np.array([class_of.setdefault(tuple(words(t)), len(class_of)) for t in texts])
    sequences = [list(seq) for seq in class_of]
    links = _within_edit_limit(sequences, block_jaccard, chunk)
    n = len(sequences)
    pairs = np.array(sorted(links), dtype=np.int64).reshape(-1, 2)
    graph = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    class_groups = connected_components(graph, directed=False)[1]
    return Truth(classes, frozenset(links), class_groups[classes])


def _within_edit_limit(sequences: list[list[str]], block_jaccard: float, chunk: int) -> set[tuple[int, int]]:
    """Pairs (a < b) of distinct word sequences within 10% word edits of the longer one."""
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, doc in enumerate(sequences):
        for token in set(doc):
            rows.append(i)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    n = len(sequences)
    x = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, max(1, len(vocabulary))))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    links = set()
    for start in range(0, n, chunk):
        inter = (x[start : start + chunk] @ x.T).tocoo()
        i, j = inter.row + start, inter.col
        union = sizes[i] + sizes[j] - inter.data
        keep = (i < j) & (inter.data >= block_jaccard * np.maximum(union, 1))
        for a, b in zip(i[keep].tolist(), j[keep].tolist(), strict=True):
            if within_edit_limit(sequences[a], sequences[b]):
                links.add((a, b))
    return links


@dataclass
class Corpus:
    """Documents, each an original or an edited copy of one (`origins[i]` is the index of document i's
    original among the originals, which come first), and the truth about the originals."""

    truth: Truth
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    edits: list[int] = field(default_factory=list)
    openers: list[str] = field(default_factory=list)  # the normalized first message

    def add(self, doc_id: str, text: str, origin: int, edits: int | None, opener: str, far: bool = False) -> None:
        """`edits` is None for an original, else the copy's number of word edits. A `far` copy is derived
        from its original but more than 10% of words apart from it: its pairs in its group are unscored."""
        self.ids.append(doc_id)
        self.texts.append(text)
        self.origins.append(origin)
        self.kinds.append("original" if edits is None else "far copy" if far else "copy")
        self.edits.append(edits or 0)
        self.openers.append(opener)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def groups(self) -> np.ndarray:
        return self.truth.groups[np.asarray(self.origins, dtype=np.int64)]


def load_hh(path: Path) -> list[list[Message]]:
    """The `chosen` transcript of each hh-rlhf line as (role, content) messages (the ingest adapter's parser)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [[(m["role"], m["content"]) for m in parse_hh_transcript(json.loads(line)["chosen"])] for line in fh]


def load_persona_chat(path: Path) -> list[list[Message]]:
    """Each conversation as the ingest adapter reads it: User 1 is the user, User 2 the character."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        [
            (m["role"], m["content"])
            for m in persona_chat(row, json.dumps(row).encode(), Defaults()).conversations[0]["messages"]
        ]
        for row in rows
    ]


def load_real(data_dir: Path) -> dict[str, list[list[Message]]]:
    return {"hh": load_hh(data_dir / HH_FILE), "persona": load_persona_chat(data_dir / PERSONA_FILE)}


def edit_words(
    messages: list[Message], rate: float, rng: random.Random, vocabulary: list[str]
) -> tuple[list[Message], int]:
    """Insert, delete or replace `floor(rate * words)` words (at least one when 10% of the words is at
    least one word), at random positions across the messages. Returns the copy and its edit count."""
    tokens = [(m, w) for m, (_, content) in enumerate(messages) for w in content.split()]
    allowed = math.floor(MAX_EDIT_RATE * len(tokens))
    edits = min(allowed, max(1, math.floor(rate * len(tokens)))) if allowed else 0
    for _ in range(edits):
        operation = rng.choice(("insert", "delete", "replace"))
        position = rng.randrange(len(tokens))
        owner = tokens[position][0]
        if operation == "insert":
            tokens.insert(position, (owner, rng.choice(vocabulary)))
        elif operation == "delete":
            del tokens[position]
        else:
            tokens[position] = (owner, rng.choice(vocabulary))
    contents: list[list[str]] = [[] for _ in messages]
    for owner, word in tokens:
        contents[owner].append(word)
    return [(role, " ".join(contents[m])) for m, (role, _) in enumerate(messages)], edits


def word_edit_distance(a: list[str], b: list[str], limit: int) -> int:
    """Levenshtein distance over words, or `limit + 1` as soon as it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


Original = tuple[str, str, list[Message]]  # (id, source, messages)
Render = Callable[[list[Message]], str]


def build_corpus(
    originals: list[Original],
    render: Render,
    seed: int,
    copy_rate: float = 0.5,
    second_copy_rate: float = 0.2,
    edit_rates: tuple[float, float] = (0.01, MAX_EDIT_RATE),
) -> Corpus:
    """The originals rendered to text, and seeded edited copies of some of them (edits act on the
    messages' words, so labels and message boundaries stay), each editing a share of words drawn
    uniformly from `edit_rates`."""
    rng = random.Random(seed)
    vocabulary = [w for _, _, messages in originals for _, content in messages for w in content.split()]
    texts = [render(messages) for _, _, messages in originals]
    corpus = Corpus(original_truth(texts))
    for origin, ((doc_id, _, messages), text) in enumerate(zip(originals, texts, strict=True)):
        corpus.add(doc_id, text, origin, None, _opener(messages))
    for origin, (doc_id, _, messages) in enumerate(originals):
        if rng.random() >= copy_rate:
            continue
        for c in range(2 if rng.random() < second_copy_rate else 1):
            edited, edits = edit_words(messages, rng.uniform(*edit_rates), rng, vocabulary)
            corpus.add(f"{doc_id}~copy{c + 1}", render(edited), origin, edits, _opener(messages))
    return corpus


def _opener(messages: list[Message]) -> str:
    return normalize(messages[0][1]) if messages else ""


def transcript(messages: list[Message]) -> str:
    """A transcript with speaker labels, the way a conversation is often exported as text."""
    labels = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n".join(f"{labels[role]}: {content}" for role, content in messages)


def single_text(messages: list[Message]) -> str:
    return messages[0][1]


def conversation_originals(real: dict[str, list[list[Message]]]) -> list[Original]:
    return [
        (f"{source}-{i:05d}", source, messages)
        for source, conversations in sorted(real.items())
        for i, messages in enumerate(conversations)
    ]


def prompt_originals(real: dict[str, list[list[Message]]]) -> list[Original]:
    """The prompt unit of every turn sample (see units.prompt_text), as one message to edit."""
    return [
        (f"{source}-{i:05d}:{turn}", source, [("user", text)])
        for source, conversations in sorted(real.items())
        for i, messages in enumerate(conversations)
        for turn, text in prompts_of(messages)
    ]


# Planted kinds that are whole-conversation copies of their `duplicate_of`. A spam_prompt conversation
# shares only its first user message (a copy at the prompt unit, not of the conversation); stock_opener
# conversations share a short opener and are hard negatives.
POSITIVE_KINDS = ("exact_copy", "edited_copy")


@dataclass(frozen=True)
class Planted:
    kind: str
    duplicate_of: str | None  # within the shard (null for the first spam prompt of a shard)
    group: str | None  # global: the original's id, `spam-NN` or `opener-NN`


SimulatedMessage = tuple[str, str, bool]  # (role, content, regenerated)


def load_simulated(folder: Path) -> tuple[dict[str, list[SimulatedMessage]], dict[str, Planted]]:
    """`flywheel simulate` output: the conversations of `traffic/*.jsonl.gz` ({conversation_id: messages})
    and what `truth.jsonl.gz` says was planted ({conversation_id: Planted})."""
    files = sorted((folder / "traffic").glob("*.jsonl*"))
    if not files or not (folder / "truth.jsonl.gz").exists():
        raise FileNotFoundError(f"{folder} is not `flywheel simulate` output (traffic/*.jsonl.gz and truth.jsonl.gz)")
    planted = {}
    with gzip.open(folder / "truth.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record.get("duplicate_kind"):
                planted[record["conversation_id"]] = Planted(
                    record["duplicate_kind"], record.get("duplicate_of"), record.get("duplicate_group")
                )
    conversations = {}
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                conversations[record["conversation_id"]] = [
                    (m["role"], m.get("content") or "", bool((m.get("signals") or {}).get("regenerated")))
                    for m in record["messages"]
                ]
    return conversations, planted


def planted_root(conversation_id: str, planted: dict[str, Planted]) -> str:
    """The conversation a planted copy (exact or edited) copies, following chains of copies; any other
    conversation is its own root."""
    seen = set()
    while (
        conversation_id in planted and planted[conversation_id].kind in POSITIVE_KINDS and conversation_id not in seen
    ):
        seen.add(conversation_id)
        conversation_id = planted[conversation_id].duplicate_of or conversation_id
    return conversation_id


def simulated_corpus(
    conversations: dict[str, list[SimulatedMessage]], planted: dict[str, Planted], render: Render
) -> Corpus:
    """The conversation unit: a planted copy (exact or edited) is a copy of the conversation its chain
    of `duplicate_of` ends at; every other conversation is an original (spam-prompt and stock-opener
    conversations included: the second are the hard negatives), duplicates among them by the definition."""
    pairs = {cid: [(role, content) for role, content, _ in messages] for cid, messages in conversations.items()}
    copies = {cid for cid, p in planted.items() if p.kind in POSITIVE_KINDS}
    original_ids = [cid for cid in sorted(pairs) if cid not in copies]
    texts = [render(pairs[cid]) for cid in original_ids]
    corpus = Corpus(original_truth(texts))
    index = {cid: i for i, cid in enumerate(original_ids)}
    for cid, text in zip(original_ids, texts, strict=True):
        corpus.add(cid, text, index[cid], None, _opener(pairs[cid]))
    for cid in sorted(copies & pairs.keys()):
        origin = index.get(planted_root(cid, planted))
        if origin is not None:
            corpus.add(cid, render(pairs[cid]), origin, 0, _opener(pairs[cid]))
    return corpus


def simulated_prompt_corpus(conversations: dict[str, list[SimulatedMessage]], planted: dict[str, Planted]) -> Corpus:
    """The prompt unit as the dedup stage builds it (units.sample_prompts: every user message with the
    turn before it, once per user message). A prompt of a planted copy is a copy of the same turn's prompt
    of the conversation it copies (its edits may fall unevenly, more than 10% in one prompt); every other
    prompt is an original, duplicates among them by the definition: spam prompts and stock openers are
    exact copies, templated prompts a few words apart are not."""
    prompts = {
        cid: [(turn, text) for turn, prompt_turn, text in sample_prompts(messages) if turn == prompt_turn]
        for cid, messages in conversations.items()
    }
    copies = {cid for cid, p in planted.items() if p.kind in POSITIVE_KINDS and cid in prompts}
    originals = [(f"{cid}:{turn}", text) for cid in sorted(prompts) if cid not in copies for turn, text in prompts[cid]]
    corpus = Corpus(original_truth([text for _, text in originals]))
    index = {doc_id: i for i, (doc_id, _) in enumerate(originals)}
    for i, (doc_id, text) in enumerate(originals):
        corpus.add(doc_id, text, i, None, "")
    for cid in sorted(copies):
        root = planted_root(cid, planted)
        for turn, text in prompts[cid]:
            origin = index.get(f"{root}:{turn}")
            if origin is not None:
                corpus.add(f"{cid}:{turn}", text, origin, 0, "", far=not within_limit(originals[origin][1], text))
    return corpus


def within_limit(a: str, b: str) -> bool:
    """Whether two texts are duplicates by the definition: within 10% word edits of the longer one."""
    return within_edit_limit(words(a), words(b))


def within_edit_limit(first: list[str], second: list[str]) -> bool:
    """Whether two word sequences are within 10% word edits of the longer one."""
    limit = math.floor(MAX_EDIT_RATE * max(len(first), len(second)))
    return word_edit_distance(first, second, limit) <= limit
