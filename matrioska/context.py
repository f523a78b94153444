"""Run-scoped configuration, passed to the graph as its runtime context.

Python callers hand a chat model object in `llm`; LangGraph Studio and the LangGraph server
can only send JSON, so they name a model in `model` (a hub id or a local directory), which is
loaded once per process. With neither, the `MATRIOSKA_MODEL` environment variable is used; an
explicit `llm` or `model` always wins over the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from .errors import ModelNotConfiguredError

__all__ = ["Context", "resolve_llm", "MODEL_ENV_VAR", "DEFAULT_MODEL_ID"]

MODEL_ENV_VAR = "MATRIOSKA_MODEL"
DEFAULT_MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.3"


@dataclass(kw_only=True)
class Context:
    """Settings of one run; none of them is stored in checkpoints."""

    llm: Any = field(default=None, metadata={"description": "A LangChain chat model object (Python API only)."})
    """A `BaseChatModel` to drive; wins over `model`."""
    model: str = field(default="", metadata={"description": "Hub id or local model directory."})
    """Model to load when `llm` is not given (Studio sets this); falls back to $MATRIOSKA_MODEL."""
    load_in_4bit: bool = True
    """Quantise a model loaded from `model` to nf4."""
    max_new_tokens: int = 4000
    """Generation budget of a model loaded from `model`."""
    max_plan_attempts: int = 3
    """Architect calls before an unparseable plan stops the run (each retry feeds the error back)."""
    max_update_retries: int = 1
    """Follow-up calls asking a module only for its missing shared-state keys (0 disables)."""
    assembler_notes: bool = True
    """Ask the model for short integration notes at assembly (the prompt holds no artifacts)."""


def resolve_llm(context: Context | None) -> BaseChatModel:
    """The chat model a node should call, or a clear error saying how to configure one."""
    context = context or Context()
    if context.llm is not None:
        if not isinstance(context.llm, BaseChatModel):
            raise ModelNotConfiguredError(
                f"context.llm must be a LangChain chat model (BaseChatModel), got {type(context.llm).__name__}"
            )
        return context.llm
    spec = context.model.strip() or os.environ.get(MODEL_ENV_VAR, "").strip()
    if not spec:
        raise ModelNotConfiguredError(
            "no model configured: pass context=Context(llm=...) in Python, set 'model' in the run's "
            f"context (Studio), or set {MODEL_ENV_VAR} to a hub id or a local model directory"
        )
    from .llm import cached_chat_model

    return cached_chat_model(spec, context.load_in_4bit, context.max_new_tokens)
