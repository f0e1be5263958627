"""The Streamlit app through AppTest: sign-in, every task kind, routing, skips, bad input, review, admin."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from labeling_app import annotators
from labeling_app.queues import create_queue
from labeling_app.settings import APP_SCRIPT
from labeling_app.store import Store
from labeling_app.ui import render
from tests.helpers.label_lake import conversation, make_lake

BIG_REPLY = ("A very long reply. " * 5_300)[:100_000]
MARKUP_REPLY = '# Title\n**bold** [link](http://example.com) <img src=x onerror="alert(1)"> <b>html</b>'
SINGLE = "SELECT * FROM samples WHERE conversation_id IN ('c0001', 'c0002', 'c0004') ORDER BY sample_id"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A lake with one queue of each kind, a bad-input queue, an annotator pair and a reviewer."""
    conversations = [conversation(i, regenerate=i % 3 == 0) for i in range(8)]
    long_one = conversation(100, turns=100)
    long_one["messages"][-1]["content"] = BIG_REPLY
    markup = conversation(101)
    markup["messages"][1]["content"] = MARKUP_REPLY
    lake = make_lake(tmp_path_factory.mktemp("app") / "lake", conversations + [long_one, markup])
    create_queue(lake, kind="pairwise", source="regenerations", per_item=2, name="pairs")
    for kind in ("questionnaire", "rating", "rewrite"):
        create_queue(lake, kind=kind, source=SINGLE, per_item=2, name=kind)
    create_queue(
        lake,
        kind="rating",
        per_item=1,
        name="bad-input",
        source="SELECT * FROM samples WHERE conversation_id IN ('c0100', 'c0101') AND "
        "(turn = 199 OR (conversation_id = 'c0101' AND turn = 1)) ORDER BY conversation_id",
    )
    path = annotators.default_path(lake)
    tokens = {
        name: annotators.add(path, name, role)[1]
        for name, role in (("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer"))
    }
    return lake, tokens


@pytest.fixture
def lake(template, tmp_path):
    source, tokens = template
    from lakehouse import catalog
    from lakehouse.lake import Lake

    copy = tmp_path / "lake"
    shutil.copytree(source, copy)
    # the copied catalog's views name the template's files, which the locked read-only SQL of the Admin
    # page may not read: rebuild it for the copy
    catalog.refresh(Lake(copy))
    return copy, tokens


@pytest.fixture(autouse=True)
def fresh_sign_in_limiter(monkeypatch):
    """Each test starts with no failed sign-ins on record: the limiter is process-wide, and a test that
    types a wrong token must not make the next test's right one wait out its backoff."""
    from labeling_app import signin

    monkeypatch.setattr(signin, "LIMITER", signin.SignInLimiter())


def app(lake_dir, monkeypatch, *, local: bool = False, queue: str | None = None) -> AppTest:
    monkeypatch.setenv("FLYWHEEL_LAKE", str(lake_dir))
    monkeypatch.setenv("FLYWHEEL_LABEL_LOCAL_MODE", "1" if local else "0")
    monkeypatch.delenv("FLYWHEEL_LABEL_ANNOTATORS", raising=False)
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    if queue:
        at.query_params["queue"] = queue
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def sign_in(at: AppTest, token: str) -> AppTest:
    at.run()
    at.text_input(key="login_token").input(token)
    return button(at, "Sign in").click().run()


def task_id(at: AppTest) -> int:
    return int(at.query_params["task"])


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def store_labels(lake_dir) -> list[dict]:
    with Store.for_lake(lake_dir, read_only=True) as store:
        return store.labels()


# -- sign-in ---------------------------------------------------------------------------------------------


def test_nothing_is_visible_without_a_token(lake, monkeypatch):
    lake_dir, _ = lake
    at = app(lake_dir, monkeypatch, queue="pairs").run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert texts(at) == [] and len(at.chat_message) == 0 and len(at.sidebar.radio) == 0


def test_unknown_token_is_refused(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), "fwl_" + "x" * 43)
    assert [e.value for e in at.error] == ["Unknown token."]
    assert [b.label for b in at.button] == ["Sign in"] and len(at.chat_message) == 0
    assert "user_name" not in at.session_state


def test_local_mode_needs_no_token(lake, monkeypatch):
    lake_dir, _ = lake
    at = app(lake_dir, monkeypatch, local=True, queue="pairs").run()
    assert "Signed in as local (reviewer) in local mode" in texts(at)
    assert at.sidebar.radio(key="page").options == ["Label", "Review", "Admin"]


def test_annotators_see_only_the_label_page(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    assert at.sidebar.radio(key="page").options == ["Label"]


# -- every task kind -------------------------------------------------------------------------------------


def test_pairwise_choice_is_mapped_back_through_the_sides(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    first = task_id(at)
    with Store.for_lake(lake_dir, read_only=True) as store:
        sides = store.assignment(first, "ann").sides
        candidates = store.task(first).payload["candidates"]
    shown = texts(at)
    assert shown.index(candidates[sides[0]]["text"]) < shown.index(candidates[sides[1]]["text"]), "A is left of B"
    at.text_input(key=f"reason-{first}").input("B refuses for no reason")
    at.button(key=f"pairwise-A-strong-{first}").click().run()
    assert task_id(at) != first and [t.value for t in at.toast] == [f"Saved item {first}."]
    (label,) = store_labels(lake_dir)
    assert label["value"] == {
        "choice": "A",
        "preferred": sides[0],
        "tie": False,
        "strength": "strong",
        "reason": "B refuses for no reason",
    }
    assert label["side_mapping"] == {"A": sides[0], "B": sides[1]} and label["guideline_version"]


def test_questionnaire_needs_every_answer(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="questionnaire"), tokens["ann"])
    task = task_id(at)
    questions = ["false_refusal", "templated", "breaks_persona", "violates_instruction", "unsafe"]
    assert at.button(key=f"q-submit-{task}").disabled
    answers = dict(zip(questions, ["no", "yes", "no", "unsure", "no"], strict=True))
    for question, answer in answers.items():
        at.button(key=f"q-{task}-{question}-{answer}").click().run()
    at.button(key=f"q-{task}-templated-no").click().run()  # change of mind before submitting
    answers["templated"] = "no"
    assert not at.button(key=f"q-submit-{task}").disabled
    at.button(key=f"q-submit-{task}").click().run()
    (label,) = store_labels(lake_dir)
    assert label["value"]["answers"] == answers and task_id(at) != task


def test_rating_stores_the_score(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="rating"), tokens["ann"])
    task = task_id(at)
    at.text_input(key=f"note-{task}").input("witty")
    at.button(key=f"rating-4-{task}").click().run()
    (label,) = store_labels(lake_dir)
    assert label["value"] == {"score": 4, "note": "witty"}


def test_rewrite_shows_and_stores_the_diff(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="rewrite"), tokens["ann"])
    task = task_id(at)
    original = at.text_area(key=f"rewrite-{task}").value
    at.text_area(key=f"rewrite-{task}").input(original + "\nAnd what brings you aboard today?")
    at.button(key=f"diff-{task}").click().run()
    assert "+And what brings you aboard today?" in at.code[0].value
    at.button(key=f"submit-{task}").click().run()
    (label,) = store_labels(lake_dir)
    assert label["value"]["changed"] and "+And what brings you aboard today?" in label["value"]["diff"]
    assert label["value"]["text"].startswith(original)


# -- routing ---------------------------------------------------------------------------------------------


def test_routing_is_blind_distinct_and_least_labeled_first(lake, monkeypatch):
    lake_dir, tokens = lake
    ann = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    first = task_id(ann)
    ann.text_input(key=f"reason-{first}").input("SECRET-REASON-OF-ANN")
    ann.button(key=f"pairwise-tie-None-{first}").click().run()
    bob = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["bob"])
    assert task_id(bob) != first, "an untouched item comes before one already labeled"
    seen_by_bob = []
    while bob.query_params.get("task"):
        current = task_id(bob)
        assert not any("SECRET-REASON" in t for t in texts(bob) + [m.value for m in bob.markdown])
        seen_by_bob.append(current)
        bob.button(key=f"pairwise-B-None-{current}").click().run()
    assert len(seen_by_bob) == len(set(seen_by_bob)) == 3, "bob labels each of the three items once"
    assert "Nothing left for you in this queue. Thank you!" in [s.value for s in bob.success]
    with Store.for_lake(lake_dir, read_only=True) as store:
        assert store.task(first).n_labels == 2


def test_skip_needs_a_reason_and_moves_on(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="rating"), tokens["ann"])
    task = task_id(at)
    at.button(key=f"skip-{task}").click().run()
    assert "Pick a reason to skip this item." in [e.value for e in at.error] and task_id(at) == task
    at.radio(key=f"skip-reason-{task}").set_value("Garbled or broken text")
    at.text_input(key=f"skip-detail-{task}").input("half the reply is missing")
    at.button(key=f"skip-{task}").click().run()
    assert task_id(at) != task
    with Store.for_lake(lake_dir, read_only=True) as store:
        (skip,) = store.skips(store.queue("rating").queue_id)
    assert skip["skip_reason"] == "Garbled or broken text: half the reply is missing"


@pytest.mark.parametrize(
    "tampered, notice",
    [
        ("other-annotator", "is not assigned to you"),
        ("other-queue", "is not assigned to you"),
        ("99999", "is not assigned to you"),
        ("abc", "no valid item"),
        ("-3", "no valid item"),
        ("9" * 30, "no valid item"),
    ],
)
def test_tampered_task_id_in_the_address_is_refused(lake, monkeypatch, tampered, notice):
    lake_dir, tokens = lake
    bob = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["bob"])
    with Store.for_lake(lake_dir, read_only=True) as store:
        bobs_texts = [c["text"] for c in store.task(task_id(bob)).payload["candidates"]]
    if tampered == "other-annotator":
        value = str(task_id(bob))
    elif tampered == "other-queue":
        value = str(task_id(sign_in(app(lake_dir, monkeypatch, queue="rating"), tokens["ann"])))
    else:
        value = tampered
    at = app(lake_dir, monkeypatch, queue="pairs")
    at.query_params["task"] = value
    at = sign_in(at, tokens["ann"])
    assert not at.exception
    assert any(notice in w.value for w in at.warning)
    assert str(task_id(at)) != value, "the next item by routing is shown instead"
    assert not set(bobs_texts) & set(texts(at)), "nothing of someone else's item is shown"


# -- bad input -------------------------------------------------------------------------------------------


def test_long_context_big_reply_and_markup_render_as_text(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="bad-input"), tokens["ann"])
    assert not at.exception
    with Store.for_lake(lake_dir, read_only=True) as store:
        payload = store.task(task_id(at)).payload
    assert len([m for m in payload["prompt"] if m["role"] != "system"]) == 199
    assert len(at.chat_message) == 12, "long contexts show their last turns first"
    assert "Earlier messages (197)" in [e.label for e in at.expander], "all but the last two are folded"
    toggle = at.toggle(key=f"context-{task_id(at)}")
    assert toggle.label == "Show 187 more"
    toggle.set_value(True).run()
    assert len(at.chat_message) == 199
    assert BIG_REPLY in texts(at)
    at.button(key=f"rating-3-{task_id(at)}").click().run()
    assert MARKUP_REPLY in texts(at), "markdown and HTML are shown as the characters they are"
    rendered = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("<img" in m or "onerror" in m for m in rendered)


# -- plain keys, undo, names on bubbles ------------------------------------------------------------------


def test_plain_keys_pick_a_choice_and_space_submits_it(lake, monkeypatch):
    """Label Studio's keys: 1-5 pick (the picked button is highlighted), Space stores the pick."""
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    task = task_id(at)
    assert at.button(key=f"plain-{task}-2").proto.shortcut.lower() == "2"
    assert at.button(key=f"pairwise-submit-{task}").proto.shortcut.lower() == "space"
    at.button(key=f"pairwise-submit-{task}").click().run()
    assert [e.value for e in at.error] == ["Pick a choice first (keys 1-5), or click one."] and not store_labels(
        lake_dir
    )
    at.button(key=f"plain-{task}-2").click().run()
    assert at.button(key=f"pairwise-A-None-{task}").proto.type == "primary", "the pick is shown"
    assert at.button(key=f"pairwise-tie-None-{task}").proto.type == "secondary"
    at.button(key=f"plain-{task}-5").click().run()
    at.button(key=f"pairwise-submit-{task}").click().run()
    (label,) = store_labels(lake_dir)
    assert (label["value"]["choice"], label["value"]["strength"]) == ("B", "strong") and task_id(at) != task


def test_choice_buttons_are_not_in_a_danger_colour(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    task = task_id(at)
    kinds = {b.label: b.proto.type for b in at.button if b.key and b.key.startswith("pairwise-") and str(task) in b.key}
    assert set(kinds.values()) == {"secondary"}, "nothing is primary (coloured) until picked"
    from labeling_app.cli import PRIMARY_COLOR

    red, green, blue = (int(PRIMARY_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    assert blue > red, "the theme's primary colour (a pick) is blue, not Streamlit's red"


def test_rating_digits_pick_and_anchors_are_shown_in_full(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="rating"), tokens["ann"])
    task = task_id(at)
    labels = [at.button(key=f"rating-{s}-{task}").label for s in range(1, 6)]
    assert labels[0] == "1: Dull: a user would leave" and labels[4] == "5: Delightful: a user would keep chatting"
    legend = next(c.value for c in at.caption if c.value.startswith("**1**"))
    assert "Dull: a user would leave" in legend.replace("\\", "")
    assert "Delightful: a user would keep chatting" in legend.replace("\\", ""), "every anchor in full"
    at.button(key=f"plain-{task}-4").click().run()
    at.button(key=f"rating-submit-{task}").click().run()
    (label,) = store_labels(lake_dir)
    assert label["value"]["score"] == 4


def test_questionnaire_plain_keys_answer_the_marked_question(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="questionnaire"), tokens["ann"])
    task = task_id(at)
    for key in ("2", "1", "2", "3", "2"):  # no, yes, no, unsure, no
        at.button(key=f"plain-{task}-{key}").click().run()
    at.button(key=f"plain-{task}-Space").click().run()
    (label,) = store_labels(lake_dir)
    questions = ["false_refusal", "templated", "breaks_persona", "violates_instruction", "unsafe"]
    assert label["value"]["answers"] == dict(zip(questions, ["no", "yes", "no", "unsure", "no"], strict=True))


def test_undo_takes_back_the_last_label_and_shows_the_item_again(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    first = task_id(at)
    at.button(key=f"pairwise-A-None-{first}").click().run()
    assert task_id(at) != first
    undo = at.sidebar.button(key="undo")
    assert undo.label == f"Undo label on item {first}"
    undo.click().run()
    assert task_id(at) == first, "the undone item is on screen again"
    assert store_labels(lake_dir) == []
    assert [t.value for t in at.toast] == [f"Undid the label on item {first}: label it again."]
    assert not [b for b in at.sidebar.button if b.key == "undo"], "nothing left to undo"
    at.button(key=f"pairwise-B-None-{first}").click().run()
    (label,) = store_labels(lake_dir)
    assert label["value"]["choice"] == "B"
    with Store.for_lake(lake_dir, read_only=True) as store:
        assert len(store.labels(include_retracted=True)) == 2, "the undone label stays in the history"


def test_undo_after_the_window_is_refused(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["ann"])
    first = task_id(at)
    at.button(key=f"pairwise-A-None-{first}").click().run()
    at.session_state["last_label"] = {**at.session_state["last_label"], "at": 0.0}
    at.run()
    assert not [b for b in at.sidebar.button if b.key == "undo"]
    assert len(store_labels(lake_dir)) == 1


def test_bubbles_are_labeled_with_the_role_or_the_character(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="bad-input"), tokens["ann"])
    with Store.for_lake(lake_dir, read_only=True) as store:
        character = store.task(task_id(at)).payload["character"]["name"]
    captions = [c.value for m in at.chat_message for c in m.caption]
    assert set(captions) == {"User", render.md_escape(character)} and len(captions) == len(at.chat_message)


# -- reviewers and sign-in limits ------------------------------------------------------------------------


def test_reviewers_land_on_review_and_lease_nothing_until_they_ask(lake, monkeypatch):
    lake_dir, tokens = lake
    at = sign_in(app(lake_dir, monkeypatch, queue="pairs"), tokens["rev"])
    assert at.sidebar.radio(key="page").value == "Review"
    at.sidebar.radio(key="page").set_value("Label").run()
    assert "task" not in at.query_params
    with Store.for_lake(lake_dir, read_only=True) as store:
        assert store.annotator_progress() == [], "no item is held for the reviewer"
    next(b for b in at.button if b.label == "Label items in this queue").click().run()
    assert task_id(at) > 0
    with Store.for_lake(lake_dir, read_only=True) as store:
        assert [r["annotator"] for r in store.annotator_progress()] == ["rev"]


def test_wrong_tokens_are_slowed_down_and_counted_globally(lake, monkeypatch):
    """30 wrong tokens in a burst: only the first reaches the annotators file; the right token must
    also wait out the backoff, then works."""
    from labeling_app import signin

    lake_dir, tokens = lake
    clock = [100.0]
    monkeypatch.setattr(signin, "LIMITER", signin.SignInLimiter(clock=lambda: clock[0]))
    checked = []
    real = annotators.authenticate
    monkeypatch.setattr(annotators, "authenticate", lambda path, token: checked.append(token) or real(path, token))
    at = app(lake_dir, monkeypatch, queue="pairs").run()
    for i in range(30):
        at.text_input(key="login_token").input(f"fwl_wrong{i}")
        button(at, "Sign in").click().run()
    assert len(checked) == 1
    assert [e.value for e in at.error] == ["Too many sign-in attempts: try again in 1 s."]
    at.text_input(key="login_token").input(tokens["ann"])
    button(at, "Sign in").click().run()
    assert "user_name" not in at.session_state
    clock[0] += 1.0
    at.text_input(key="login_token").input(tokens["ann"])
    button(at, "Sign in").click().run()
    assert at.session_state["user_name"] == "ann" and len(checked) == 2


# -- review and admin ------------------------------------------------------------------------------------


def _label_pairs_with_disagreement(lake_dir) -> int:
    """ann and bob label every pair; on the first item they disagree."""
    with Store.for_lake(lake_dir) as store:
        queue = store.queue("pairs")
        disputed = None
        for name in ("ann", "bob"):
            while (a := store.next_task(queue.queue_id, name)) is not None:
                disputed = disputed or a.task.task_id
                preferred_side = "A" if a.sides[0] == 0 else "B"  # both prefer candidate 0 ...
                if name == "bob" and a.task.task_id == disputed:
                    preferred_side = "B" if preferred_side == "A" else "A"  # ... except bob on the first item
                store.submit(a.task.task_id, name, "annotator", {"choice": preferred_side})
    return disputed


def test_review_shows_agreement_and_adjudication_is_stored(lake, monkeypatch):
    lake_dir, tokens = lake
    disputed = _label_pairs_with_disagreement(lake_dir)
    annotator_view = sign_in(app(lake_dir, monkeypatch), tokens["ann"])
    assert "Review" not in annotator_view.sidebar.radio(key="page").options
    at = sign_in(app(lake_dir, monkeypatch), tokens["rev"])
    assert at.sidebar.radio(key="page").value == "Review", "reviewers land on the Review page"
    at.selectbox(key="review_queue").set_value("pairs").run()
    assert not at.exception
    queues = at.dataframe[0].value
    assert list(queues["queue"]) == ["pairs", "questionnaire", "rating", "rewrite", "bad-input"]
    per_annotator = at.dataframe[1].value
    assert set(per_annotator["annotator"]) == {"ann", "bob"}
    agreement = at.dataframe[2].value
    assert agreement["items with 2+ labels"].tolist() == [3] and agreement["kept"].tolist() == [2]
    assert float(agreement["Krippendorff's alpha"].tolist()[0]) < 1
    assert at.selectbox(key="adjudicate-1").options == [f"item {disputed}"]
    at.radio[0].set_value("B")
    at.text_input[0].input("candidate 2 stays in character")
    next(b for b in at.button if b.label == "Store decision").click().run()
    assert f"Adjudicated item {disputed}." in [s.value for s in at.success]
    decision = [lab for lab in store_labels(lake_dir) if lab["is_adjudication"]]
    assert len(decision) == 1 and decision[0]["annotator"] == "rev" and decision[0]["value"]["preferred"] == 1
    assert "No disagreements to adjudicate in this queue." in [s.value for s in at.success]


def test_admin_creates_a_queue_and_names_missing_columns(lake, monkeypatch):
    lake_dir, _ = lake
    at = app(lake_dir, monkeypatch, local=True).run()
    at.sidebar.radio(key="page").set_value("Admin").run()
    at.text_input(key="admin_name").input("fresh")
    at.selectbox(key="admin_kind").set_value("pairwise")
    at.text_area(key="admin_source").input("SELECT sample_id, prompt, response FROM samples")
    next(b for b in at.button if b.label == "Create queue").click().run()
    (error,) = at.error
    assert "response\\_a" in error.value and "sample\\_id\\_b" in error.value
    at.selectbox(key="admin_kind").set_value("rating")
    at.text_area(key="admin_source").input("SELECT sample_id, prompt, response FROM samples WHERE turn = 1")
    next(b for b in at.button if b.label == "Create queue").click().run()
    assert any("queue 'fresh' (rating" in s.value.replace("\\", "") for s in at.success)
    with Store.for_lake(lake_dir, read_only=True) as store:
        assert store.queue("fresh").created_by == "local"
