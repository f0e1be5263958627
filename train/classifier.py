"""A fine-tuned sequence classifier on any local Hugging Face model (or `tiny`), with k sigmoid outputs.

Used by the second backend of the signal models (one output per signal, binary cross-entropy) and by the
pairwise reward model (one output: "the first reply is better"). A plain PyTorch loop rather than a TRL
trainer: the targets are k independent probabilities, which no TRL trainer models, and the loop is short.
Conversations are tokenized with the chat template, like the reward model's, keeping their end (the reply
being judged) when too long. The untrained copy (same initial weights) is kept for the honest checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np

from train import models, tiny


def build(base: str, num_labels: int, texts: Iterable[str], settings, on: models.Device):
    """(model, tokenizer): a sequence classifier with `num_labels` outputs, its head freshly initialised."""
    from transformers import set_seed

    set_seed(settings.seed)
    if base == models.TINY:
        from transformers import LlamaForSequenceClassification

        causal, tokenizer = tiny.build(texts, settings.tiny, settings.seed)
        config = copy.deepcopy(causal.config)
        config.num_labels = num_labels
        set_seed(settings.seed)
        model = LlamaForSequenceClassification(config)
    else:
        models.offline()
        from transformers import AutoModelForSequenceClassification

        tokenizer = models.load_tokenizer(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(models.model_dir(base)), num_labels=num_labels, local_files_only=True
        )
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.problem_type = "multi_label_classification"
    # transformers wraps `PreTrainedModel.to` with functools.wraps, and the wrapper's type loses the bound self
    return model.to(on.type), tokenizer  # type: ignore[arg-type]


def encode(tokenizer, conversations: list[list[dict]], max_length: int) -> list[list[int]]:
    return [
        list(tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"][-max_length:])
        for c in conversations
    ]


def _batch(encoded: list[list[int]], rows: list[int], pad: int, device: str):
    import torch

    width = max(len(encoded[i]) for i in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, i in enumerate(rows):  # right padding: the classifier reads the last non-pad token
        ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
        mask[r, : len(encoded[i])] = 1
    return ids.to(device), mask.to(device)


def logits(model, tokenizer, encoded: list[list[int]], batch_size: int = 32) -> np.ndarray:
    """(rows, outputs) raw scores, batches sorted by length."""
    import torch

    device = next(model.parameters()).device.type
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = np.zeros((len(encoded), model.config.num_labels), dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = _batch(encoded, rows, tokenizer.pad_token_id, device)
            out[rows] = model(input_ids=ids, attention_mask=mask).logits.float().cpu().numpy()
    return out


def fit(model, tokenizer, encoded: list[list[int]], targets: np.ndarray, settings, log=print) -> list[float]:
    """`settings.max_steps` AdamW steps of binary cross-entropy on shuffled batches; returns the losses."""
    import torch

    device = next(model.parameters()).device.type
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    rng = np.random.default_rng(settings.seed)
    target = torch.tensor(np.asarray(targets, dtype=np.float32))
    losses, order, position = [], rng.permutation(len(encoded)), 0
    model.train()
    for step in range(settings.max_steps):
        if position + settings.per_device_train_batch_size > len(order):
            order, position = rng.permutation(len(encoded)), 0
        rows = [int(i) for i in order[position : position + settings.per_device_train_batch_size]]
        position += len(rows)
        ids, mask = _batch(encoded, rows, tokenizer.pad_token_id, device)
        out = model(input_ids=ids, attention_mask=mask).logits.float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out, target[rows].to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        if (step + 1) % 50 == 0:
            log(f"step {step + 1}: loss {np.mean(losses[-50:]):.4f}")
    model.eval()
    return losses


def untrained_copy(model):
    return copy.deepcopy(model)
