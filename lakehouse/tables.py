"""The registry of the lake's tables: where each one lives, its schema and how it is partitioned.

A stage that adds a table adds one `TableSpec` here (or calls `register`); the catalog then gets a view
for it without further code.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from lakehouse import schemas


@dataclass(frozen=True)
class TableSpec:
    """A table: a directory of immutable Parquet files under the lake root.

    `time_column` names the timestamp whose UTC date is the Hive partition `day=YYYY-MM-DD`; tables
    without one are a flat directory of files.
    """

    name: str
    schema: pa.Schema
    time_column: str | None = None
    description: str = ""

    @property
    def view(self) -> str:
        """Name of the catalog view over this table (`bronze/conversations` -> `bronze_conversations`)."""
        return self.name.replace("/", "_")

    @property
    def partitioned(self) -> bool:
        return self.time_column is not None


TABLES: dict[str, TableSpec] = {}


def register(spec: TableSpec) -> TableSpec:
    """Add a table to the registry; re-registering the same name with another schema is an error."""
    existing = TABLES.get(spec.name)
    if existing is not None and existing.schema != spec.schema:
        raise ValueError(f"table {spec.name!r} is already registered with another schema")
    TABLES[spec.name] = spec
    return spec


def get(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None


BRONZE_CONVERSATIONS = register(
    TableSpec(
        "bronze/conversations",
        schemas.BRONZE_CONVERSATIONS,
        time_column="started_at",
        description="Conversations as ingested and normalized; the only table with raw text.",
    )
)
BRONZE_EXPOSURES = register(
    TableSpec(
        "bronze/exposures",
        schemas.EXPOSURES,
        time_column="exposed_at",
        description="Experiment exposures: (experiment_id, arm, user_id, exposed_at).",
    )
)
BRONZE_PREFERENCE_PAIRS = register(
    TableSpec(
        "bronze/preference_pairs",
        schemas.PREFERENCE_PAIRS,
        time_column="started_at",
        description="Preference pairs that arrived as pairs (hh-rlhf): chosen and rejected conversations.",
    )
)
SILVER_CONVERSATIONS = register(
    TableSpec(
        "silver/conversations",
        schemas.SILVER_CONVERSATIONS,
        time_column="started_at",
        description="Conversations with personal data replaced, and per-conversation counts by entity type.",
    )
)
PROCESSED_FILES = register(
    TableSpec(
        "meta/processed_files",
        schemas.PROCESSED_FILES,
        description="Ledger of file-to-file stages: input file, config hash, output files; makes reruns incremental.",
    )
)
QUARANTINE = register(
    TableSpec(
        "quarantine",
        schemas.QUARANTINE,
        time_column="quarantined_at",
        description="Every rejected input record with file, line, raw bytes and reason.",
    )
)
INGESTED_FILES = register(
    TableSpec(
        "meta/ingested_files",
        schemas.INGESTED_FILES,
        description="One row per ingested input file (by sha256): re-ingesting it adds nothing.",
    )
)
LABEL_TASKS = register(
    TableSpec(
        "labels/tasks",
        schemas.LABEL_TASKS,
        description="Snapshot of the label store's tasks: queue, item, context and candidates.",
    )
)
LABELS = register(
    TableSpec(
        "labels/labels",
        schemas.LABELS,
        description="Snapshot of every label (append-only; adjudications flagged); the `labels` view.",
    )
)
LABEL_CONSENSUS = register(
    TableSpec(
        "labels/consensus",
        schemas.LABEL_CONSENSUS,
        description="Consensus label per item and question, with agreement; what releases consume.",
    )
)
STYLE_FEATURES = register(
    TableSpec(
        "attributes/style_features",
        schemas.STYLE_FEATURES,
        description="Style-artifact features of replies in context, keyed by text_key (computed once, reused).",
    )
)
CANDIDATES = register(
    TableSpec(
        "attributes/candidates",
        schemas.CANDIDATES,
        description="K sampled replies per prompt from `flywheel train generate` "
        "(and both sides of `flywheel eval model`).",
    )
)
GENERATIONS = register(
    TableSpec(
        "meta/generations",
        schemas.GENERATIONS,
        description="One row per generation run: model, prompt release, sampling settings, tokens/s.",
    )
)
REWARD_SCORES = register(
    TableSpec(
        "attributes/reward_scores",
        schemas.REWARD_SCORES,
        description="Reward-model scores of candidates, keyed by (generation_id, candidate, reward_model).",
    )
)
MODELS = register(
    TableSpec(
        "meta/models",
        schemas.MODELS,
        description="One row per training run: release, base model, config, metrics, lineage (lineage.json).",
    )
)
EVALS = register(
    TableSpec(
        "meta/evals",
        schemas.EVALS,
        description="Offline evaluations: reward win rate new vs old by source, guardrail flags, artifact shifts.",
    )
)
DEDUP_CONVERSATIONS = register(
    TableSpec(
        "attributes/dedup_conversations",
        schemas.DEDUP_CONVERSATIONS,
        description="Near-duplicate clusters of whole conversations: cluster (the representative's id), similarity to it.",
    )
)
DEDUP_PROMPTS = register(
    TableSpec(
        "attributes/dedup_prompts",
        schemas.DEDUP_PROMPTS,
        description="Near-duplicate clusters of prompts (user message + the turn before), per turn sample.",
    )
)
EMBEDDINGS = register(
    TableSpec(
        "attributes/embeddings",
        schemas.EMBEDDINGS,
        description="Embedding cache by (text_hash, model), append-only; the `embeddings` view casts to FLOAT[384].",
    )
)
TOPICS = register(
    TableSpec(
        "attributes/topics",
        schemas.TOPICS,
        description="Topic cluster, label and semantic pruning of each turn sample's last user message.",
    )
)
TOPIC_LABELS = register(
    TableSpec(
        "attributes/topic_labels",
        schemas.TOPIC_LABELS,
        description="One row per topic cluster: label, samples, distinct messages, semantic representatives.",
    )
)
TOPIC_EXAMPLES = register(
    TableSpec(
        "attributes/topic_examples",
        schemas.TOPIC_EXAMPLES,
        description="Up to three representative messages per topic cluster (the topic_labels view's `examples`).",
    )
)
SAMPLE = register(
    TableSpec(
        "attributes/sample",
        schemas.SAMPLE,
        description="The diverse sample: candidate turn samples with weight, draw rank and `selected`.",
    )
)
SAMPLE_REPORT = register(
    TableSpec(
        "attributes/sample_report",
        schemas.SAMPLE_REPORT,
        description="Achieved vs target share of every stratum value of the diverse sample.",
    )
)
AB_EXPERIMENTS = register(
    TableSpec(
        "meta/ab_experiments",
        schemas.AB_EXPERIMENTS,
        description="One row per `flywheel ab report`: experiment, window, exposed users per arm, SRM p-value.",
    )
)
AB_RESULTS = register(
    TableSpec(
        "meta/ab_results",
        schemas.AB_RESULTS,
        description="One row per (A/B report, metric): arm values, relative lift, 95% CI, p-value, verdict.",
    )
)
MODEL_GENERATIONS = register(
    TableSpec(
        "meta/model_generations",
        schemas.MODEL_GENERATIONS,
        description="Flywheel generations (gen-16, parent gen-15): window, tables, releases, models, evals, A/B, decision.",
    )
)
