"""Online RL on prompt releases: GRPO and online DPO (TRL), rewarded by a trained reward model.

The report's semi-online setting: static prompts carrying their partial history, the policy samples replies
during training, and only the final reply is scored. The reward model keeps its own tokenizer (it need
not share the policy's vocabulary): completions are scored as text, conversation + reply, through
`train.score.rewards`, the same function `flywheel train score` uses, so a reward here equals the score
that command would give the same reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import UserError
from train import models, score

REWARD_SCHEMES = ("rm",)


class RewardSpecError(UserError):
    """A `--reward` value is not `rm:PATH[*WEIGHT]`; the message shows the accepted form."""


@dataclass(frozen=True)
class RewardSpec:
    """One reward term: `rm:PATH` (a reward model directory) with its weight in the sum."""

    scheme: str
    path: str
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str) -> RewardSpec:
        scheme, sep, rest = text.partition(":")
        if not sep or scheme not in REWARD_SCHEMES or not rest:
            raise RewardSpecError(f"--reward {text!r}: expected rm:PATH or rm:PATH*WEIGHT")
        path, star, weight = rest.rpartition("*") if "*" in rest else (rest, "", "1")
        try:
            value = float(weight)
        except ValueError:
            raise RewardSpecError(f"--reward {text!r}: the weight {weight!r} is not a number") from None
        if not Path(path).expanduser().is_dir():
            raise RewardSpecError(f"--reward {text!r}: no model directory at {path}")
        return cls(scheme, str(Path(path).expanduser().resolve()), value if star else 1.0)


class RewardModelScore:
    """A TRL reward function: the reward model's score of each (prompt, completion), batched.

    TRL calls it with conversational `prompts` and `completions` (lists of messages) and logs it under
    `__name__`; the model loads once, on first use, in inference mode.
    """

    def __init__(self, spec: RewardSpec, max_length: int = 1024) -> None:
        self.spec = spec
        self.max_length = max_length
        self.__name__ = f"rm_{Path(spec.path).name}"
        self._loaded: tuple | None = None

    @property
    def ref(self) -> models.ModelRef:
        return models.model_ref(self.spec.path)

    def __call__(self, prompts: list, completions: list, **_: object) -> list[float]:
        if self._loaded is None:
            self._loaded = score.load_reward_model(self.spec.path)
        model, tokenizer, _ = self._loaded
        conversations = [_conversation(p, c) for p, c in zip(prompts, completions, strict=True)]
        return score.rewards(model, tokenizer, conversations, max_length=self.max_length)


def _conversation(prompt, completion) -> list[dict]:
    """The scored conversation: the prompt's messages and the reply (TRL passes text or messages)."""
    messages = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
    reply = completion[-1]["content"] if isinstance(completion, list) else str(completion)
    return [*messages, {"role": "assistant", "content": reply}]


def reward_functions(specs: list[RewardSpec], max_length: int) -> tuple[list[RewardModelScore], list[float]]:
    """The reward callables and their weights, in the order given."""
    return [RewardModelScore(s, max_length) for s in specs], [s.weight for s in specs]
