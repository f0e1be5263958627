"""`flywheel serve`: a local model directory behind an OpenAI-compatible API, through `transformers serve`.

The labeling app's candidates and the other pool users (lakehouse/serving.py) talk to any OpenAI-compatible
endpoint; on a GPU machine that is vLLM (docs/gpu.md), on a CPU the server that ships with the pinned
transformers. This command starts the latter on 127.0.0.1 with the model preloaded and offline, so a pool
entry `endpoint: http://127.0.0.1:PORT/v1, model: PATH` works as soon as `/health` answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lakehouse.errors import UserError


def command_line(model: Path, host: str, port: int) -> list[str]:
    """The `transformers serve` invocation, run by this interpreter (the venv's transformers)."""
    launcher = "import sys; from transformers.cli.transformers import main; sys.argv[0] = 'transformers'; main()"
    return [sys.executable, "-c", launcher, "serve", "--host", host, "--port", str(port), str(model)]


def server_env() -> dict[str, str]:
    """Offline: the model is a local directory and nothing may be fetched from a hub."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def check_model(model: Path) -> Path:
    model = model.expanduser().resolve()
    if not (model / "config.json").is_file():
        raise UserError(f"{model} is not a Hugging Face model directory (no config.json)")
    return model


def pool_entry(name: str, model: Path, host: str, port: int) -> str:
    """The YAML a model pool needs to use this server."""
    return f"- name: {name}\n  endpoint: http://{host}:{port}/v1\n  model: {model}\n"
