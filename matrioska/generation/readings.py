"""The checking wing's readings of a module's files, handed to the module's work by its node.

`generation` sits below `checking` in the house (the checks read projects made of generated
files), so the module's prompt, its judge and its published interface take these as an
argument instead of importing them: a module's interface as its code offers it, an interface
rendered for a dependent's prompt within a character budget, the references a module's files
make into the other modules, and the near-miss edits that repair the references one close name
away (`checking.interfaces`, `checking.nearmiss`; the executor node wires them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .project import ProjectFile

__all__ = ["NearMissResult", "Readings"]


class NearMissResult(Protocol):
    """What the near-miss edits did (`checking.nearmiss.NearMisses`): the files after them, the
    edits, the reference rows checked again, and a note of the close names a row was left with."""

    files: list[ProjectFile]
    edits: list[dict[str, Any]]
    rows: list[dict[str, Any]]

    def note(self, row: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class Readings:
    """The functions of the checking wing one module's work uses (see the module docstring):
    `interface(module_id, files)`, `render(interface, limit)`, `references(holder, files,
    interfaces, pending_paths=...)`, `near_misses(holder, files, rows, interfaces, valid=...,
    pending_paths=...)`, and `interface_chars`, an interface's budget in a dependent's prompt."""

    interface: Callable[[str, list[ProjectFile]], dict[str, Any]]
    render: Callable[[dict[str, Any], int], str]
    references: Callable[..., list[dict[str, Any]]]
    near_misses: Callable[..., NearMissResult]
    interface_chars: int
