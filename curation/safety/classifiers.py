"""Loading each safety classifier once and scoring lists of texts with it.

A classifier is an object with `name`, `threshold` and `score(texts) -> float32 array` (the probability
that each text is unsafe). Models are loaded when the stage has work to do, never at import time, and
torch and transformers are imported only for an `hf` classifier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from curation.safety.config import HfClassifier, ProfanityClassifier
from lakehouse.errors import UserError


class ClassifierError(UserError):
    """A classifier that cannot be loaded or run; the message names the recipe key."""


class _Vectorizer(Protocol):
    """scikit-learn's text vectorizer interface (the part `Profanity` calls)."""

    def transform(self, raw_documents: list[str]) -> Any: ...


class _ProbabilisticModel(Protocol):
    """scikit-learn's classifier interface (the part `Profanity` calls)."""

    def predict_proba(self, X: Any) -> np.ndarray: ...


@dataclass
class Profanity:
    """alt-profanity-check's vectorizer and calibrated linear model, called on whole lists.

    `profanity_check.predict_prob` wraps the same two calls in `np.apply_along_axis`, a Python call per
    row; taking column 1 of `predict_proba` gives the same numbers without it.
    """

    name: str
    threshold: float
    vectorizer: _Vectorizer
    model: _ProbabilisticModel

    def score(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, np.float32)
        return self.model.predict_proba(self.vectorizer.transform(texts))[:, 1].astype(np.float32)


@dataclass
class HfSequenceClassifier:
    """A local sequence-classification model: length-sorted batches, inference mode, the unsafe labels'
    probability summed (softmax) or their maximum (sigmoid, multi-label models)."""

    name: str
    threshold: float
    model: Callable[..., Any]  # a transformers sequence-classification model, on `device`, in eval mode
    tokenizer: Callable[..., Any]  # its transformers tokenizer
    unsafe_ids: list[int]
    multi_label: bool
    device: str
    batch_size: int
    max_length: int

    def score(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros(len(texts), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                out[chunk] = self._batch([texts[i] for i in chunk])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        logits = self.model(**encoded).logits.float()
        if self.multi_label:
            probs = torch.sigmoid(logits)[:, self.unsafe_ids].max(dim=1).values
        else:
            probs = torch.softmax(logits, dim=-1)[:, self.unsafe_ids].sum(dim=1)
        return probs.cpu().numpy()


def load(config: ProfanityClassifier | HfClassifier, key: str):
    """The classifier of one recipe entry; `key` (e.g. `classifiers.1`) goes into every error."""
    if isinstance(config, ProfanityClassifier):
        return _profanity(config)
    return _hf(config, key)


def _profanity(config: ProfanityClassifier) -> Profanity:
    from profanity_check import profanity_check as package

    return Profanity(config.name, config.threshold, package.vectorizer, package.model)


def _device(config: HfClassifier, key: str) -> str:
    import torch

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ClassifierError(f"{key}.device: cuda was asked for but torch sees no GPU (use auto or cpu)")
    if config.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return config.device


def _hf(config: HfClassifier, key: str) -> HfSequenceClassifier:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if config.name is None or config.unsafe_labels is None:
        raise ClassifierError(f"{key}: name and unsafe_labels are filled in by validation; validate the recipe first")
    device = _device(config, key)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.path, local_files_only=True)
        dtype = "auto" if device == "cuda" else torch.float32
        model = AutoModelForSequenceClassification.from_pretrained(config.path, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"{key}.path: {config.path} cannot be loaded as a sequence classifier: {exc}") from None
    if tokenizer.pad_token is None:  # decoder models (Llama) ship without one; batches need padding
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    unsafe_ids = [labels.index(label) for label in config.unsafe_labels]
    model.to(device).eval()
    return HfSequenceClassifier(
        config.name,
        config.threshold,
        model,
        tokenizer,
        unsafe_ids,
        model.config.problem_type == "multi_label_classification",
        device,
        config.batch_size,
        config.max_length,
    )


def fingerprint(config: ProfanityClassifier | HfClassifier) -> str:
    """What identifies the model behind a classifier without loading it: the package version, or the
    model directory's config.json and its files' names and sizes (weights are not hashed: gigabytes)."""
    if isinstance(config, ProfanityClassifier):
        from importlib.metadata import version

        return f"alt-profanity-check=={version('alt-profanity-check')}"
    root = Path(config.path)
    files = sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())
    payload = json.dumps({"config": (root / "config.json").read_text(), "files": files})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
