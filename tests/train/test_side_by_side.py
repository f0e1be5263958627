"""`flywheel eval side-by-side` (issue 16): two tiny local models answer a frozen prompt release, the replies
become a blinded pairwise queue, two annotators label it through the store with a known preference pattern,
and the report's human win rate, Wilson interval, by-source split and reward-model column are checked
against independent arithmetic and against `flywheel eval model` on the same prompts."""

from __future__ import annotations

import json
import math

import pytest

from labeling_app.store import Store
from lakehouse.lake import Lake
from tests.helpers.cli import flywheel
from tests.helpers.served import entry
from train import side_by_side as sbs
from train.config import EvalSettings

pytestmark = pytest.mark.slow
SETTINGS = EvalSettings(max_new_tokens=8, batch_size=8)
CORPUS = ["hello there, how are you?", "I am fine, thanks for asking.", "Tell me about the stars tonight."] * 30


def _save(model, tokenizer, directory):
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A lake with a 24-prompt eval release (user and internal traffic), two tiny policies that answer
    differently, and a tiny reward model (random weights: a deterministic scorer is all the RM column needs)."""
    from transformers import LlamaForSequenceClassification

    from train import synthetic
    from train.config import TinySettings
    from train.tiny import build

    root = tmp_path_factory.mktemp("sbs")
    lake = Lake(root / "lake")
    release = synthetic.write_release(lake, "eval-prompts", "prompt", rows=24, seed=7)
    settings = TinySettings(hidden_size=32, intermediate_size=64, layers=1, heads=2, vocab_size=400)
    old_model, tokenizer = build(CORPUS, settings, seed=1)
    new_model, new_tokenizer = build(CORPUS, settings, seed=2)
    reward, _ = build(CORPUS, settings, seed=3)
    config = reward.config
    config.num_labels = 1
    rm = LlamaForSequenceClassification(config)
    return {
        "lake": lake,
        "prompts": release.ref,
        "old": _save(old_model, tokenizer, root / "policy-gen15-OLDMODEL"),
        "new": _save(new_model, new_tokenizer, root / "policy-gen16-NEWMODEL"),
        "rm": _save(rm, tokenizer, root / "reward"),
    }


def make_queue(world, name: str, **options) -> sbs.Created:
    return sbs.create(
        world["lake"],
        world["lake"].root,
        world["old"],
        world["new"],
        world["prompts"],
        SETTINGS,
        queue=name,
        log=lambda _: None,
        **options,
    )


@pytest.fixture(scope="module")
def queue(world):
    return make_queue(world, "sbs-main")


def tasks(world, name: str) -> list:
    with Store.for_lake(world["lake"].root, read_only=True) as store:
        return list(store.tasks(store.queue(name).queue_id))


def expected_score(source: str, annotator: str, index: int) -> str:
    """The known pattern: ann1 prefers new everywhere; ann2 prefers old on internal traffic, ties on every
    third user prompt and prefers new on the other user prompts."""
    if annotator == "ann1":
        return "new"
    if source == "internal":
        return "old"
    return "tie" if index % 3 == 0 else "new"


def label(world, name: str, annotators=("ann1", "ann2"), only: int | None = None) -> None:
    """Label the queue through the store API as each annotator, choosing the side that holds the wanted role."""
    with Store.for_lake(world["lake"].root) as store:
        queue_id = store.queue(name).queue_id
        index = {t.task_id: i for i, t in enumerate(store.tasks(queue_id))}
        for annotator in annotators:
            done = 0
            while (only is None or done < only) and (assignment := store.next_task(queue_id, annotator)):
                task = assignment.task
                meta = task.payload["meta"]
                want = expected_score(meta["source"], annotator, index[task.task_id])
                if want == "tie":
                    choice = "tie"
                else:
                    candidate = meta["side_by_side"]["order"].index(want)
                    choice = "A" if assignment.sides[0] == candidate else "B"
                store.submit(task.task_id, annotator, "annotator", {"choice": choice})
                done += 1


def wilson_textbook(p_hat: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927): (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    denominator = 1 + z * z / n
    centre = p_hat + z * z / (2 * n)
    spread = z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n))
    return (centre - spread) / denominator, (centre + spread) / denominator


def test_the_queue_is_blinded_shuffled_per_prompt_and_keeps_the_traffic_source(world, queue):
    from lakehouse.releases import resolve
    from train import generate, release_rows

    items = tasks(world, "sbs-main")
    assert queue.items == len(items) > 10 and queue.items + queue.identical == 24 and not queue.skipped
    replies = {
        role: {
            r["sample_id"]: r["text"] for r in generate.candidates(world["lake"], queue.generations[role]).to_pylist()
        }
        for role in sbs.ROLES
    }
    prompts, _ = release_rows.prompts(resolve(world["lake"], world["prompts"]))
    sources = {p.sample_id: p.source for p in prompts}
    orders = set()
    for task in items:
        meta = task.payload["meta"]
        sample_id, order = meta["side_by_side"]["sample_id"], meta["side_by_side"]["order"]
        orders.add(tuple(order))
        assert [c["text"] for c in task.payload["candidates"]] == [replies[role][sample_id] for role in order]
        assert meta["source"] == sources[sample_id]
        shown = json.dumps({k: task.payload[k] for k in ("prompt", "character", "candidates")})
        assert "MODEL" not in shown and "gen15" not in shown and "gen16" not in shown and "pool:" not in shown
    assert orders == {("old", "new"), ("new", "old")}, "the old model's reply is not always on one side"
    assert {sources[t.payload["meta"]["side_by_side"]["sample_id"]] for t in items} == {"user", "internal"}
    with Store.for_lake(world["lake"].root, read_only=True) as store:
        spec = store.queue("sbs-main").spec["side_by_side"]
    assert spec["models"] == {"old": world["old"], "new": world["new"]}
    assert "MODEL" not in "sbs-main" and sbs.default_queue_name({"old": world["old"]}).startswith("side-by-side-")


def test_the_same_inputs_give_the_same_queue_items(world, queue):
    again = make_queue(world, "sbs-again")
    first = [(t.item_key, t.payload) for t in tasks(world, "sbs-main")]
    second = [(t.item_key, t.payload) for t in tasks(world, "sbs-again")]
    assert first == second and again.generations != queue.generations
    assert sbs.candidate_order(42, "x:1") == sbs.candidate_order(42, "x:1")


def test_a_taken_queue_name_is_refused_before_generating(world, queue):
    with pytest.raises(sbs.SideBySideError, match="a queue named 'sbs-main' already exists"):
        make_queue(world, "sbs-main")


def test_the_report_win_rate_and_interval_match_an_independent_computation(world, queue):
    make_queue(world, "sbs-labeled")
    label(world, "sbs-labeled")
    result = sbs.report(world["lake"], world["lake"].root, "sbs-labeled", log=lambda _: None)
    rows = {r["source"]: r for r in result.rows()}

    scores: dict[str, list[float]] = {"all": [], "user": [], "internal": []}
    points = {"new": 1.0, "tie": 0.5, "old": 0.0}
    for index, task in enumerate(tasks(world, "sbs-labeled")):
        source = task.payload["meta"]["source"]
        item = (points[expected_score(source, "ann1", index)] + points[expected_score(source, "ann2", index)]) / 2
        scores["all"].append(item)
        scores[source].append(item)
    with Store.for_lake(world["lake"].root, read_only=True) as store:
        identical = store.queue("sbs-labeled").spec["side_by_side"]["identical"]
    for tie in identical:  # identical replies: a tie, no annotator needed
        scores["all"].append(0.5)
        scores[tie["source"]].append(0.5)
    assert result.unlabeled == 0 and rows["all"]["labels"] == 2 * queue.items
    for source, values in scores.items():
        n, rate = len(values), sum(values) / len(values)
        low, high = wilson_textbook(rate, n)
        assert rows[source]["items"] == n
        assert rows[source]["win_rate"] == pytest.approx(rate)
        assert (rows[source]["ci_low"], rows[source]["ci_high"]) == pytest.approx((low, high))
    assert rows["internal"]["win_rate"] < rows["user"]["win_rate"], "ann2's pattern splits the sources"
    assert rows["internal"]["old"] == rows["internal"]["items"] - sum(1 for t in identical if t["source"] == "internal")


def test_fewer_labels_give_a_wider_interval(world, queue):
    make_queue(world, "sbs-few")
    label(world, "sbs-few", only=4)
    few = {r["source"]: r for r in sbs.report(world["lake"], world["lake"].root, "sbs-few", log=print).rows()}
    make_queue(world, "sbs-many")
    label(world, "sbs-many")
    many = {r["source"]: r for r in sbs.report(world["lake"], world["lake"].root, "sbs-many", log=print).rows()}
    assert few["all"]["items"] < many["all"]["items"]
    assert few["all"]["ci_high"] - few["all"]["ci_low"] > many["all"]["ci_high"] - many["all"]["ci_low"]


def test_the_reward_column_matches_eval_model_on_the_same_prompts(world, queue):
    from train import evaluate

    evaluation = evaluate.run(
        world["lake"], world["new"], world["old"], world["rm"], world["prompts"], SETTINGS, log=lambda _: None
    )
    expected = {w.source: (w.n, w.win_rate, w.ci) for w in [evaluation.overall, *evaluation.by_source]}
    scored = sbs.report(world["lake"], world["lake"].root, "sbs-main", reward_model=world["rm"], log=lambda _: None)
    found = sbs.report(world["lake"], world["lake"].root, "sbs-main", log=lambda _: None)
    assert found.rm is not None and found.rm.origin.startswith(f"eval {evaluation.eval_id}")
    for result in (scored, found):
        got = {r["source"]: (r["rm_n"], r["rm_win_rate"], (r["rm_ci_low"], r["rm_ci_high"])) for r in result.rows()}
        assert got.keys() == expected.keys()
        for source, (n, rate, ci) in expected.items():
            assert got[source][0] == n and got[source][1] == pytest.approx(rate)
            assert got[source][2] == pytest.approx(ci)


def test_the_label_page_shows_no_model_id(world, queue, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from labeling_app import annotators
    from labeling_app.settings import APP_SCRIPT

    root = world["lake"].root
    _, token = annotators.add(annotators.default_path(root), "blind", "annotator")
    monkeypatch.setenv("FLYWHEEL_LAKE", str(root))
    monkeypatch.setenv("FLYWHEEL_LABEL_LOCAL_MODE", "0")
    monkeypatch.delenv("FLYWHEEL_LABEL_ANNOTATORS", raising=False)
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    at.query_params["queue"] = "sbs-main"
    at.run()
    at.text_input(key="login_token").input(token)
    at = next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception
    task = int(at.query_params["task"])
    with Store.for_lake(root, read_only=True) as store:
        payload = store.task(task).payload
    shown = [
        str(e.value) for kind in ("text", "markdown", "caption", "code", "info", "warning") for e in getattr(at, kind)
    ]
    shown += [b.label for b in at.button] + [str(o) for s in at.selectbox for o in s.options]
    page = "\n".join(shown)
    assert all(c["text"] in page for c in payload["candidates"]), "the item is on the page"
    for secret in ("OLDMODEL", "NEWMODEL", "gen15", "gen16", world["old"], world["new"], '"order"'):
        assert secret not in page


def test_the_cli_builds_a_queue_and_reports_it_as_json(world, tmp_path):
    lake = str(world["lake"].root)
    built = flywheel(
        "eval", "side-by-side", "--old", world["old"], "--new", world["new"], "--prompts", world["prompts"],
        "--limit", "6", "--max-new-tokens", "8", "--lake", lake,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    name = built.stdout.split("queue '", 1)[1].split("'", 1)[0]
    assert name.startswith("side-by-side-") and "blinded pairwise items" in built.stdout
    shown = flywheel(
        "eval", "side-by-side", "--report", "--queue", name, "--format", "json", "--out", tmp_path, "--lake", lake
    )
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    overall = report["rows"][0]
    assert overall["source"] == "all" and overall["labels"] == 0 and overall["items"] == overall["identical"]
    assert report["unlabeled_items"] + overall["identical"] == 6 and report["interval"] == "wilson-95"
    assert (tmp_path / "report.md").read_text().startswith(f"# Side-by-side {name}")
    wrong = flywheel("eval", "side-by-side", "--old", world["old"], "--lake", lake)
    assert wrong.returncode == 2 and "needs --new, --prompts" in wrong.stderr and "Traceback" not in wrong.stderr


def test_one_side_can_be_a_served_pool_model(world, server):
    from lakehouse.serving import ModelPool

    _, port, served_dir = server
    pool = ModelPool(models=[entry("prod-gen15", port, served_dir, temperature=0.0)])
    created = sbs.create(
        world["lake"], world["lake"].root, "prod-gen15", world["new"], world["prompts"], SETTINGS,
        pool=pool, queue="sbs-served", limit=4, log=lambda _: None,
    )  # fmt: skip
    assert created.models["old"] == f"pool:prod-gen15@http://127.0.0.1:{port}/v1" and not created.skipped
    assert created.items + created.identical == 4
    for task in tasks(world, "sbs-served"):
        assert "prod-gen15" not in json.dumps(task.payload) and str(port) not in json.dumps(task.payload)
    with pytest.raises(sbs.SideBySideError, match=r"--old: no model 'prod-gen16' in the pool, and model prod-gen16"):
        sbs.create(world["lake"], world["lake"].root, "prod-gen16", world["new"], world["prompts"], SETTINGS, pool=pool)


def test_a_prompt_one_model_did_not_answer_is_counted_and_identical_replies_are_ties():
    from train.release_rows import Prompt

    prompts = [Prompt(f"s{i}", "test", [{"role": "user", "content": f"hi {i}"}], {"source": "user"}) for i in range(3)]
    replies = {"old": {"s0": "a", "s1": "same", "s2": "c"}, "new": {"s0": "b", "s1": "same "}}
    built = sbs.build_items(prompts, replies, seed=42)
    assert [key for key, _ in built.items] == ["sbs:s0"]
    assert built.identical == [{"sample_id": "s1", "source": "user"}] and built.skipped == {"no_reply:new": 1}
    rates = sbs.human_rates([("user", ["new", "tie"])], built.identical)
    assert [(r.source, r.items, r.labels, r.score) for r in rates] == [("all", 2, 2, 1.25), ("user", 2, 2, 1.25)]


def test_a_reward_win_rate_outside_the_human_interval_is_flagged():
    from train.evaluate import WinRate

    human = sbs.human_rates([("user", ["new", "new"])] * 3 + [("user", ["old", "old"])] * 7, [])
    info = {"models": {"old": "o", "new": "n"}, "prompts_release": "p@1", "prompts_content_hash": "0" * 16}
    info |= {"identical": [], "skipped": {}}
    agreeing = sbs.RMColumn("rm", {s: WinRate(s, 10, 3, 0, 7) for s in ("all", "user")})
    hacked = sbs.RMColumn("rm", {s: WinRate(s, 10, 9, 0, 1) for s in ("all", "user")})
    assert sbs.Report("q", info, 0, human, agreeing).flags() == []
    flagged = sbs.Report("q", info, 0, human, hacked)
    assert [code for code, _ in flagged.flags()] == ["rm_above_human:all", "rm_above_human:user"]
    assert "**FLAG** `rm_above_human:user`" in sbs.markdown(flagged) and flagged.as_json()["flags"]


def test_reporting_a_queue_that_is_not_a_side_by_side_is_refused(tmp_path):
    from labeling_app.config import load_config, queue_spec

    with Store.for_lake(tmp_path) as store:
        store.create_queue("plain", "pairwise", 1, "regenerations", queue_spec(load_config(), "pairwise"), "test")
    with pytest.raises(sbs.SideBySideError, match="queue 'plain' is not a side-by-side queue"):
        sbs.report(Lake(tmp_path), tmp_path, "plain")
