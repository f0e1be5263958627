"""The labeling app in a real browser: Debian's Chromium, headless, against a real `flywheel label serve`.

It signs in with a token, labels two pairwise items by clicking and one with Alt+1, checks that typing
digits in the reason box fires nothing while Alt+0 from inside it submits a tie with the typed reason,
and checks that HTML in a reply stays text. The store is then read back from SQLite. Then: plain keys
pick and Space submits; an 11-message item fits a 1366x768 screen (candidates and choice bar in view,
element boxes compared with docs/img/labeling.layout.json; `FLYWHEEL_SCREENSHOT_DIR=docs/img` rewrites the
README screenshot and that file); a reload keeps the annotator signed in until they sign out.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from labeling_app import annotators
from labeling_app.queues import create_queue
from labeling_app.sources import REGENERATIONS_SQL
from labeling_app.store import Store
from tests.helpers.cli import FLYWHEEL
from tests.helpers.label_lake import conversation, long_regeneration, make_lake

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
INJECTED = '<b id="injected">bold?</b> **not bold** <script>window.pwned = 1</script>'
LAPTOP = {"width": 1366, "height": 768}
LAYOUT_FILE = Path(__file__).resolve().parents[2] / "docs" / "img" / "labeling.layout.json"
LAYOUT_TOLERANCE_PX = 64

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ANNOTATORS = ("ana", "kim", "lay", "rel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("the labeling app did not start")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (.ci/run does it)")
    conversations = [conversation(i, regenerate=True) for i in range(6)]
    conversations[0]["messages"][2]["content"] = INJECTED
    lake = make_lake(tmp_path_factory.mktemp("browser") / "lake", [*conversations, long_regeneration(100)])
    create_queue(lake, kind="pairwise", source="regenerations", per_item=1, name="pairs")
    # The reload test has its own queue, so whether it gets an item does not depend on what the tests before it
    # left unlabeled in "pairs" (one label per item; in the full file it found none and timed out).
    create_queue(lake, kind="pairwise", source="regenerations", per_item=1, name="reload")
    long_only = REGENERATIONS_SQL.replace("WHERE o.regenerated", "WHERE o.regenerated AND o.conversation_id = 'c0100'")
    create_queue(lake, kind="pairwise", source=long_only, per_item=3, name="long")
    tokens = {name: annotators.add(annotators.default_path(lake), name, "annotator")[1] for name in ANNOTATORS}
    port = _free_port()
    process = subprocess.Popen(
        [*FLYWHEEL, "label", "serve", "--lake", str(lake), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, lake, tokens
    finally:
        process.terminate()
        process.wait(timeout=20)


def _labels(lake: Path) -> list[dict]:
    with Store.for_lake(lake, read_only=True) as store:
        return store.labels()


def _wait_for_labels(lake: Path, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        labels = _labels(lake)
        if len(labels) >= count:
            return labels
        time.sleep(0.1)
    raise AssertionError(f"expected {count} labels in the store, found {len(_labels(lake))}")


def _idle(page) -> None:
    """Wait until the script run is over: no status widget, no stale elements left from the last run."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')",
        timeout=20_000,
    )


def _current_task(page) -> int:
    """The item on screen, once its page has finished rendering."""
    page.wait_for_function("() => /[?&]task=\\d+/.test(window.location.search)", timeout=20_000)
    task = int(re.search(r"[?&]task=(\d+)", page.url).group(1))
    from playwright.sync_api import expect

    page.get_by_text(f"item {task}", exact=False).first.wait_for(timeout=20_000)
    _idle(page)
    expect(page.get_by_role("button", name=re.compile(r"^A > B"))).to_have_count(1, timeout=20_000)
    _idle(page)
    return task


def _next_task(page, previous: int) -> int:
    page.wait_for_function(f"() => !window.location.search.includes('task={previous}')", timeout=20_000)
    return _current_task(page)


def test_sign_in_label_with_clicks_and_shortcuts(served):
    from playwright.sync_api import sync_playwright

    url, lake, tokens = served
    token = tokens["ana"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url + "/?queue=pairs")
        assert page.get_by_role("button", name=re.compile(r"^A > B")).count() == 0
        page.get_by_label("Annotator token").fill(token)
        page.get_by_role("button", name="Sign in").click()

        first = _current_task(page)
        assert first == 1, "least-labeled first, then lowest id: item 1 carries the HTML reply"
        assert page.locator("#injected").count() == 0
        assert page.evaluate("() => window.pwned === undefined")
        assert page.get_by_text(INJECTED, exact=True).count() == 1
        page.get_by_role("button", name=re.compile(r"^A > B")).click()
        _wait_for_labels(lake, 1)

        second = _next_task(page, first)
        page.get_by_role("button", name=re.compile(r"^B > A")).click()
        _wait_for_labels(lake, 2)

        third = _next_task(page, second)
        page.keyboard.press("Alt+1")
        _wait_for_labels(lake, 3)

        fourth = _next_task(page, third)
        reason = page.get_by_label("Reason (optional)")
        reason.click()
        reason.type("both fine 1 2 0")
        time.sleep(1.0)
        assert len(_labels(lake)) == 3, "typing digits in the reason box must not fire a shortcut"
        page.keyboard.press("Alt+0")
        labels = _wait_for_labels(lake, 4)
        browser.close()

    by_task = {lab["task_id"]: lab for lab in labels}
    assert [by_task[t]["value"]["choice"] for t in (first, second, third, fourth)] == ["A", "B", "A", "tie"]
    assert by_task[fourth]["value"]["reason"] == "both fine 1 2 0"
    for task in (first, second, third):
        label = by_task[task]
        shown_as = "A" if label["value"]["choice"] == "A" else "B"
        assert label["value"]["preferred"] == label["side_mapping"][shown_as]
    assert {lab["annotator"] for lab in labels} == {"ana"}
    assert all(lab["seconds"] is not None and lab["seconds"] >= 0 for lab in labels)


def _browser(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _sign_in(page, url: str, token: str, queue: str) -> None:
    page.goto(f"{url}/?queue={queue}")
    page.get_by_label("Annotator token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def _rgb(page, locator) -> tuple[int, int, int]:
    colour = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    return tuple(int(v) for v in re.findall(r"\d+", colour)[:3])


def test_plain_keys_pick_and_space_submits(served):
    from playwright.sync_api import expect, sync_playwright

    url, lake, tokens = served
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        _sign_in(page, url, tokens["kim"], "pairs")
        task = _current_task(page)
        page.locator('[class*="st-key-plain_keys"] button').first.wait_for(state="attached")
        page.locator('[data-testid="stChatMessage"]').first.click()  # the page, not a text box, has the focus
        page.keyboard.press("2")
        expect(page.get_by_text("Picked A > B", exact=False)).to_be_visible(timeout=20_000)
        _idle(page)
        picked = page.get_by_role("button", name=re.compile(r"^A > B"))
        red, green, blue = _rgb(page, picked)
        assert blue > red, f"the pick is highlighted in the theme's blue, not red: {(red, green, blue)}"
        assert len([lab for lab in _labels(lake) if lab["annotator"] == "kim"]) == 0, "a pick alone stores nothing"
        page.keyboard.press("Space")
        deadline = time.monotonic() + 20
        while not (mine := [lab for lab in _labels(lake) if lab["annotator"] == "kim"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        browser.close()
    assert [(lab["task_id"], lab["value"]["choice"], lab["value"]["strength"]) for lab in mine] == [(task, "A", None)]


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return {k: round(v) for k, v in box.items()}


def test_an_eleven_message_item_fits_a_1366x768_screen(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, lake, tokens = served
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport=LAPTOP)
        _sign_in(page, url, tokens["lay"], "long")
        _current_task(page)
        expect(page.get_by_text("Earlier messages (9)")).to_be_visible()
        assert page.locator('[data-testid="stChatMessage"]:visible').count() == 2, "9 folded + 2 shown = 11"
        boxes = {
            name: _box(page, selector)
            for name, selector in (
                ("candidate_a", ".st-key-candidate-a"),
                ("candidate_b", ".st-key-candidate-b"),
                ("choice_bar", ".st-key-choice_bar"),
            )
        }
        buttons = {
            label: page.get_by_role("button", name=re.compile("^" + re.escape(label))).bounding_box()
            for label in ("A ≫ B", "A > B", "Tie", "B > A", "B ≫ A", "Submit")
        }
        colours = {label: _rgb(page, page.get_by_role("button", name=re.compile("^" + label))) for label in ("A > B",)}
        shot = Path(os.environ.get("FLYWHEEL_SCREENSHOT_DIR") or tmp_path)
        page.screenshot(path=str(shot / "labeling.png"))
        browser.close()
    bar = boxes["choice_bar"]
    a, b = boxes["candidate_a"], boxes["candidate_b"]
    assert a["y"] == b["y"] and a["x"] + a["width"] <= b["x"], "A and B side by side"
    for name in ("candidate_a", "candidate_b"):
        box = boxes[name]
        assert box["y"] >= 0 and box["y"] + box["height"] <= bar["y"] + 2, f"{name} is in view above the bar"
    assert bar["y"] + bar["height"] <= LAPTOP["height"], "the choice bar is in view"
    for label, box in buttons.items():
        assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], f"{label} is in view"
        assert box["x"] + box["width"] <= LAPTOP["width"]
    red, green, blue = colours["A > B"]
    assert not (red > 150 and green < 120 and blue < 120), f"A > B is not in a danger colour: {colours}"
    if os.environ.get("FLYWHEEL_SCREENSHOT_DIR"):
        LAYOUT_FILE.write_text(json.dumps(boxes, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(LAYOUT_FILE.read_text())
    for name, box in recorded.items():
        drift = max(abs(box[k] - boxes[name][k]) for k in ("x", "y", "width", "height"))
        assert drift <= LAYOUT_TOLERANCE_PX, f"{name} moved {drift} px from the README screenshot's layout"


def test_a_reload_keeps_the_annotator_signed_in_until_sign_out(served):
    from playwright.sync_api import expect, sync_playwright

    url, _, tokens = served
    token = tokens["rel"]
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _sign_in(page, url, token, "reload")
        signed_in = page.get_by_text("Signed in as rel (annotator)")
        expect(signed_in).to_be_visible(timeout=20_000)
        _current_task(page)
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["flywheel_label_session"]
        assert session["value"].startswith("rel:") and token not in session["value"]
        assert session["sameSite"] == "Strict" and session["expires"] > time.time() + 3600
        assert token not in page.url
        page.reload()
        expect(signed_in).to_be_visible(timeout=20_000)
        assert page.get_by_label("Annotator token").count() == 0, "no second sign-in after a reload"
        _current_task(page)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("Annotator token")).to_be_visible(timeout=20_000)
        _idle(page)
        page.wait_for_function("() => !document.cookie.includes('flywheel_label_session=rel')", timeout=20_000)
        page.reload()
        expect(page.get_by_label("Annotator token")).to_be_visible(timeout=20_000)
        assert signed_in.count() == 0, "signed out stays signed out after a reload"
        browser.close()
