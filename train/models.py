"""Loading models and tokenizers from local directories, picking the device, naming checkpoints.

Models only ever come from local directories (`local_files_only=True`, `HF_HUB_OFFLINE=1`): a training
platform that quietly downloads weights cannot say what it trained. A checkpoint written by `flywheel
train` carries `lineage.json`; `ModelRef` reads its run id so that candidates, scores and evals point at
the training run that made the model, not just at a path.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.errors import UserError
from lakehouse.lake import file_sha256

if TYPE_CHECKING:
    from train.lineage import Lineage

TINY = "tiny"
# Below this many parameters a model's matrices are too small for intra-op threads to pay on a CPU: the
# synchronization costs more than the split saves, badly so on a busy machine (benchmarks/bench_train.py).
SMALL_MODEL_PARAMETERS = 20_000_000
LINEAGE_FILE = "lineage.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


class ModelError(UserError, ValueError):
    """A model path cannot be used; the message says why."""


def offline() -> None:
    """Must run before transformers is imported: never reach the Hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


@dataclass(frozen=True)
class Device:
    """Where training and generation run: CUDA with bf16 when a GPU is present, else the CPU."""

    type: str
    name: str
    bf16: bool

    @property
    def use_cpu(self) -> bool:
        return self.type == "cpu"

    def describe(self) -> str:
        return f"{self.type} ({self.name}{', bf16' if self.bf16 else ''})"


def device() -> Device:
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.cuda.get_device_name(0), torch.cuda.is_bf16_supported())
    return Device("cpu", f"{os.cpu_count()} cores", False)


@dataclass(frozen=True)
class ModelRef:
    """A model as the lake records it: its directory and, when `flywheel train` made it, the run id."""

    path: str
    run_id: str | None
    kind: str | None

    @property
    def label(self) -> str:
        return f"{Path(self.path).name} ({self.kind} {self.run_id})" if self.run_id else self.path


def read_lineage(path: str | Path) -> Lineage | None:
    """The lineage `flywheel train` wrote into a checkpoint; None for a model it did not train."""
    file = Path(path) / LINEAGE_FILE
    return json.loads(file.read_text()) if file.exists() else None


def model_dir(path: str | Path) -> Path:
    """The resolved local directory of a model, or a clear error (downloads are disabled)."""
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise ModelError(f"model {path} is not a local directory (models load from disk only; downloads are off)")
    if not (directory / "config.json").exists():
        raise ModelError(f"model directory {directory} has no config.json: not a Hugging Face model directory")
    return directory


def model_ref(path: str | Path) -> ModelRef:
    directory = model_dir(path)
    lineage = read_lineage(directory)
    if lineage is None:
        return ModelRef(str(directory), None, None)  # not trained here: a hub or local base model
    return ModelRef(str(directory), lineage["run_id"], lineage["kind"])


def weights_sha256(directory: Path) -> str:
    """One hash over the weight files of a saved model: the checkpoint's identity wherever it is copied."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.name.endswith(WEIGHT_SUFFIXES)):
        digest.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def torch_dtype(name: str, on: Device):
    import torch

    if name == "bfloat16" and on.type == "cpu":
        return torch.float32  # bf16 matmuls on CPU are slow and numerically worse; keep fp32 there
    return getattr(torch, name)


def load_tokenizer(path: str | Path):
    offline()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir(path)), local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str | Path, dtype: str = "float32", on: Device | None = None):
    offline()
    from transformers import AutoModelForCausalLM

    on = on or device()
    return AutoModelForCausalLM.from_pretrained(
        str(model_dir(path)), dtype=torch_dtype(dtype, on), local_files_only=True
    )


def load_reward_model(path: str | Path, dtype: str = "float32", on: Device | None = None):
    """A sequence classifier with one output (the reward); from a causal LM the score head starts random."""
    offline()
    from transformers import AutoModelForSequenceClassification

    on = on or device()
    return AutoModelForSequenceClassification.from_pretrained(
        str(model_dir(path)), num_labels=1, dtype=torch_dtype(dtype, on), local_files_only=True
    )


def for_inference(model, on: Device):
    """Eval mode on the device; bf16 on a GPU that supports it (inference never needs fp32 there)."""
    import torch

    model.eval()
    if on.type == "cuda":
        model.to("cuda", dtype=torch.bfloat16 if on.bf16 else torch.float16)
    return model


@contextmanager
def cpu_threads(model, on: Device) -> Iterator[int]:
    """Run a small model single-threaded on CPU for the duration of the block (restored afterwards).

    An explicit `OMP_NUM_THREADS` wins; GPU runs and large models keep torch's default.
    """
    import torch

    before = torch.get_num_threads()
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMETERS
    if on.type == "cpu" and small and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
