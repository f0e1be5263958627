"""The docs run as written: every shell block of README.md and docs/*.md, against a small simulated lake.

A sandbox stands in for a fresh clone after `make curate`: the repository's configs, scripts and Makefile,
and a `.venv/bin/` holding `flywheel` and `python` (this interpreter, this tree first on the path) plus an
`activate` script, so the README's convention (`source .venv/bin/activate`, then bare `flywheel`) is what
runs. The README's first block is the setup: its `make curate` line runs for real, with
`SIM_CONVERSATIONS` shrunk (make's own variable); `make test` in it is this suite and does not run again.

Then every ```bash block runs in file order with `bash -e -o pipefail` in the sandbox (README first,
docs/*.md by name, docs/erasure.md last since it deletes users). Marks in the info string:
- `gpu`: needs a CUDA machine or the network (skipped, the one kind of block that is);
- `serve`: a server; it is started on a free port, must answer its health check, and is stopped.
An HTML comment right above a block, `<!-- docs-test: OLD => NEW; ... -->`, shrinks sizes for the test
(`--max-steps 30 => --max-steps 2`): the command is the documented one, only smaller; `exit N` says
the block's last command exits N as the doc says (a check that reports a failure). A block of commands
that is not tagged as shell (or as `text`, a synopsis with placeholders) fails the suite, so no command
escapes the test by losing its tag.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL = {"bash", "sh", "shell"}
BLOCK = re.compile(
    r"(?:<!--\s*docs-test:(?P<note>[^\n]*?)-->[ \t]*\n)?^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M
)
COMMAND_START = re.compile(r"^\s*(\$ )?(flywheel|make|\.venv/|scripts/|python)\b")
SIM_CONVERSATIONS = "120"  # the setup's lake: big enough for every release of configs/curate.yaml
BLOCK_TIMEOUT = 900  # per block; a loaded 2-core runner is slow

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    language: str
    marks: frozenset[str]
    body: str
    substitutions: tuple[tuple[str, str], ...] = field(default=())
    exit_code: int = 0  # `<!-- docs-test: exit 1 -->`: the doc says its last command exits 1 (a check that fails)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def script(self) -> str:
        body = self.body
        for old, new in self.substitutions:
            assert old in body, f"{self.id}: the docs-test note shrinks {old!r}, which the block no longer has"
            body = body.replace(old, new)
        return body


def _doc_files() -> list[Path]:
    docs = sorted((ROOT / "docs").glob("*.md"), key=lambda p: (p.name == "erasure.md", p.name))
    return [ROOT / "README.md", *docs]


def _substitutions(note: str | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in (note or "").split(";"):
        if "=>" in part:
            old, new = part.split("=>", 1)
            pairs.append((old.strip(), new.strip()))
    return tuple(pairs)


def all_blocks() -> list[Block]:
    found = []
    for path in _doc_files():
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            words = match.group("info").split()
            line = text.count("\n", 0, match.start("info")) + 1
            note = match.group("note")
            marks = set(words[1:]) | ({"setup"} if note and note.strip().startswith("setup") else set())
            found.append(
                Block(
                    str(path.relative_to(ROOT)),
                    line,
                    words[0] if words else "",
                    frozenset(marks),
                    match.group("body"),
                    _substitutions(note),
                    int(re.search(r"\bexit (\d+)", note).group(1)) if note and re.search(r"\bexit (\d+)", note) else 0,
                )
            )
    return found


SHELL_BLOCKS = [b for b in all_blocks() if b.language in SHELL]


def test_every_block_of_commands_is_tagged_so_the_docs_test_sees_it():
    untagged = [
        b.id
        for b in all_blocks()
        if b.language == "" and any(COMMAND_START.match(line) for line in b.body.splitlines())
    ]
    assert not untagged, f"tag these blocks ```bash (run by this test) or ```text (a synopsis): {untagged}"
    assert len(SHELL_BLOCKS) >= 15  # the pattern still finds the docs' blocks


def test_docs_test_notes_are_read_and_name_text_their_block_still_has():
    noted = [b for b in SHELL_BLOCKS if b.substitutions]
    assert {b.path for b in noted} >= {"README.md", "docs/simulator.md"}
    for block in noted:
        block.script()  # asserts every OLD of the note is in the block
    [training] = [b for b in noted if "train dpo" in b.body]
    assert "--max-steps 2" in training.script() and "--max-steps 30" not in training.script()


def _write_venv(sandbox: Path) -> None:
    bin_dir = sandbox / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    flywheel = bin_dir / "flywheel"
    flywheel.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -c "import sys; sys.argv[0] = \'flywheel\'; '
        f'from lakehouse.cli import main; main()" "$@"\n'
    )
    flywheel.chmod(0o755)
    (bin_dir / "activate").write_text(
        f'export VIRTUAL_ENV="{sandbox / ".venv"}"\nexport PATH="$VIRTUAL_ENV/bin:$PATH"\n'
    )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A fresh clone after `make curate`, on a small lake: (directory, environment, setup output)."""
    work = tmp_path_factory.mktemp("docs")
    sandbox = work / "flywheel"
    sandbox.mkdir()
    for name in ("configs", "scripts"):
        shutil.copytree(ROOT / name, sandbox / name)
    for name in ("Makefile", "requirements.txt", "requirements-lock.txt", "requirements-nodeps.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, sandbox / name)
    _write_venv(sandbox)
    (sandbox / ".venv" / ".installed").touch()  # make's setup target: the environment exists
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        PATH=f"{sandbox / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        SIM_CONVERSATIONS=SIM_CONVERSATIONS,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        COLUMNS="120",
    )
    [setup] = [b for b in SHELL_BLOCKS if "setup" in b.marks]
    assert "make curate" in setup.body.splitlines()[0]
    done = subprocess.run(
        ["make", "curate"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shared = ROOT.parent / "shared"
    if shared.exists():  # ../shared/data, as beside the real checkout (after curate: the lake stays small)
        (work / "shared").symlink_to(shared)
    return sandbox, env, done.stdout


def _run(script: str, sandbox: Path, env: dict, timeout: int = BLOCK_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(block: Block, sandbox: Path, env: dict) -> None:
    """Start the block's server on a free port, wait for its health check, stop it."""
    port = _free_port()
    command = block.script().split("#", 1)[0].strip() + f" --port {port}"
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{block.id} exited: {process.stdout.read().decode()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(1)
        pytest.fail(f"{block.id}: no answer on port {port} within 120 s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.id for b in SHELL_BLOCKS])
def test_shell_block_runs_as_written(block: Block, sandbox):
    directory, env, _ = sandbox
    if "gpu" in block.marks:
        pytest.skip("needs a CUDA GPU (or the network to fetch a model): `bash gpu` block")
    if "setup" in block.marks:
        return  # the fixture ran its `make curate`; `make test` is this suite
    if "serve" in block.marks:
        _serve(block, directory, env)
        return
    done = _run(block.script(), directory, env)
    assert done.returncode == block.exit_code, (
        f"{block.id} failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


def test_make_curate_next_hints_run_after_activating(sandbox):
    """The commands `make curate` prints under "Next:" work in a new shell that follows them."""
    directory, env, output = sandbox
    hints = output[output.index("Next") :].splitlines()[1:]
    commands = [h.strip() for h in hints if h.strip().startswith(("source ", "flywheel "))]
    assert commands[0] == "source .venv/bin/activate" and len(commands) >= 3
    bare = dict(env, PATH=os.defpath)  # flywheel is not on PATH until the hint's `source` runs
    assert _run("flywheel --version", directory, bare).returncode == 127
    done = _run("\n".join(commands), directory, bare)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_readme_quarantine_query_shows_the_planted_reasons(sandbox):
    directory, env, _ = sandbox
    done = _run('flywheel sql "SELECT DISTINCT reason FROM quarantine ORDER BY 1" --format csv', directory, env)
    assert done.returncode == 0, done.stderr
    reasons = set(done.stdout.split()[1:])
    assert {"invalid_json", "empty_messages", "unknown_role", "bad_timestamp", "invalid_value"} <= reasons
