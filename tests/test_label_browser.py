"""The labeling app in a real browser: Debian's Chromium, headless, against a real `flywheel label serve`.

It signs in with a token, labels two pairwise items by clicking and one with Alt+1, checks that typing
digits in the reason box fires nothing while Alt+0 from inside it submits a tie with the typed reason,
and checks that HTML in a reply stays text. The store is then read back from SQLite.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labeling_app import annotators
from labeling_app.queues import create_queue
from labeling_app.store import Store
from tests.label_lake import conversation, make_lake

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
INJECTED = '<b id="injected">bold?</b> **not bold** <script>window.pwned = 1</script>'

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
    lake = make_lake(tmp_path_factory.mktemp("browser") / "lake", conversations)
    create_queue(lake, kind="pairwise", source="regenerations", per_item=1, name="pairs")
    _, token = annotators.add(annotators.default_path(lake), "ana", "annotator")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from lakehouse.cli import main; main()",
            "label",
            "serve",
            "--lake",
            str(lake),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, lake, token
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

    url, lake, token = served
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
