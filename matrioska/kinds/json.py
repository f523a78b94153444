"""The JSON kind: data and configuration files, checked by parsing them; their interface is
their top-level shape."""

from __future__ import annotations

import json
from typing import Any

from .base import Kind


def _shape(value: Any, depth: int = 0) -> str:
    if isinstance(value, dict):
        if depth >= 2 or not value:
            return "{...}" if value else "{}"
        items = list(value.items())[:12]
        inner = ", ".join(f"{k}: {_shape(v, depth + 1)}" for k, v in items)
        return "{" + inner + (", ..." if len(value) > 12 else "") + "}"
    if isinstance(value, list):
        return f"[{len(value)} x {_shape(value[0], depth + 1)}]" if value else "[]"
    return type(value).__name__ if value is not None else "null"


def _json(path: str, content: str) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return {"path": path, "kind": "json", "shape": _shape(value)[:400]}


class JsonKind(Kind):
    name = "json"
    description = "JSON data or configuration files (.json)"
    suffixes = (".json",)

    def validate(self, path: str, text: str) -> list[str]:
        try:
            json.loads(text)
        except ValueError as exc:
            return [f"invalid JSON: {exc}"]
        return []

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return _json(path, text)
