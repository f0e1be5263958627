"""A real served model for tests: the tiny model behind `flywheel serve` (transformers serve) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

from lakehouse.serving import PoolModel
from tests.helpers.cli import FLYWHEEL

STARTUP_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_tiny_model(directory: Path, *, sample: bool = False) -> Path:
    """The project's tiny chat model (random weights, a tokenizer of two lines): fast to load and to run.
    It decodes greedily unless `sample`: then the server samples with each request's temperature and seed,
    so two requests give two different replies (greedy, this model only ever says newlines)."""
    from train.config import TinySettings
    from train.tiny import build

    model, tokenizer = build(["hello there, how are you?", "I am fine, thanks for asking."] * 40, TinySettings(), 0)
    model.generation_config.do_sample = sample
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def start_server(model: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """`flywheel serve --model MODEL` on a free port, once `/health` answers; fails the test otherwise."""
    import pytest

    port = port or free_port()
    process = subprocess.Popen(
        [*FLYWHEEL, "serve", "--model", str(model), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"flywheel serve exited with {process.returncode}: {process.stdout.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(1)
    process.kill()
    pytest.fail(f"transformers serve did not come up in {STARTUP_S} s")


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def entry(name: str, port: int, model, **settings) -> PoolModel:
    settings = {"max_tokens": 8, **settings}
    return PoolModel(name=name, endpoint=f"http://127.0.0.1:{port}/v1", model=str(model), **settings)
