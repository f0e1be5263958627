"""Adapters from other chat formats onto the native traffic record (docs/architecture.md).

Each adapter turns one source record into native conversation dicts (and, for hh-rlhf, a preference
pair). A record it cannot convert raises `RecordRejected` with a quarantine reason. Formats without ids
get ids derived from the record's bytes, so re-ingesting the same record gives the same id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import xxhash

from lakehouse.errors import UserError

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "system": "system",
}
OPENAI_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
# Speaker labels, also with the Markdown emphasis some generated transcripts use ("*User 1:* Hi", "* User 2: Hi *").
PERSONA_LINE = re.compile(r"^[\s*_]*User ([12])[\s*_]*:[\s*_]*(.*?)[\s*_]*$")
DECORATION = re.compile(r"^[\s*_\-=#]*$")


class RecordRejected(UserError):
    """A record that cannot be converted; `reason` is its quarantine reason (ingest goes on without it)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class Defaults:
    """Values for fields that a source format does not carry. `started_at` is the ingest time unless the
    recipe sets one (never 1970-01-01, which `retention` would delete at once); `started_at_from` says
    which, in the bronze column of that name."""

    source: str = "internal"
    started_at: str = ""
    started_at_from: str = "ingest_time"


@dataclass
class Converted:
    conversations: list[dict]
    pair: dict | None = None


def record_id(prefix: str, raw: bytes) -> str:
    return f"{prefix}-{xxhash.xxh3_64_hexdigest(raw)}"


def _conversation(cid: str, messages: list[dict], defaults: Defaults, **fields) -> dict:
    record = {
        "conversation_id": cid,
        "source": defaults.source,
        "started_at": defaults.started_at,
        "messages": messages,
    }
    record.update({k: v for k, v in fields.items() if v is not None})
    return record


def _text(content) -> str | None:
    """OpenAI content is a string or a list of parts; keep the text parts."""
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict):
                raise RecordRejected("wrong_type", f"content part {i} is a {type(part).__name__}, not an object")
            if part.get("type") not in ("text", None):
                continue
            text = part.get("text", "")
            if not isinstance(text, str):
                raise RecordRejected("wrong_type", f"content part {i}: text is a {type(text).__name__}, not a string")
            parts.append(text)
        return "".join(parts)
    raise RecordRejected("wrong_type", f"message content is a {type(content).__name__}")


def openai(record: dict, raw: bytes, defaults: Defaults) -> Converted:
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise RecordRejected("missing_field", "messages is missing or not a list")
    converted = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordRejected("wrong_type", f"messages[{i}] is not an object")
        role = message.get("role")
        if role not in OPENAI_ROLES:
            raise RecordRejected(
                "unknown_role" if role else "missing_role",
                f"messages[{i}].role {role!r} is not one of {', '.join(OPENAI_ROLES)}",
            )
        converted.append({"role": OPENAI_ROLES[role], "content": _text(message.get("content"))})
    cid = record.get("conversation_id") or record.get("id")
    return Converted([_conversation(str(cid) if cid else record_id("openai", raw), converted, defaults)])


def sharegpt(record: dict, raw: bytes, defaults: Defaults) -> Converted:
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise RecordRejected("missing_field", "conversations is missing or not a list")
    converted = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordRejected("wrong_type", f"conversations[{i}] is not an object")
        speaker = str(turn.get("from", "")).lower()
        if speaker not in SHAREGPT_ROLES:
            raise RecordRejected(
                "unknown_role" if speaker else "missing_role",
                f"conversations[{i}].from {turn.get('from')!r} is not a known speaker",
            )
        value = turn.get("value")
        if value is not None and not isinstance(value, str):
            raise RecordRejected("wrong_type", f"conversations[{i}].value is a {type(value).__name__}, not a string")
        converted.append({"role": SHAREGPT_ROLES[speaker], "content": value})
    cid = record.get("id")
    return Converted([_conversation(f"sharegpt-{cid}" if cid else record_id("sharegpt", raw), converted, defaults)])


def parse_hh_transcript(text: str) -> list[dict]:
    """ "\\n\\nHuman: ...\\n\\nAssistant: ..." -> messages."""
    parts = HH_TURN.split(text)
    if parts[0].strip():
        raise RecordRejected("invalid_transcript", "transcript does not start with a Human or Assistant turn")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [{"role": roles[parts[i]], "content": parts[i + 1]} for i in range(1, len(parts) - 1, 2)]


def hh(record: dict, raw: bytes, defaults: Defaults) -> Converted:
    """An hh-rlhf line: two transcripts sharing every turn but the last reply -> two conversations + a pair."""
    chosen_text, rejected_text = record.get("chosen"), record.get("rejected")
    if not isinstance(chosen_text, str) or not isinstance(rejected_text, str):
        raise RecordRejected("missing_field", "chosen and rejected must both be strings")
    chosen, rejected = parse_hh_transcript(chosen_text), parse_hh_transcript(rejected_text)
    turn = _divergence(chosen, rejected)
    base = record_id("hh", raw)
    pair = {
        "pair_id": base,
        "chosen_conversation_id": f"{base}-chosen",
        "rejected_conversation_id": f"{base}-rejected",
        "turn": turn,
        "started_at": defaults.started_at,
    }
    return Converted(
        [_conversation(f"{base}-chosen", chosen, defaults), _conversation(f"{base}-rejected", rejected, defaults)], pair
    )


def _divergence(chosen: list[dict], rejected: list[dict]) -> int:
    """Index of the assistant message where the two transcripts part; they must agree before it."""
    for i, (a, b) in enumerate(zip(chosen, rejected, strict=True)):
        if a != b:
            if a["role"] != "assistant" or b["role"] != "assistant":
                raise RecordRejected("invalid_pair", f"transcripts differ first at message {i}, which is not a reply")
            return i
    raise RecordRejected("invalid_pair", "chosen and rejected transcripts do not differ in a reply")


def persona_chat(row: dict, raw: bytes, defaults: Defaults) -> Converted:
    """A Synthetic-Persona-Chat row: User 2 becomes the character (its persona), User 1 the user."""
    transcript = row.get("Best Generated Conversation")
    if not transcript or not str(transcript).strip():
        raise RecordRejected("empty_messages", "Best Generated Conversation is empty")
    messages: list[dict] = []
    for line in str(transcript).splitlines():
        match = PERSONA_LINE.match(line)
        if match:
            messages.append({"role": "user" if match[1] == "1" else "assistant", "content": match[2].strip()})
        elif DECORATION.match(line):
            continue
        elif messages:
            messages[-1]["content"] += "\n" + line.strip()
        else:  # unlabeled text before the first label: the conversation opens with User 1
            messages.append({"role": "user", "content": line.strip()})
    if not any(m["role"] == "assistant" for m in messages):
        raise RecordRejected("invalid_transcript", "transcript has no 'User 2:' turn")
    persona = " ".join(s.strip() for s in str(row.get("user 2 personas") or "").splitlines() if s.strip())
    character = {
        "character_id": record_id("persona", persona.encode()),
        "name": None,
        "description": persona or None,
        "instructions": None,
    }
    cid = record_id("persona-chat", raw)
    return Converted([_conversation(cid, messages, defaults, character=character)])


ADAPTERS: dict[str, Callable[[dict, bytes, Defaults], Converted]] = {
    "openai": openai,
    "sharegpt": sharegpt,
    "hh": hh,
    "persona-chat": persona_chat,
}
