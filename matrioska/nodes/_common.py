"""Helpers shared by the nodes: calling the model and emitting progress events."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable

from ..budget import shrink_value
from ..errors import MatrioskaError
from ..retry import is_transient_backend_error


def call_model(llm: Runnable, messages: list[BaseMessage]) -> str:
    """One call of a chat model (or one bound by `structured.constrained`) through `invoke`.

    Returns the reply's text ("" when the model returned nothing).
    """
    return message_text(llm.invoke(messages)).strip()


def call_structured(llm: Runnable, schema_llm: Runnable | None, messages: list[BaseMessage], runtime: Any) -> str:
    """Call `schema_llm` (the model bound to a JSON schema) when there is one, else `llm`.

    A backend that refuses structured output (an old server answering 400 to
    `response_format`) is called again without it, once, and the reply is repaired like any
    other; transient failures still go to the retry policy and Matrioska's own errors up.
    """
    if schema_llm is None:
        return call_model(llm, messages)
    try:
        return call_model(schema_llm, messages)
    except MatrioskaError:
        raise
    except Exception as exc:
        if is_transient_backend_error(exc):
            raise
        emit(runtime, "structured_output_refused", error=f"{type(exc).__name__}: {exc}"[:300])
        return call_model(llm, messages)


def emit(runtime: Any, event: str, **data: Any) -> None:
    """Send a progress event on `stream_mode="custom"` (a no-op when nobody listens)."""
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer({"event": event, **data})


def render_value(value: Any, limit: int | None = None, *, indent: int | None = None) -> str:
    """JSON of a value; past `limit` characters shortened structurally with a note inside it,
    so the text is always valid JSON (see `budget.shrink_value`)."""
    if limit is not None:
        plain = json.loads(json.dumps(value, ensure_ascii=False, default=str))  # plain JSON types only
        value, _ = shrink_value(plain, limit)
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def message_text(message: BaseMessage | str) -> str:
    """The text of a chat model's reply, whether its content is a string or a list of blocks."""
    if isinstance(message, str):
        return message
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)
