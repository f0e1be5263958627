"""Shared fixtures. Real-data tests read ../shared/data; they skip when it is missing, unless
FLYWHEEL_REQUIRE_SHARED=1 (as in CI), where a missing file is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

ROOT = Path(__file__).resolve().parent.parent
# FLYWHEEL_SHARED_DATA points elsewhere (a git worktree does not sit beside shared/).
SHARED_DATA = Path(os.environ.get("FLYWHEEL_SHARED_DATA") or ROOT.parent / "shared" / "data")
HH_FILE = "hh-rlhf-harmless-base-test-1500.jsonl.gz"
PERSONA_FILE = "synthetic-persona-chat-valid.csv"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("FLYWHEEL_REQUIRE_SHARED") == "1":
            pytest.fail(f"FLYWHEEL_REQUIRE_SHARED=1 but {path} is missing")
        pytest.skip(f"real data {path} not present (a clone outside the workspace); see ../shared/data/README.md")
    return path


@pytest.fixture(scope="session")
def simulated_lake(tmp_path_factory):
    """Simulated traffic run through ingest, scrub, dedup and release (tests/helpers/sim_lake.py), built
    once per session (the scrub stage reads every message with spaCy); a test that writes to it works on a
    copy (tests.helpers.release_lakes.copy_lake)."""
    from tests.helpers import sim_lake

    return sim_lake.build(tmp_path_factory.mktemp("sim-lake") / "lake")


@pytest.fixture(scope="session")
def hh_path() -> Path:
    """The 1,500 hh-rlhf harmless-base test pairs."""
    return _shared(HH_FILE)


@pytest.fixture(scope="session")
def persona_chat_path() -> Path:
    """The 1,000 Synthetic-Persona-Chat validation conversations."""
    return _shared(PERSONA_FILE)
