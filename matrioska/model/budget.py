"""Token budgets: a module's prompt stays under the model's context, whatever the shared state holds.

`TokenCounter` counts with the model's own tokenizer when it has one (`LocalLLM`: the whole chat
prompt, template included) and estimates conservatively otherwise (remote backends: 1 token
per 3 characters). `shrink_value` shortens a JSON value *structurally* (a string keeps its head,
a list its first items, an object its first keys) and says what it left out, so the text a
module reads is always valid JSON with an explicit note, never JSON cut in the middle.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "TokenCounter",
    "shrink_value",
    "prompt_budget",
    "known_context",
    "DEFAULT_CONTEXT_TOKENS",
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD",
]

DEFAULT_CONTEXT_TOKENS = 8192
"""Context assumed for a model that does not say (remote backends)."""
CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 8


class TokenCounter:
    """Counts the tokens of a chat prompt for one model."""

    def __init__(self, llm: Any) -> None:
        self._tokenizer: Any = getattr(llm, "tokenizer", None)
        self._to_prompt = getattr(llm, "_to_chat_prompt", None)
        self.exact = self._tokenizer is not None and callable(getattr(self._tokenizer, "encode", None))

    def text(self, text: str) -> int:
        if self.exact:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def messages(self, messages: list[Any]) -> int:
        if self.exact and callable(self._to_prompt):
            return len(self._tokenizer.encode(self._to_prompt(messages), add_special_tokens=False))
        return sum(self.text(str(m.content)) + MESSAGE_OVERHEAD for m in messages)


def known_context(llm: Any) -> int:
    """The model's context length as known: what its server reported when the model was loaded
    (`metadata["context_tokens"]`), else the model's own config; 0 when neither says."""
    reported = (getattr(llm, "metadata", None) or {}).get("context_tokens")
    if isinstance(reported, int) and reported > 0:
        return reported
    pipeline = getattr(getattr(llm, "llm", None), "pipeline", None)
    config = getattr(getattr(pipeline, "model", None), "config", None)
    length = getattr(config, "max_position_embeddings", None)
    return int(length) if isinstance(length, int) and length > 0 else 0


def context_tokens(llm: Any, configured: int) -> int:
    """The model's context length: configured, else as known (`known_context`), else a default."""
    if configured > 0:
        return configured
    return known_context(llm) or DEFAULT_CONTEXT_TOKENS


def prompt_budget(llm: Any, configured_context: int, max_new_tokens: int) -> int:
    """Tokens a prompt may use: the context minus what the reply may take."""
    generation = getattr(llm, "generation_kwargs", None) or {}
    reply = int(generation.get("max_new_tokens") or max_new_tokens)
    context = context_tokens(llm, configured_context)
    return max(256, context - min(reply, context // 2))


_NOTE_ROOM = 32  # room kept for the note that says what was left out


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def shrink_value(value: Any, limit: int) -> tuple[Any, bool]:
    """A version of `value` whose JSON is at most `limit` characters, and whether it shrank.

    What is left out is named inside the value: a string ends with "... [N more characters]",
    a list gets a last item "... N more items", an object a key "...": "N more keys". Each
    element is serialised once per level, so this is linear in the value's size.
    """
    if _size(value) <= limit:
        return value, False
    return _shrink(value, max(limit, 48)), True


def _shrink(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        keep = max(0, limit - 40)
        return f"{value[:keep]}... [{len(value) - keep} more characters]"
    if isinstance(value, list):
        out: list[Any] = []
        used = 2  # []
        for index, item in enumerate(value):
            size = _size(item) + 2
            if used + size + _NOTE_ROOM <= limit:
                out.append(item)
                used += size
                continue
            room = limit - used - _NOTE_ROOM - 2
            if room >= 48 and isinstance(item, (str, list, dict)):
                out.append(_shrink(item, room))
                index += 1
            if index < len(value):
                out.append(f"... {len(value) - index} more items")
            return out
        return out
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        used = 2  # {}
        items = list(value.items())
        for index, (key, item) in enumerate(items):
            key_size = _size(key) + 4
            size = key_size + _size(item)
            if used + size + _NOTE_ROOM <= limit:
                kept[key] = item
                used += size
                continue
            room = limit - used - key_size - _NOTE_ROOM - 2
            if room >= 48 and isinstance(item, (str, list, dict)):
                kept[key] = _shrink(item, room)
                index += 1
            if index < len(items):
                kept["..."] = f"{len(items) - index} more keys"
            return kept
        return kept
    return value  # numbers, booleans, null: already tiny
