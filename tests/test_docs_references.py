"""The code points readers at docs/architecture.md sections by name ("docs/architecture.md, Labels"): every
such section exists, and nothing points at the design document outside the repository any more."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# "docs/architecture.md, Labels", "docs/architecture.md: The traffic record, The lake", "(docs/architecture.md,\nThe ...)"
REFERENCE = re.compile(r"docs/architecture\.md[,:]\s*(?:#\s*)?\(?([A-Z][^.;)\n]*(?:\n\s*#?\s*[^.;)\n]+)?)")


def _tracked_sources() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.split() if not name.startswith("tests/")]


def _headings() -> set[str]:
    return {line.lstrip("#").strip() for line in ARCHITECTURE.read_text().splitlines() if line.startswith("#")}


def test_every_section_the_code_names_exists_in_architecture_md():
    headings = _headings()
    named = {}
    for path in _tracked_sources():
        for match in REFERENCE.finditer(path.read_text(encoding="utf-8")):
            text = re.sub(r"\s*\n\s*#?\s*", " ", match.group(1))
            for part in text.split(","):
                named.setdefault(part.strip(), path.relative_to(ROOT))
    assert len(named) >= 5  # the pattern still finds the references
    missing = {name: str(where) for name, where in named.items() if name not in headings}
    assert not missing, f"sections named in code but not in docs/architecture.md: {missing}"


def test_nothing_points_at_the_design_document_outside_the_repository():
    offenders = [
        str(path.relative_to(ROOT)) for path in _tracked_sources() if re.search(r"\bDESIGN \d", path.read_text())
    ]
    offenders += [str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md") if "DESIGN" in p.read_text()]
    assert offenders == []


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_every_module_path_the_docs_name_exists(doc):
    """Renamed modules leave no stale path behind in the pages that say where things are."""
    paths = re.findall(
        r"`((?:lakehouse|curation|labeling_app|train|benchmarks|tests)/[\w/.-]*)`", (ROOT / doc).read_text()
    )
    assert len(paths) >= 5
    missing = sorted({p for p in paths if "NAME" not in p and not (ROOT / p).exists()})
    assert missing == []
