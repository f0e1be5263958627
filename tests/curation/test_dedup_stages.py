"""The dedup, embed, cluster and sample stages on a lake of simulated traffic (real MiniLM, real DuckDB):
planted copies share clusters with deterministic representatives, reruns are free, thresholds are
filters, the `samples` view carries the columns, `flywheel similar` finds messages, the sample report
meets its targets, and releases keep representatives only."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from curation.pipeline import runner
from curation.pipeline.recipe import parse
from lakehouse import catalog, tables
from lakehouse.cli import _register_plugins, app
from lakehouse.lake import Lake
from tests.helpers.lakes import query
from tests.helpers.release_lakes import copy_lake
from tests.helpers.sim_lake import simulate

pytestmark = pytest.mark.slow
SCRUB = {"stage": "scrub"}
STAGES = [
    {"stage": "dedup"},
    {"stage": "embed"},
    {"stage": "cluster"},
    {"stage": "sample", "target": 150, "max_per_cluster": 12, "max_per_character": 40},
]


def run_stages(lake: Lake, stages: list[dict]):
    out = io.StringIO()
    record = runner.run(parse({"name": "test", "stages": stages}), lake, Console(file=out, width=150))
    assert record.status == "succeeded", record.error
    return {s.name: s for s in record.stages}, out.getvalue()


def early_copy(traffic: Path) -> dict:
    """A copy of the first simulated conversation that started a day before it: it becomes the representative."""
    with gzip.open(traffic, "rt") as fh:
        original = json.loads(fh.readline())
    duplicate = copy.deepcopy(original)
    start = dt.datetime.fromisoformat(original["started_at"].replace("Z", "+00:00")) - dt.timedelta(days=1)
    duplicate.update(conversation_id="early-copy", started_at=start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for message in duplicate["messages"]:
        message.pop("ts", None)
    return duplicate


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    return simulate(tmp_path_factory.mktemp("sim"), conversations=200, seed=1)


@pytest.fixture(scope="module")
def built(sim, tmp_path_factory):
    """Simulated traffic through ingest, scrub and every stage of this area (the stages read silver text)."""
    root = tmp_path_factory.mktemp("stages")
    extra = root / "extra.jsonl"
    extra.write_text(json.dumps(early_copy(sim / "traffic" / "part-00000.jsonl.gz")) + "\n")
    lake = Lake(root / "lake")
    ingest = {"stage": "ingest", "paths": [str(sim / "traffic"), str(extra)], "drop_user_ids": True}
    stats, output = run_stages(lake, [ingest, SCRUB, *STAGES])
    assert catalog.text_layer_table(lake) == tables.SILVER_CONVERSATIONS
    return lake, stats, output


def truth(sim: Path) -> list[dict]:
    with gzip.open(sim / "truth.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def test_planted_copies_share_a_cluster_whose_representative_is_the_earliest(sim, built):
    lake, _, _ = built
    clusters = dict(query(lake, "SELECT conversation_id, cluster FROM attributes_dedup_conversations"))
    planted = [t for t in truth(sim) if t["duplicate_kind"] in ("exact_copy", "edited_copy")]
    assert {t["duplicate_kind"] for t in planted} == {"exact_copy", "edited_copy"}
    for t in planted:
        assert clusters[t["conversation_id"]] == clusters[t["duplicate_of"]], t
    first = next(
        iter(
            query(
                lake,
                "SELECT conversation_id FROM conversations WHERE conversation_id <> 'early-copy' "
                "ORDER BY conversation_id LIMIT 1",
            )
        )
    )[0]
    assert clusters[first] == clusters["early-copy"] == "early-copy"
    # every cluster's representative is its earliest member (started_at, then id), and only it is kept
    rows = query(
        lake,
        """SELECT d.cluster, d.conversation_id, d.is_representative,
                                 min((c.started_at, c.conversation_id)) OVER (PARTITION BY d.cluster) AS earliest
                          FROM attributes_dedup_conversations d JOIN conversations c USING (conversation_id)""",
    )
    for cluster, conversation_id, is_representative, earliest in rows:
        assert cluster == earliest[1] and is_representative == (conversation_id == cluster)
    # the samples of a copied conversation are not representatives
    kept = dict(query(lake, "SELECT conversation_id, bool_or(is_representative) FROM samples GROUP BY 1"))
    assert not any(kept[t["conversation_id"]] for t in planted) and kept["early-copy"]


def test_prompts_are_compared_within_a_character_and_shared_by_regenerations(sim, built):
    lake, _, _ = built
    spam = {t["conversation_id"] for t in truth(sim) if t["duplicate_group"] == "spam-00"}
    rows = query(
        lake,
        f"""SELECT s.character_id, p.norm_hash, p.cluster, p.scope FROM attributes_dedup_prompts p
                           JOIN samples s USING (sample_id)
                           WHERE p.conversation_id IN ({", ".join(repr(c) for c in spam)}) AND s.turn = 1""",
    )
    assert len(rows) == len(spam) >= 2 and len({r[1] for r in rows}) == 1  # the same pasted prompt
    for a in rows:
        assert a[3] == a[0]
        for b in rows:
            assert (a[2] == b[2]) == (a[0] == b[0])
    pairs = query(
        lake,
        """SELECT r.prompt_id = p.prompt_id, r.cluster = p.cluster, r.is_representative = p.is_representative
                           FROM samples s JOIN attributes_dedup_prompts r ON r.sample_id = s.sample_id
                           JOIN attributes_dedup_prompts p ON p.sample_id = s.conversation_id || ':' || s.replaces_turn
                           WHERE s.replaces_turn IS NOT NULL""",
    )
    assert pairs and all(all(flags) for flags in pairs)


def test_samples_view_carries_the_stage_columns(built):
    lake, stats, _ = built
    ((total, clustered, topics, labelled, sampled, representatives),) = query(
        lake,
        """
        SELECT count(*), count(dedup_cluster), count(topic_cluster), count(*) FILTER (WHERE topic_label <> ''),
               count(*) FILTER (WHERE sampled), count(*) FILTER (WHERE is_representative) FROM samples""",
    )
    assert total == clustered == topics == labelled  # every simulated reply follows a user message
    assert sampled == 150 and representatives == stats["dedup"].rows_out < total
    assert stats["cluster"].details["k_source"] == "sqrt(n/2)"
    ((labels,),) = query(lake, "SELECT count(*) FROM topic_labels WHERE topic_label <> ''")
    assert labels == stats["cluster"].details["k"]
    ((dim,),) = query(lake, "SELECT typeof(embedding) FROM sample_embeddings LIMIT 1")
    assert dim == "FLOAT[384]"


def test_a_rerun_encodes_nothing_and_recomputes_nothing(built, tmp_path):
    lake = Lake(copy_lake(built[0].root, tmp_path / "lake"))
    names = [tables.DEDUP_CONVERSATIONS, tables.DEDUP_PROMPTS, tables.EMBEDDINGS, tables.TOPICS, tables.SAMPLE]
    before = {t.name: lake.snapshot_id(t) for t in names}
    stats, output = run_stages(lake, STAGES)
    assert stats["embed"].details["encoded"] == 0
    assert stats["embed"].details["cache_hits"] == stats["embed"].details["distinct_texts"] > 0
    assert all(stats[s].details.get("up_to_date") for s in ("dedup", "cluster", "sample"))
    assert {t.name: lake.snapshot_id(t) for t in names} == before
    assert "achieved" in output  # the sample report is printed on a rerun too


def test_new_traffic_encodes_only_its_new_messages(sim, built, tmp_path):
    lake = Lake(copy_lake(built[0].root, tmp_path / "lake"))
    fresh = early_copy(sim / "traffic" / "part-00000.jsonl.gz")
    fresh["conversation_id"] = "fresh"
    users = [m for m in fresh["messages"] if m["role"] == "user"]
    for i, message in enumerate(users[:2]):
        message["content"] = f"a message nobody has sent before, number {i}, about quantum gardening"
    new_file = tmp_path / "new.jsonl"
    new_file.write_text(json.dumps(fresh) + "\n")
    paths = [str(sim / "traffic"), str(built[0].root.parent / "extra.jsonl"), str(new_file)]
    stats, _ = run_stages(lake, [{"stage": "ingest", "paths": paths, "drop_user_ids": True}, SCRUB, *STAGES])
    assert stats["ingest"].rows_out == 1
    assert stats["embed"].details["encoded"] == 2  # the other messages of `fresh` are in the cache
    assert not any(stats[s].details.get("up_to_date") for s in ("dedup", "cluster", "sample"))
    assert query(lake, "SELECT count(*) FROM attributes_dedup_conversations WHERE conversation_id = 'fresh'") == [(1,)]


def test_recomputing_gives_the_same_tables(built, tmp_path):
    lake = Lake(copy_lake(built[0].root, tmp_path / "lake"))
    names = [
        tables.DEDUP_CONVERSATIONS,
        tables.DEDUP_PROMPTS,
        tables.TOPICS,
        tables.TOPIC_LABELS,
        tables.SAMPLE,
        tables.SAMPLE_REPORT,
    ]
    before = {t: lake.read(t).to_pylist() for t in names}
    with lake.transaction() as tx:
        for t in names:
            tx.remove_files(lake.files(t))
    stats, _ = run_stages(lake, STAGES)
    assert not any(stats[s].details.get("up_to_date") for s in ("dedup", "cluster", "sample"))
    for t in names:
        assert sorted(lake.read(t).to_pylist(), key=str) == sorted(before[t], key=str), t.name


def test_thresholds_change_by_filter_and_topics_reuse_cached_embeddings(built, tmp_path):
    lake = Lake(copy_lake(built[0].root, tmp_path / "lake"))
    ((default, stricter, near_kept),) = query(
        lake,
        """
        SELECT count(*) FILTER (WHERE is_representative),
               count(*) FILTER (WHERE is_representative OR dedup_similarity < 0.9),
               count(*) FILTER (WHERE NOT is_representative AND dedup_similarity < 0.9) FROM samples""",
    )
    assert near_kept > 0 and stricter == default + near_kept
    before = lake.snapshot_id(tables.DEDUP_PROMPTS)
    stats, _ = run_stages(lake, [{"stage": "embed"}, {"stage": "cluster", "prune_threshold": 0.8}])
    assert stats["embed"].details["encoded"] == 0 and stats["cluster"].details["encoded"] == 0
    assert not stats["cluster"].details.get("up_to_date") and lake.snapshot_id(tables.DEDUP_PROMPTS) == before
    ((pruned, looser),) = query(
        lake,
        "SELECT count(*) FILTER (WHERE NOT is_semantic_representative), "
        "count(*) FILTER (WHERE semantic_similarity >= 0.8) FROM samples",
    )
    assert pruned >= looser > 0


def test_flywheel_similar_prints_the_nearest_turn_samples(built):
    lake, _, _ = built
    ((sample_id, message),) = query(
        lake,
        "SELECT sample_id, last_user_message(prompt) FROM samples "
        "WHERE length(last_user_message(prompt)) > 40 ORDER BY sample_id LIMIT 1",
    )
    _register_plugins()
    result = CliRunner().invoke(
        app, ["similar", message, "--num-results", "3", "--lake", str(lake.root)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ":" in line and "│" in line]
    assert len(lines) == 3 and "1.000" in lines[0] and message[:30] in lines[0]
    first_sample = query(lake, f"SELECT min(sample_id) FROM samples WHERE last_user_message(prompt) = {message!r}")
    assert lines[0].split("│")[1].strip() == first_sample[0][0]


def test_flywheel_similar_without_embeddings_is_a_clear_error(tmp_path):
    _register_plugins()
    (tmp_path / "empty").mkdir()  # a lake with nothing in it (a missing lake: tests/lakehouse/test_lake_delta.py)
    result = CliRunner().invoke(app, ["similar", "hello", "--lake", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no embeddings yet" in result.output


def test_the_sample_meets_its_targets_and_caps(built):
    lake, _, output = built
    report = {
        (s, v): (t, a)
        for s, v, t, a in query(lake, "SELECT stratum, value, target_share, achieved_share FROM sample_report")
    }
    assert {s for s, _ in report} == {"source", "character_id", "topic_cluster", "depth_bucket"}
    for stratum in ("source", "depth_bucket"):
        for (s, value), (target, achieved) in report.items():
            if s == stratum:
                assert abs(target - achieved) < 0.08, (s, value, target, achieved)
    assert max(n for (n,) in query(lake, "SELECT count(*) FROM samples WHERE sampled GROUP BY topic_cluster")) <= 12
    assert max(n for (n,) in query(lake, "SELECT count(*) FROM samples WHERE sampled GROUP BY character_id")) <= 40
    assert query(lake, "SELECT bool_and(is_representative) FROM samples WHERE sampled") == [(True,)]
    assert "stratum" in output and "achieved" in output and "depth_bucket" in output


def test_releases_keep_representatives_and_split_by_dedup_cluster(built, tmp_path):
    from curation.releases.build import build
    from curation.releases.config import ReleaseEntry

    lake = Lake(copy_lake(built[0].root, tmp_path / "lake"))
    entry = ReleaseEntry.model_validate({"name": "sft", "type": "sft"})
    result = build(lake, entry, code_version="test")
    manifest = result.release.manifest
    assert manifest["split_method"] == "dedup_cluster"
    assert result.dropped["not_representative"] > 0
    assert {"attributes/dedup_prompts", "attributes/dedup_conversations", "attributes/topics"} <= set(
        manifest["parents"]["tables"]
    )
    ids = [
        r["sample_id"]
        for s in ("train", "validation", "test")
        if result.release.data_files(s)
        for r in result.release.read(s).to_pylist()
    ]
    flags = dict(query(lake, "SELECT sample_id, is_representative FROM samples"))
    assert ids and all(flags[i] for i in ids)


def test_dedup_stage_config_errors_name_the_key():
    from curation.pipeline.recipe import RecipeError

    with pytest.raises(RecipeError, match=r"prompts.threshold"):
        parse({"name": "x", "stages": [{"stage": "dedup", "prompts": {"threshold": 2}}]})
    with pytest.raises(RecipeError, match=r"filtr: unknown key"):
        parse({"name": "x", "stages": [{"stage": "sample", "target": 5, "filtr": "x"}]})
