"""Matrioska: a LangGraph orchestrator that turns one big request into a multi-file project.

An architect splits the task into modules, each module runs in hyperfocus (its own spec plus
the shared-state keys it reads), modules talk through a shared whiteboard, and an assembler
integrates the artifacts. `import matrioska` is light: the model stack (torch, transformers)
loads only when a `LocalLLM` is built, and the orchestrator only when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .defaults import VERSION
from .errors import (
    AcceptanceError,
    CheckpointError,
    ContextLengthError,
    EmptyTaskError,
    MatrioskaError,
    ModelLoadError,
    ModelNotConfiguredError,
    ModelServerError,
    OutputPathError,
    PlanError,
    RecursionBudgetError,
    RunFailedError,
    SandboxError,
    ThreadMismatchError,
    UnknownThreadError,
)
from .state import Architecture, ModuleSpec

if TYPE_CHECKING:
    from .model.local import LocalLLM
    from .runs.orchestrator import MatrioskaOrchestrator

__all__ = [
    "LocalLLM",
    "MatrioskaOrchestrator",
    "Architecture",
    "ModuleSpec",
    "MatrioskaError",
    "EmptyTaskError",
    "PlanError",
    "ModelLoadError",
    "ModelNotConfiguredError",
    "OutputPathError",
    "CheckpointError",
    "ThreadMismatchError",
    "UnknownThreadError",
    "RecursionBudgetError",
    "RunFailedError",
    "ModelServerError",
    "ContextLengthError",
    "SandboxError",
    "AcceptanceError",
]

__version__ = VERSION

_LAZY = {"LocalLLM": "model.local", "MatrioskaOrchestrator": "runs.orchestrator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'matrioska' has no attribute {name!r}")
