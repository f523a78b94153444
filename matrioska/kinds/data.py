"""The data kind: CSV files, checked for a header and rows of the same width; their interface is
their header."""

from __future__ import annotations

import csv
import io
from typing import Any

from .base import Kind


def _csv(path: str, content: str) -> dict[str, Any]:
    header = (content.strip().splitlines() or [""])[0]
    return {"path": path, "kind": "data", "shape": f"columns: {header[:200]}"}


class DataKind(Kind):
    name = "data"
    description = "Tabular data files (.csv) with a header row"
    suffixes = (".csv",)

    def validate(self, path: str, text: str) -> list[str]:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        if not rows:
            return ["CSV: the file is empty (it needs a header row)"]
        width = len(rows[0])
        uneven = [number for number, row in enumerate(rows[1:], 2) if len(row) != width]
        return (
            [f"CSV: row(s) {', '.join(map(str, uneven[:5]))} do not have the header's {width} columns"]
            if uneven
            else []
        )

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return _csv(path, text)
