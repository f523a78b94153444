"""Helpers shared by the nodes: calling the model and emitting progress events."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from ..llm import message_text


def call_model(llm: Runnable, messages: list[BaseMessage]) -> str:
    """One call of a chat model (or one bound by `structured.constrained`) through `invoke`.

    Returns the reply's text ("" when the model returned nothing).
    """
    return message_text(llm.invoke(messages)).strip()


def emit(runtime: Any, event: str, **data: Any) -> None:
    """Send a progress event on `stream_mode="custom"` (a no-op when nobody listens)."""
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer({"event": event, **data})


def render_value(value: Any, limit: int) -> str:
    """JSON of a value, shortened with an explicit note (never cut silently mid-JSON)."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [truncated: {len(text) - limit} more characters of JSON omitted]"
