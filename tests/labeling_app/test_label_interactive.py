"""Interactive labeling against a real served model: the tiny model behind `flywheel serve` on 127.0.0.1.

Two turns are driven through Streamlit's AppTest (both candidates arrive, sides shuffled, a choice with a
flag, then a tie with a rewrite), the turns are read back from the store with their context, candidates,
model ids, sides, latency and labels, and become release rows (preference pairs with origin `interactive`,
a rewrite SFT row, steerability labels). Killing the model server mid-chat gives a clear message and a
Retry button on the page, and the judged turn before it stays stored.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
import yaml

from labeling_app import interactive, values
from labeling_app.interactive import InteractiveSettings, create_queue
from labeling_app.settings import APP_SCRIPT
from labeling_app.store import Store, StoreError
from lakehouse.errors import UserError
from lakehouse.lake import Lake
from tests.helpers.cli import FLYWHEEL
from tests.helpers.label_lake import conversation, make_lake
from tests.helpers.served import build_tiny_model, free_port, start_server, stop

CARDS = [
    {
        "character": {
            "id": "ch-captain",
            "name": "Captain Mira",
            "description": "A cheerful starship captain.",
            "instructions": "Never mention being an AI.",
        },
        "scenario": {"title": "The AI question", "challenge": "Ask her whether she is an AI."},
    },
    {
        "character": {"name": "Chef Bruno", "description": "A grumpy chef.", "instructions": "Give a recipe tip."},
        "scenario": {"title": "Off topic", "challenge": "Ask about football."},
    },
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-interactive"), sample=True)


@pytest.fixture(scope="module")
def server(tiny_model):
    process, port = start_server(tiny_model)
    yield process, port
    stop(process)


def write_pool(path, port: int, model, **settings) -> None:
    common = {"endpoint": f"http://127.0.0.1:{port}/v1", "model": str(model), "max_tokens": 6, **settings}
    models = [{"name": "warm", "temperature": 1.0, **common}, {"name": "cold", "temperature": 0.8, **common}]
    path.write_text(yaml.safe_dump({"models": models}))


def make_queue(tmp_path, port: int, model, *, name: str = "chat", **pool_settings):
    lake = make_lake(tmp_path / "lake", [conversation(i) for i in range(4)])
    cards = tmp_path / "cards.yaml"
    cards.write_text(yaml.safe_dump(CARDS))
    write_pool(tmp_path / "pool.yaml", port, model, **pool_settings)
    settings = InteractiveSettings(pool=tmp_path / "pool.yaml", models=["warm", "cold"])
    created = create_queue(lake, source=str(cards), settings=settings, name=name)
    return lake, created


def app(lake, monkeypatch, queue: str = "chat"):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FLYWHEEL_LAKE", str(lake))
    monkeypatch.setenv("FLYWHEEL_LABEL_LOCAL_MODE", "1")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=120)
    at.query_params["queue"] = queue
    return at.run()


def button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def send(at, message: str):
    at.chat_input[0].set_value(message)
    return at.run()


def turns(lake, task_id: int) -> list[dict]:
    with Store.for_lake(lake, read_only=True) as store:
        return store.turns(task_id=task_id, annotator="local")


@pytest.mark.slow
def test_two_turns_through_the_app_are_stored_and_become_release_rows(server, tiny_model, tmp_path, monkeypatch):
    _, port = server
    lake, created = make_queue(tmp_path, port, tiny_model)
    assert created.added == 2 and created.queue.spec["continuation"] == "random"
    at = app(lake, monkeypatch)
    assert not at.exception
    task_id = int(at.query_params["task"])
    assert any("Captain Mira" in m.value for m in at.markdown)

    at = send(at, "Hello captain, are you an AI?")
    assert not at.exception and not at.error, [e.value for e in at.error]
    [first] = turns(lake, task_id)
    assert first["label"] is None and first["turn"] == 0
    assert [c["model"] for c in first["candidates"]] == ["warm", "cold"]
    assert {c["model_id"] for c in first["candidates"]} == {str(tiny_model)}
    assert first["sides"] == interactive.sides(interactive.turn_seed(task_id, "local", 0))
    assert first["seconds"] > 0 and all(c["seconds"] > 0 for c in first["candidates"])
    assert first["context"] == [{"role": "user", "content": "Hello captain, are you an AI?"}]
    texts = [t.value.strip() for t in at.text]
    for candidate in first["candidates"]:
        assert candidate["text"].strip() in texts

    at.checkbox(key=f"q-{first['turn_id']}-2-templated").check()
    at = button(at, "Flag").click().run()
    at.text_input(key=f"flag-{first['turn_id']}-1").input("Never mention being an AI.")
    at = button(at, "1 is better").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [first] = turns(lake, task_id)
    label = first["label"]
    left, right = first["sides"]
    assert (label["choice"], label["preferred"], label["tie"]) == ("A", left, False)
    assert label["flags"] == [{"candidate": left, "side": "A", "instruction": "Never mention being an AI."}]
    assert label["answers"][str(right)] == {"false_refusal": "no", "templated": "yes"}
    assert label["answers"][str(left)] == {"false_refusal": "no", "templated": "no"}
    assert label["continued"] == first["seed"] & 1, "random continuation: the turn's coin"

    at = send(at, "Tell me about your ship.")
    assert not at.exception and not at.error, [e.value for e in at.error]
    second = turns(lake, task_id)[1]
    continued = first["candidates"][label["continued"]]["text"]
    assert second["context"] == [
        *first["context"],
        {"role": "assistant", "content": continued},
        {"role": "user", "content": "Tell me about your ship."},
    ]
    at = button(at, "Rewrite").click().run()
    at.text_area(key=f"rewrite-{second['turn_id']}").input("Aye, the Dawn Treader: fastest ship in the sector!")
    at = button(at, "3: tie").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    second = turns(lake, task_id)[1]
    assert second["label"]["tie"] and second["label"]["rewrite"].startswith("Aye, the Dawn Treader")

    at = button(at, "Finish chat (2 judged turns)").click().run()
    assert not at.exception
    assert int(at.query_params["task"]) != task_id, "the next chat comes up"
    with Store.for_lake(lake, read_only=True) as store:
        [done] = store.labels(created.queue.queue_id)
    assert done["task_id"] == task_id and done["value"]["turns"] == 2

    _assert_release_rows(lake, first, second)


def _assert_release_rows(lake, first: dict, second: dict) -> None:
    from curation.releases.build import build
    from curation.releases.config import ReleaseEntry
    from labeling_app.snapshot import snapshot

    snapshot(lake)
    root = Lake(lake)

    def make(**entry):
        entry.setdefault("allow_unscrubbed", True)
        return build(root, ReleaseEntry.model_validate(entry), code_version="test")

    source = [{"name": "chats", "kind": "labels", "queue": "chat"}]
    pairs = make(name="chat-pairs", type="preference", sources=source, split={"validation": 0, "test": 0})
    [row] = pairs.release.read().to_pylist()
    winner = first["label"]["preferred"]
    assert row["origin"] == "interactive"
    assert row["chosen"][0]["content"] == first["candidates"][winner]["text"]
    assert row["rejected"][0]["content"] == first["candidates"][1 - winner]["text"]
    assert row["prompt"][-1] == {"role": "user", "content": "Hello captain, are you an AI?"}
    assert pairs.release.manifest["dropped"].get("label_tie") == 1, "the tied second turn is no pair"
    again = make(name="chat-pairs", type="preference", sources=source, split={"validation": 0, "test": 0})
    assert again.release.manifest["content_hash"] == pairs.release.manifest["content_hash"]

    sft = make(name="chat-sft", type="sft", sources=source, split={"validation": 0, "test": 0})
    [rewrite] = sft.release.read().to_pylist()
    assert rewrite["origin"] == "interactive"
    assert rewrite["messages"][-1]["content"] == second["label"]["rewrite"]
    assert rewrite["messages"][-2] == {"role": "user", "content": "Tell me about your ship."}

    steer = [
        {
            "name": "steer",
            "kind": "labels",
            "queue": "chat",
            "question": "violates_instruction",
            "desirable_answers": ["no"],
            "undesirable_answers": ["yes"],
        }
    ]
    kto = make(name="chat-steer", type="unpaired", sources=steer, split={"validation": 0, "test": 0})
    labels = [(r["completion"][0]["content"], r["label"]) for r in kto.release.read().to_pylist()]
    assert len(labels) == 4 and sum(1 for _, good in labels if not good) == 1
    flagged = first["candidates"][first["label"]["flags"][0]["candidate"]]["text"]
    assert (flagged, False) in labels


@pytest.mark.browser
@pytest.mark.slow
def test_the_tenth_turn_in_a_real_browser_fits_a_laptop_screen_and_keys_label_it(server, tiny_model, tmp_path):
    """Nine judged turns are made through the same code (real requests), the tenth in chromium: the card, the
    chat (scrolling inside its box), both candidates and the choice bar are on a 1366x768 screen without
    scrolling the page; F opens the flags, R the rewrite, and the key 2 stores the turn."""
    from playwright.sync_api import sync_playwright

    from tests.labeling_app.test_label_browser import CHROMIUM, CHROMIUM_ARGS, LAPTOP, _wait_healthy

    _, port = server
    lake, created = make_queue(tmp_path, port, tiny_model)
    with Store.for_lake(lake) as store:
        assignment = store.next_task(created.queue.queue_id, "local")
        task_id = assignment.task.task_id
        for number in range(9):
            turn = interactive.new_turn(store, created.queue, task_id, "local", f"Message number {number}")
            answers = {q["id"]: "no" for q in created.queue.spec["questions"]}
            store.label_turn(turn["turn_id"], "local", {"choice": "A", "answers": {"A": answers, "B": answers}})
    app_port = free_port()
    url = f"http://127.0.0.1:{app_port}"
    process = subprocess.Popen(
        [*FLYWHEEL, "label", "serve", "--lake", str(lake), "--port", str(app_port), "--local-mode"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(url, process)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=LAPTOP)
            page.goto(f"{url}/?queue=chat&task={task_id}")
            box = page.get_by_placeholder("Your message to the character")
            box.fill("The tenth message")
            box.press("Enter")
            choose = page.get_by_role("button", name=re.compile(r"^2 is better"))
            choose.wait_for(timeout=120_000)
            page.get_by_text("Reply 1", exact=True).click()  # focus off the message box: plain keys work
            page.keyboard.press("f")
            page.get_by_placeholder("Instruction it broke (empty: none)").first.wait_for(timeout=20_000)
            page.keyboard.press("r")
            page.get_by_placeholder("The reply the character should have given").wait_for(timeout=20_000)
            boxes = {
                name: page.locator(selector).first.bounding_box()
                for name, selector in (
                    ("card", "text=Captain Mira"),
                    ("chat", f".st-key-chat-{task_id}"),
                    ("reply 1", ".st-key-candidate-1"),
                    ("reply 2", ".st-key-candidate-2"),
                    ("choice", "button:has-text('2 is better')"),
                )
            }
            assert page.evaluate("() => window.scrollY") == 0
            for name, found in boxes.items():
                assert found is not None and found["y"] >= 0, name
                assert found["y"] + found["height"] <= LAPTOP["height"], f"{name} is below the fold: {found}"
            page.get_by_text("Reply 1", exact=True).click()
            page.keyboard.press("2")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and turns(lake, task_id)[-1]["label"] is None:
                time.sleep(0.2)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    tenth = turns(lake, task_id)[-1]
    assert tenth["turn"] == 9 and tenth["context"][-1]["content"] == "The tenth message"
    assert tenth["label"] is not None and tenth["label"]["choice"] == "B"
    assert len(tenth["context"]) == 19


@pytest.mark.slow
def test_a_model_server_killed_mid_chat_shows_a_clear_message_and_keeps_the_judged_turn(
    server, tiny_model, tmp_path, monkeypatch
):
    process, port = server  # the module's server: this test kills it, so it comes after the others using it
    try:
        lake, _ = make_queue(tmp_path, port, tiny_model, name="chat", retries=0, timeout_s=20)
        at = app(lake, monkeypatch)
        task_id = int(at.query_params["task"])
        at = send(at, "First message")
        at = button(at, "2 is better").click().run()
        assert not at.error, [e.value for e in at.error]
        stop(process)
        at = send(at, "Second message")
    finally:
        if process.poll() is None:
            stop(process)
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("The candidates did not arrive:") and "cannot reach" in error and "warm" in error
    assert "Second message" in [t.value for t in at.text], "the unsent message is kept"
    assert button(at, "Retry")
    [judged] = turns(lake, task_id)
    assert judged["label"]["choice"] == "B" and judged["turn"] == 0

    process, _ = start_server(tiny_model, port)  # the model is back: Retry sends the kept message
    try:
        at = button(at, "Retry").click().run()
    finally:
        stop(process)
    assert not at.error, [e.value for e in at.error]
    assert [t["context"][-1]["content"] for t in turns(lake, task_id)] == ["First message", "Second message"]


def test_turn_values_map_sides_back_to_candidates_and_continue_as_the_queue_says():
    questions = [{"id": "false_refusal", "text": "?"}, {"id": "templated", "text": "?"}]
    answers = {"A": {"false_refusal": "no", "templated": "no"}, "B": {"false_refusal": "yes", "templated": "no"}}
    raw = {"choice": "B", "strength": "strong", "flags": {"B": "Stay in character."}, "answers": answers}
    value = values.interactive_turn(raw, [1, 0], questions, "random", 1)
    assert (value["preferred"], value["continued"], value["strength"]) == (0, 1, "strong")
    assert value["flags"] == [{"candidate": 0, "side": "B", "instruction": "Stay in character."}]
    assert value["answers"]["0"]["false_refusal"] == "yes"
    preferred = values.interactive_turn(raw, [1, 0], questions, "preferred", 1)
    assert preferred["continued"] == 0
    rewritten = values.interactive_turn({**raw, "rewrite": " Better. "}, [1, 0], questions, "preferred", 1)
    assert (rewritten["continued"], rewritten["rewrite"]) == ("rewrite", "Better.")
    with pytest.raises(values.LabelError, match="must name the instruction"):
        values.interactive_turn({**raw, "flags": {"A": " "}}, [0, 1], questions, "random", 0)
    with pytest.raises(values.LabelError, match="both sides"):
        values.interactive_turn({**raw, "answers": {"A": answers["A"]}}, [0, 1], questions, "random", 0)


def test_queue_settings_are_checked_before_anything_is_written(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    cards = tmp_path / "cards.jsonl"
    cards.write_text("\n".join(json.dumps(c) for c in CARDS) + "\n")
    write_pool(tmp_path / "pool.yaml", free_port(), "m")
    with pytest.raises(UserError, match="no model 'hot' in the pool"):
        create_queue(lake, source=str(cards), settings=InteractiveSettings(pool=tmp_path / "pool.yaml", models=["hot"]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"character": {"name": "X"}, "scenario": {"title": "t"}}) + "\n")
    with pytest.raises(UserError, match=r"bad\.jsonl: item 0: scenario\.challenge"):
        create_queue(lake, source=str(bad), settings=InteractiveSettings(pool=tmp_path / "pool.yaml", models=["warm"]))
    one = create_queue(
        lake, source=str(cards), settings=InteractiveSettings(pool=tmp_path / "pool.yaml", models=["warm"])
    )
    assert one.added == 2 and one.queue.spec["models"] == ["warm"]
    with Store.for_lake(lake) as store, pytest.raises(StoreError, match="not an open chat"):
        store.add_turn(1, "nobody", 0, [], [], [0, 1], 0, 0.0)


def test_a_store_from_before_the_interactive_kind_is_migrated_on_open(tmp_path):
    """A schema-2 store (its CHECK on kind lists four kinds, no turn tables) opens as schema 3: its queues
    and labels stay, and an interactive queue can be created in it."""
    import sqlite3

    from labeling_app import store as store_module

    path = tmp_path / "labels.sqlite"
    old = store_module.SCHEMA.split("CREATE TABLE IF NOT EXISTS turns")[0]
    old = old.replace(", 'interactive'", "")
    con = sqlite3.connect(path)
    con.executescript(old)
    con.execute(
        "INSERT INTO queues (name, kind, per_item, source, spec, created_at, created_by) "
        "VALUES ('old', 'rating', 1, 'sql', '{}', 0, 'cli')"
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        con.execute(
            "INSERT INTO queues (name, kind, per_item, source, spec, created_at, created_by) "
            "VALUES ('new', 'interactive', 1, 'x', '{}', 0, 'cli')"
        )
    con.close()
    with Store(path) as store:
        assert [q.name for q in store.queues()] == ["old"]
        queue = store.create_queue("chats", "interactive", 1, "cards.yaml", {"guideline_version": "v"}, "cli")
        assert queue.kind == "interactive" and store.turns(queue.queue_id) == []
        assert store.con.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        assert store.con.execute("PRAGMA foreign_key_check").fetchall() == []


def test_erasing_a_chat_removes_its_turns_and_labels_and_keeps_them_append_only(tmp_path):
    import sqlite3

    spec = {"guideline_version": "v", "continuation": "random", "questions": [{"id": "templated", "text": "?"}]}
    with Store(tmp_path / "labels.sqlite") as store:
        queue = store.create_queue("chats", "interactive", 1, "cards.yaml", spec, "cli")
        store.add_tasks(queue.queue_id, [("card-1", {"character": {"name": "Mira"}, "prompt": [], "candidates": []})])
        task_id = store.next_task(queue.queue_id, "ann").task.task_id
        candidates = [{"model": "a", "text": "one"}, {"model": "b", "text": "two"}]
        turn = store.add_turn(task_id, "ann", 0, [{"role": "user", "content": "hi"}], candidates, [1, 0], 5, 0.1)
        answers = {"A": {"templated": "no"}, "B": {"templated": "yes"}}
        assert store.label_turn(turn["turn_id"], "ann", {"choice": "tie", "answers": answers}).created
        assert not store.label_turn(turn["turn_id"], "ann", {"choice": "A", "answers": answers}).created, "once"
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.con.execute("DELETE FROM turn_labels")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.con.execute("UPDATE turn_labels SET value = '{}'")
        counts = store.erase_tasks([task_id])
        assert counts["tasks"] == 1 and store.turns(queue.queue_id) == []
        trigger = "SELECT count(*) FROM sqlite_master WHERE name = 'turn_labels_no_delete'"
        assert store.con.execute(trigger).fetchone()[0] == 1


def test_the_cli_makes_a_queue_from_the_lakes_characters_and_refuses_three_models(tmp_path):
    lake = make_lake(tmp_path / "lake", [conversation(i) for i in range(4)])
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        yaml.safe_dump([{"title": "AI?", "challenge": "Ask."}, {"title": "Off", "challenge": "Stray."}])
    )
    write_pool(tmp_path / "pool.yaml", free_port(), "m")
    common = ["label", "queue", "interactive", "--lake", str(lake), "--pool", str(tmp_path / "pool.yaml")]
    done = subprocess.run(
        [*FLYWHEEL, *common, "--cards", "characters", "--scenarios", str(scenarios), "--models", "warm,cold"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "4 character x scenario items added" in done.stdout and "continuation random" in done.stdout
    with Store.for_lake(lake, read_only=True) as store:
        names = sorted({t.payload["character"]["name"] for t in store.tasks()})
    assert names == ["Captain Mira", "Chef Bruno"]
    bad = subprocess.run(
        [*FLYWHEEL, *common, "--cards", "characters", "--scenarios", str(scenarios), "--models", "a,b,c"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "models" in bad.stderr and "Traceback" not in bad.stderr
