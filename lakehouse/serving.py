"""Served models, one interface: a pool of OpenAI-compatible chat-completions endpoints.

Every serving stack speaks this protocol (vLLM's `vllm serve`, `trl vllm-serve`, `transformers serve`
on a CPU, hosted APIs), so the platform needs one client. A pool is a YAML file of named models, each an
endpoint URL, the model id to ask for, sampling parameters and an optional system prompt template (the
character card). The labeling app asks two pool models for candidates at once (`candidates`): both
requests run concurrently and each ends in a reply or a `ServingError` saying which model failed and why
(endpoint down, timeout, bad answer), so one slow or dead model never blocks the page. Only the standard
library and httpx: the base layer stays light.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator

from lakehouse.config import StrictModel, load_yaml_model, repeated
from lakehouse.errors import UserError


class ServingError(UserError):
    """A served model gave no reply; the message names the model, its endpoint and the reason."""


class PoolModel(StrictModel):
    """One candidate model: where it is served and how to sample from it."""

    name: str = Field(min_length=1, description="The name annotators' data records (the model id in the lake).")
    endpoint: str = Field(description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field(description="The `model` field sent with each request (the server's model id or path).")
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one reply before giving up.")
    retries: int = Field(1, ge=0, description="Retries after a connection error or a 5xx answer (not a timeout).")
    system_prompt: str | None = Field(
        None,
        description="Template of the system message; {name}, {description} and {instructions} come from the "
        "character card.",
    )

    @field_validator("endpoint")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class ModelPool(StrictModel):
    models: list[PoolModel] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[PoolModel]) -> list[PoolModel]:
        duplicates = repeated(m.name for m in value)
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        return value

    def get(self, name: str) -> PoolModel:
        for model in self.models:
            if model.name == name:
                return model
        raise ServingError(f"no model {name!r} in the pool (it has {', '.join(m.name for m in self.models)})")


def load_pool(path: str | Path) -> ModelPool:
    """The pool in a YAML file; a missing file, broken YAML or a bad key or value is a ConfigError naming the
    file and the key."""
    return load_yaml_model(path, ModelPool)


@dataclass(frozen=True)
class Reply:
    model: str  # the pool name
    text: str
    seconds: float
    finish_reason: str | None
    completion_tokens: int | None = None  # as the server counted them (the `usage` block), when it says


def system_message(model: PoolModel, character: dict | None) -> list[dict]:
    """The system message from the model's template and the character card (none without a template)."""
    if not model.system_prompt:
        return []
    card = {"name": "", "description": "", "instructions": "", **(character or {})}
    return [{"role": "system", "content": model.system_prompt.format_map(card)}]


def chat(model: PoolModel, messages: list[dict], character: dict | None = None, seed: int | None = None) -> Reply:
    """One reply from `model` to the conversation `messages` (user/assistant turns, oldest first)."""
    import httpx

    payload = {
        "model": model.model,
        "messages": [*system_message(model, character), *messages],
        "temperature": model.temperature,
        "top_p": model.top_p,
        "max_tokens": model.max_tokens,
        **({"seed": seed} if seed is not None else {}),
    }
    url = f"{model.endpoint}/chat/completions"
    started = time.perf_counter()
    for attempt in range(model.retries + 1):
        try:
            response = httpx.post(url, json=payload, timeout=model.timeout_s)
        except httpx.TimeoutException:
            raise ServingError(f"{model.name}: no reply from {url} within {model.timeout_s:g}s") from None
        except httpx.TransportError as exc:
            if attempt < model.retries:
                continue
            raise ServingError(f"{model.name}: cannot reach {url} ({type(exc).__name__}: {exc})") from None
        if response.status_code >= 500 and attempt < model.retries:
            continue
        return _reply(model, url, response, time.perf_counter() - started)
    raise AssertionError("unreachable")  # the loop returns or raises


def _reply(model: PoolModel, url: str, response, seconds: float) -> Reply:
    if response.status_code != 200:
        raise ServingError(f"{model.name}: {url} answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        body = response.json()
        choice = body["choices"][0]
        tokens = (body.get("usage") or {}).get("completion_tokens")
        return Reply(model.name, str(choice["message"]["content"]), seconds, choice.get("finish_reason"), tokens)
    except (ValueError, KeyError, IndexError, TypeError):
        raise ServingError(f"{model.name}: {url} answered without a chat completion: {response.text[:200]}") from None


def candidates(
    pool: ModelPool,
    names: list[str],
    messages: list[dict],
    character: dict | None = None,
    seeds: list[int | None] | None = None,
) -> list[Reply | ServingError]:
    """A reply from each named model (a name may repeat: two samples of one model), all requested at
    once; each entry is the reply or the error that model ended in, in the order of `names`."""
    chosen = [pool.get(name) for name in names]
    seeds = seeds or [None] * len(chosen)

    def ask(index: int) -> Reply | ServingError:
        try:
            return chat(chosen[index], messages, character, seeds[index])
        except ServingError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(chosen)) as threads:
        return list(threads.map(ask, range(len(chosen))))
