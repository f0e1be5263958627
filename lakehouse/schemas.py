"""Explicit Arrow schemas of the lake's tables (docs/architecture.md: The traffic record, The lake).

Every table is written with one of these schemas, never with a schema inferred from the first batch.
Partition columns (`day`) are not stored inside the files: they live in the Hive directory names
(`day=2026-11-01/`) and readers (DuckDB, pyarrow.dataset) add them back.
"""

from __future__ import annotations

import pyarrow as pa

ROLES = ("system", "user", "assistant")
SOURCES = ("user", "internal")
UTC_TS = pa.timestamp("us", tz="UTC")

SIGNALS = pa.struct(
    [
        ("continued", pa.bool_()),
        ("thumb", pa.int8()),
        ("love", pa.bool_()),
        ("regenerated", pa.bool_()),
        ("reported", pa.bool_()),
        ("feedback", pa.string()),
    ]
)

MESSAGE = pa.struct(
    [
        ("role", pa.string()),
        ("content", pa.string()),
        ("ts", UTC_TS),
        ("signals", SIGNALS),
    ]
)

CHARACTER = pa.struct(
    [
        ("character_id", pa.string()),
        ("name", pa.string()),
        ("description", pa.string()),
        ("instructions", pa.string()),
    ]
)

EXPERIMENT = pa.struct([("experiment_id", pa.string()), ("arm", pa.string())])

# Where a bronze row came from: enough to find the original bytes again.
ORIGIN = pa.struct(
    [
        ("run_id", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("format", pa.string()),
    ]
)

CONVERSATION_FIELDS = [
    pa.field("conversation_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("started_at", UTC_TS, nullable=False),
    pa.field("user_id", pa.string()),
    pa.field("character", CHARACTER),
    pa.field("model_version", pa.string()),
    pa.field("experiment", EXPERIMENT),
    pa.field("app", pa.string()),
    pa.field("locale", pa.string()),
    pa.field("messages", pa.list_(MESSAGE), nullable=False),
]

# bronze/conversations: normalized traffic as ingested (raw text; user ids already pseudonymized).
BRONZE_CONVERSATIONS = pa.schema(
    CONVERSATION_FIELDS
    + [
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("origin", ORIGIN),
        # where started_at came from: `record` (the input carried it), `ingest_time` (a format without
        # timestamps: the time of the ingest run) or `recipe` (the ingest stage's `started_at` setting)
        pa.field("started_at_from", pa.string()),
    ]
)

# silver/conversations: the bronze rows with personal data replaced in every message, and how many
# entities of each type were replaced (never the values).
PII_COUNTS = pa.list_(pa.struct([("entity_type", pa.string()), ("count", pa.int32())]))
SILVER_CONVERSATIONS = BRONZE_CONVERSATIONS.append(pa.field("pii_counts", PII_COUNTS))

# meta/processed_files: which input files a file-to-file stage has turned into which output files,
# under which config; the stage's ledger for incremental reruns.
PROCESSED_FILES = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("output_files", pa.list_(pa.string()), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("processed_at", UTC_TS, nullable=False),
    ]
)

# quarantine: every rejected input record, with its raw bytes and the reason.
QUARANTINE = pa.schema(
    [
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("format", pa.string()),
        pa.field("raw", pa.binary()),  # the record's bytes, the first 1 MiB of a larger one
        pa.field("raw_size", pa.int64()),  # the record's full size in bytes
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("quarantined_at", UTC_TS, nullable=False),
    ]
)

# bronze/exposures: who was exposed to which experiment arm, for A/B analysis.
EXPOSURES = pa.schema(
    [
        pa.field("experiment_id", pa.string(), nullable=False),
        pa.field("arm", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("exposed_at", UTC_TS, nullable=False),
        pa.field("origin", ORIGIN),
    ]
)

# bronze/preference_pairs: pairs that arrive as pairs (hh-rlhf). Both sides are ordinary conversations;
# they share every message before `turn` and differ in the assistant message at `turn`.
PREFERENCE_PAIRS = pa.schema(
    [
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("chosen_conversation_id", pa.string(), nullable=False),
        pa.field("rejected_conversation_id", pa.string(), nullable=False),
        pa.field("turn", pa.int32(), nullable=False),
        pa.field("started_at", UTC_TS, nullable=False),
        pa.field("origin", ORIGIN),
    ]
)

# meta/ingested_files: the ledger that makes re-ingesting the same file a no-op.
INGESTED_FILES = pa.schema(
    [
        pa.field("file_sha256", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("accepted", pa.int64(), nullable=False),
        pa.field("quarantined", pa.int64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_TS, nullable=False),
    ]
)

# The label store's Parquet snapshots (labels/labels, labels/tasks, labels/consensus). The store itself is
# SQLite (docs/architecture.md, Labels); these are rewritten whole by `flywheel label snapshot` and documented in
# docs/labeling.md.
CHAT_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
CANDIDATE = pa.struct(
    [
        ("sample_id", pa.string()),
        ("text", pa.string()),
        ("model_version", pa.string()),
        ("origin", pa.string()),
    ]
)
ANSWER = pa.struct([("question", pa.string()), ("answer", pa.string())])

LABEL_TASKS = pa.schema(
    [
        pa.field("task_id", pa.int64(), nullable=False),
        pa.field("queue_id", pa.int64(), nullable=False),
        pa.field("queue", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("item_key", pa.string(), nullable=False),
        pa.field("per_item", pa.int32(), nullable=False),
        pa.field("n_labels", pa.int32(), nullable=False),
        pa.field("n_skips", pa.int32(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
        pa.field("character_id", pa.string()),
        pa.field("character_name", pa.string()),
        pa.field("conversation_id", pa.string()),
        pa.field("turn", pa.int32()),
        pa.field("source", pa.string()),
        pa.field("prompt", pa.list_(CHAT_MESSAGE)),
        pa.field("candidates", pa.list_(CANDIDATE)),
    ]
)

LABELS = pa.schema(
    [
        pa.field("label_id", pa.int64(), nullable=False),
        pa.field("task_id", pa.int64(), nullable=False),
        pa.field("queue_id", pa.int64(), nullable=False),
        pa.field("queue", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("item_key", pa.string(), nullable=False),
        pa.field("annotator", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("adjudication", pa.bool_(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
        pa.field("seconds", pa.float64()),
        pa.field("guideline_version", pa.string(), nullable=False),
        pa.field("question_set_version", pa.string()),
        pa.field("side_a", pa.int8()),
        pa.field("side_b", pa.int8()),
        pa.field("choice", pa.string()),
        pa.field("preferred", pa.int8()),
        pa.field("tie", pa.bool_()),
        pa.field("strength", pa.string()),
        pa.field("answers", pa.list_(ANSWER)),
        pa.field("score", pa.int16()),
        pa.field("rewrite", pa.string()),
        pa.field("rewrite_changed", pa.bool_()),
        pa.field("diff", pa.string()),
        pa.field("note", pa.string()),
        pa.field("value", pa.string(), nullable=False),
    ]
)

LABEL_CONSENSUS = pa.schema(
    [
        pa.field("queue_id", pa.int64(), nullable=False),
        pa.field("queue", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("task_id", pa.int64(), nullable=False),
        pa.field("item_key", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answer", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("n_annotators", pa.int32(), nullable=False),
        pa.field("n_agreeing", pa.int32(), nullable=False),
        pa.field("agreement", pa.float64(), nullable=False),
        pa.field("queue_alpha", pa.float64()),
        pa.field("adjudicated", pa.bool_(), nullable=False),
        pa.field("kept", pa.bool_(), nullable=False),
        pa.field("tie", pa.bool_()),
        pa.field("strength", pa.string()),
        pa.field("prompt", pa.list_(CHAT_MESSAGE)),
        pa.field("sample_id", pa.string()),
        pa.field("response", pa.string()),
        pa.field("chosen", pa.string()),
        pa.field("rejected", pa.string()),
        pa.field("chosen_sample_id", pa.string()),
        pa.field("rejected_sample_id", pa.string()),
        pa.field("rewriter", pa.string()),
        pa.field("character_id", pa.string()),
        pa.field("guideline_version", pa.string(), nullable=False),
        pa.field("question_set_version", pa.string()),
    ]
)


# attributes/style_features: every style-artifact feature (lakehouse.style_artifacts.FEATURES) of one reply in
# its context, computed once per distinct (context, reply) and keyed by `text_key` = md5 of the UTF-8 text
# context + "\x00" + reply (DuckDB: md5(context || chr(0) || reply)).
def _style_features() -> pa.Schema:
    from lakehouse.style_artifacts import FEATURES

    fields = [pa.field("text_key", pa.string(), nullable=False)]
    fields += [pa.field(name, pa.bool_() if f.kind == "bool" else pa.float64()) for name, f in FEATURES.items()]
    return pa.schema(fields)


STYLE_FEATURES = _style_features()


# --- Training, generation and offline evaluation (train/) ---

# attributes/candidates: K sampled replies per prompt of a prompt release, one row per reply.
CANDIDATES = pa.schema(
    [
        pa.field("generation_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("model_run_id", pa.string()),
        pa.field("prompts_release", pa.string(), nullable=False),
        pa.field("split", pa.string()),
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("candidate", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("new_tokens", pa.int32(), nullable=False),
        pa.field("finished", pa.bool_(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)

# meta/generations: one row per `flywheel train generate` (or per side of an eval): what was sampled, how, how fast.
GENERATIONS = pa.schema(
    [
        pa.field("generation_id", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("model_run_id", pa.string()),
        pa.field("prompts_release", pa.string(), nullable=False),
        pa.field("prompts_content_hash", pa.string(), nullable=False),
        pa.field("split", pa.string()),
        pa.field("n", pa.int32(), nullable=False),
        pa.field("max_new_tokens", pa.int32(), nullable=False),
        pa.field("temperature", pa.float64(), nullable=False),
        pa.field("top_p", pa.float64(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("batch_size", pa.int32(), nullable=False),
        pa.field("prompts", pa.int64(), nullable=False),
        pa.field("candidates", pa.int64(), nullable=False),
        pa.field("new_tokens", pa.int64(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("tokens_per_second", pa.float64(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)

# attributes/reward_scores: one reward per (generation, candidate) and reward model.
REWARD_SCORES = pa.schema(
    [
        pa.field("generation_id", pa.string(), nullable=False),
        pa.field("reward_model", pa.string(), nullable=False),
        pa.field("reward_model_run_id", pa.string()),
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("candidate", pa.int32(), nullable=False),
        pa.field("reward", pa.float64(), nullable=False),
        pa.field("scored_at", UTC_TS, nullable=False),
    ]
)

# The releases that went into a checkpoint, its own and those of every model it was trained from.
ANCESTOR = pa.struct(
    [
        ("run_id", pa.string()),
        ("kind", pa.string()),
        ("release", pa.string()),
        ("release_content_hash", pa.string()),
        ("depth", pa.int32()),
    ]
)

# meta/models: one row per training run (`flywheel train ...`); the checkpoint's lineage.json, as a row.
MODELS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("output_dir", pa.string(), nullable=False),
        pa.field("release", pa.string(), nullable=False),
        pa.field("release_name", pa.string(), nullable=False),
        pa.field("release_version", pa.int32(), nullable=False),
        pa.field("release_type", pa.string(), nullable=False),
        pa.field("release_content_hash", pa.string(), nullable=False),
        pa.field("base_model", pa.string(), nullable=False),
        pa.field("base_model_run_id", pa.string()),
        pa.field("ref_model", pa.string()),
        pa.field("config", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
        pa.field("code_version", pa.string(), nullable=False),
        pa.field("packages", pa.map_(pa.string(), pa.string())),
        pa.field("metrics", pa.map_(pa.string(), pa.float64())),
        pa.field("lora", pa.bool_(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("train_rows", pa.int64(), nullable=False),
        pa.field("steps", pa.int64(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("weights_sha256", pa.string(), nullable=False),
        pa.field("ancestry", pa.list_(ANCESTOR), nullable=False),
        pa.field("started_at", UTC_TS, nullable=False),
        pa.field("finished_at", UTC_TS, nullable=False),
    ]
)

ARTIFACT_SHIFT = pa.struct(
    [
        ("feature", pa.string()),
        ("kind", pa.string()),
        ("old", pa.float64()),
        ("new", pa.float64()),
        ("change", pa.float64()),
        ("threshold", pa.float64()),
        ("flagged", pa.bool_()),
    ]
)

WIN_RATE = pa.struct(
    [
        ("source", pa.string()),
        ("n", pa.int64()),
        ("wins", pa.int64()),
        ("ties", pa.int64()),
        ("losses", pa.int64()),
        ("win_rate", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
    ]
)

# meta/evals: one row per `flywheel eval model`: reward win rate of a new model over an old one, the guardrail
# flags and the style-artifact shifts.
EVALS = pa.schema(
    [
        pa.field("eval_id", pa.string(), nullable=False),
        pa.field("new_model", pa.string(), nullable=False),
        pa.field("new_model_run_id", pa.string()),
        pa.field("old_model", pa.string(), nullable=False),
        pa.field("old_model_run_id", pa.string()),
        pa.field("reward_model", pa.string(), nullable=False),
        pa.field("reward_model_run_id", pa.string()),
        pa.field("prompts_release", pa.string(), nullable=False),
        pa.field("prompts_content_hash", pa.string(), nullable=False),
        pa.field("new_generation_id", pa.string(), nullable=False),
        pa.field("old_generation_id", pa.string(), nullable=False),
        pa.field("n_prompts", pa.int64(), nullable=False),
        pa.field("win_rate", pa.float64(), nullable=False),
        pa.field("ci_low", pa.float64(), nullable=False),
        pa.field("ci_high", pa.float64(), nullable=False),
        pa.field("win_rate_user", pa.float64()),
        pa.field("win_rate_internal", pa.float64()),
        pa.field("source_gap", pa.float64()),
        pa.field("by_source", pa.list_(WIN_RATE), nullable=False),
        pa.field("artifacts", pa.list_(ARTIFACT_SHIFT), nullable=False),
        pa.field("flags", pa.list_(pa.string()), nullable=False),
        pa.field("settings", pa.string(), nullable=False),
        pa.field("report_path", pa.string(), nullable=False),
        pa.field("code_version", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)


# --- Dedup, embeddings, topics and sampling (curation/stages: dedup, embed, cluster, sample) ---

# attributes/dedup_conversations: the conversation unit (all message contents but system messages). A
# cluster is named by its representative (earliest started_at, then smallest id); `similarity` is the
# MinHash estimate of word-bigram Jaccard to it (1.0 for the same normalized text), so a stricter
# threshold is a filter (`is_representative OR similarity < 0.8`), not a recomputation.
DEDUP_CONVERSATIONS = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("norm_hash", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("is_representative", pa.bool_(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
    ]
)

# attributes/dedup_prompts: the prompt unit (a user message with the turn before it), one row per turn
# sample. Every reply to one user message (a reply and its regenerations) shares one prompt: `prompt_id`
# is the sample id of the first of them, and the cluster and flags are the prompt's. `scope` is what
# prompts were compared within (the character id, or null: no character / global).
DEDUP_PROMPTS = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("scope", pa.string()),
        pa.field("norm_hash", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("is_representative", pa.bool_(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
    ]
)

# attributes/embeddings: the embedding cache, append-only, keyed by (text_hash, model); text_hash is the
# md5 of the UTF-8 text (DuckDB's md5()). Parquet stores the fixed-size list as a list, so DuckDB reads
# FLOAT[]: the catalog's `embeddings` view casts it to FLOAT[384] for array_cosine_similarity.
EMBEDDING_DIM = 384
EMBEDDINGS = pa.schema(
    [
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32(), EMBEDDING_DIM), nullable=False),
    ]
)

# attributes/topics: one row per turn sample with a user message: the topic of its last user message
# (k-means over the embeddings of the distinct messages), and semantic pruning inside the topic:
# `semantic_similarity` is the message's highest cosine similarity to an earlier one of its topic (1.0
# when an earlier sample has the same message), so another pruning threshold is a filter.
TOPICS = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("topic_cluster", pa.int32(), nullable=False),
        pa.field("topic_label", pa.string(), nullable=False),
        pa.field("centroid_similarity", pa.float32(), nullable=False),
        pa.field("is_semantic_representative", pa.bool_(), nullable=False),
        pa.field("semantic_duplicate_of", pa.string()),
        pa.field("semantic_similarity", pa.float32(), nullable=False),
    ]
)

# attributes/topic_labels: one row per topic: its label (most distinctive terms), turn samples, distinct
# messages and semantic representatives.
TOPIC_LABELS = pa.schema(
    [
        pa.field("topic_cluster", pa.int32(), nullable=False),
        pa.field("topic_label", pa.string(), nullable=False),
        pa.field("samples", pa.int64(), nullable=False),
        pa.field("texts", pa.int64(), nullable=False),
        pa.field("semantic_representatives", pa.int64(), nullable=False),
    ]
)

# attributes/topic_examples: each topic's representative messages (nearest its centroid first, rank 1..3):
# what a reader checks a topic's label against. The `topic_labels` view lists them as `examples`.
TOPIC_EXAMPLES = pa.schema(
    [
        pa.field("topic_cluster", pa.int32(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)

# attributes/sample: the diverse sample: every candidate turn sample with its raked weight, its place in
# the seeded weighted draw (-1: never drawn) and whether it was selected; `strata` names its values.
SAMPLE = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("selected", pa.bool_(), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("draw_rank", pa.int64(), nullable=False),
        pa.field("strata", pa.string(), nullable=False),
    ]
)

# attributes/sample_report: achieved vs target share of every stratum value of the last sample.
SAMPLE_REPORT = pa.schema(
    [
        pa.field("stratum", pa.string(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("available", pa.int64(), nullable=False),
        pa.field("target_share", pa.float64(), nullable=False),
        pa.field("selected", pa.int64(), nullable=False),
        pa.field("achieved_share", pa.float64(), nullable=False),
    ]
)

# --- Safety (curation/stages/safety.py; docs/safety.md) ---

# One classifier's verdict on one message: its name in the recipe (`profanity`, `hf:<dir>`), the score
# (the probability of the unsafe labels) and whether it reached that classifier's threshold.
SAFETY_SCORE = pa.struct([("classifier", pa.string()), ("score", pa.float32()), ("flagged", pa.bool_())])

# attributes/safety: one row per scored message (the roles the recipe names) of the text layer, keyed by
# conversation id and message index (`turn`, as in `samples`). The scores stay beside the decision, so a
# stricter threshold is a filter (`list_filter(scores, lambda s: s.score >= 0.9)`), not a recomputation;
# `flagged` is true when any classifier flagged the message.
SAFETY = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("turn", pa.int32(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("scores", pa.list_(SAFETY_SCORE), nullable=False),
        pa.field("flagged", pa.bool_(), nullable=False),
    ]
)

# --- A/B analysis (curation/ab; docs/ab.md) ---

# meta/ab_experiments: one row per `flywheel ab report` run: the experiment, its window, exposed users per
# arm and the sample-ratio check. meta/ab_results: one row per (report, metric).
AB_EXPERIMENTS = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("experiment_id", pa.string(), nullable=False),
        pa.field("control", pa.string(), nullable=False),
        pa.field("test", pa.string(), nullable=False),
        pa.field("window_start", UTC_TS, nullable=False),
        pa.field("window_end", UTC_TS, nullable=False),
        pa.field("exposed_control", pa.int64(), nullable=False),
        pa.field("exposed_test", pa.int64(), nullable=False),
        pa.field("expected_split", pa.float64(), nullable=False),
        pa.field("srm_p_value", pa.float64()),
        pa.field("srm_failed", pa.bool_(), nullable=False),
        pa.field("warnings", pa.list_(pa.string()), nullable=False),
        pa.field("report_path", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)
AB_RESULTS = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("experiment_id", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("guardrail", pa.bool_(), nullable=False),
        pa.field("control_value", pa.float64()),
        pa.field("test_value", pa.float64()),
        pa.field("lift", pa.float64()),
        pa.field("ci_low", pa.float64()),
        pa.field("ci_high", pa.float64()),
        pa.field("p_value", pa.float64()),
        pa.field("cuped", pa.bool_(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)

# --- Generations (curation/generations; docs/ab.md) ---

# meta/model_generations (the `generations` view): one row per `flywheel generation create`; the latest row
# of a name is its record. It links what the generation was built from and judged by, and the decision.
GENERATION_EVAL = pa.struct(
    [
        ("eval_id", pa.string()),
        ("win_rate", pa.float64()),
        ("win_rate_user", pa.float64()),
        ("win_rate_internal", pa.float64()),
        ("flags", pa.list_(pa.string())),
    ]
)
GENERATION_METRIC = pa.struct(
    [
        ("metric", pa.string()),
        ("lift", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("p_value", pa.float64()),
        ("verdict", pa.string()),
    ]
)
MODEL_GENERATIONS = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("parent", pa.string()),
        pa.field("model_versions", pa.list_(pa.string()), nullable=False),
        pa.field("window_start", UTC_TS),
        pa.field("window_end", UTC_TS),
        pa.field("table_versions", pa.map_(pa.string(), pa.int64()), nullable=False),
        pa.field("releases", pa.list_(pa.string()), nullable=False),
        pa.field("model_run_ids", pa.list_(pa.string()), nullable=False),
        pa.field("evals", pa.list_(GENERATION_EVAL), nullable=False),
        pa.field("experiment_id", pa.string()),
        pa.field("ab_report_id", pa.string()),
        pa.field("srm_p_value", pa.float64()),
        pa.field("ab_metrics", pa.list_(GENERATION_METRIC), nullable=False),
        pa.field("artifacts", pa.map_(pa.string(), pa.float64()), nullable=False),
        pa.field("parent_artifacts", pa.map_(pa.string(), pa.float64()), nullable=False),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("created_at", UTC_TS, nullable=False),
    ]
)
