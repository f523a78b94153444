"""Run-scoped configuration, passed to the graph as its runtime context.

Python callers hand a chat model object in `llm`; LangGraph Studio and the LangGraph server
can only send JSON, so they name a model in `model` (a hub id, a local directory or
`provider:model`), which is loaded once per process. With neither, the `MATRIOSKA_MODEL`
environment variable is used; an explicit `llm` or `model` always wins over the environment.
Each role (architect, executor, assembler) may have its own model: `roles={"architect": ...}`
holds chat model objects or model strings and wins over `llm` / `model` for that role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .defaults import DEFAULT_MODEL_ID, ROLES
from .errors import ModelNotConfiguredError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["Context", "resolve_llm", "ROLES", "MODEL_ENV_VAR", "DEFAULT_MODEL_ID"]

MODEL_ENV_VAR = "MATRIOSKA_MODEL"
FUNCTIONS_ENV_VAR = "MATRIOSKA_FUNCTIONS"
"""`0` turns the function path (issue 35) off by default: code modules are then asked for whole."""


def functions_default() -> bool:
    """Whether code modules are written function by function when a run does not say."""
    return os.environ.get(FUNCTIONS_ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(kw_only=True)
class Context:
    """Settings of one run; none of them is stored in checkpoints."""

    llm: Any = field(default=None, metadata={"description": "A LangChain chat model object (Python API only)."})
    """A `BaseChatModel` to drive; wins over `model`."""
    model: str = field(default="", metadata={"description": "Hub id, local model directory or provider:model."})
    """Model to load when `llm` is not given (Studio sets this); falls back to $MATRIOSKA_MODEL."""
    roles: dict[str, Any] = field(
        default_factory=dict,
        metadata={"description": "Per-role models: architect / executor / assembler -> model string."},
    )
    """Role -> chat model object or model string, for the roles that use another model."""
    base_url: str = ""
    """Server address for `provider:model` strings (OpenAI-compatible servers, Ollama)."""
    load_in_4bit: bool = True
    """Quantise a model loaded from `model` to nf4."""
    max_new_tokens: int = 4000
    """Generation budget of a model loaded from `model`."""
    context_tokens: int = 0
    """The model's context length for prompt budgets (0: the model's own config, else 8192)."""
    max_parallel: int = 1
    """Modules run at once: 1 is sequential; more runs each wave of ready modules in parallel."""
    max_plan_attempts: int = 3
    """Architect calls before an unparseable plan stops the run (each retry feeds the error back)."""
    max_update_retries: int = 1
    """Follow-up calls asking a module only for its missing shared-state keys (0 disables)."""
    max_repairs: int = 2
    """Re-runs of a module whose files fail validation or whose contracts break (errors fed back)."""
    samples: int = 1
    """Candidates per module attempt (best of N): asked for in one request where the backend can
    (`n` on OpenAI-compatible servers, K rows in LocalLLM), judged by the module's checks, the
    best kept (`matrioska.model.sampling`)."""
    sample_temperature: float | None = None
    """The temperature candidates are sampled at when `samples` > 1 (None: the model's own, or
    0.7 when it decodes greedily)."""
    functions: bool = field(default_factory=lambda: functions_default())
    """Write a code module (Python that is not tests, JavaScript) function by function: a
    function plan with examples, K candidates per function chosen by running the examples, the
    files assembled without the model (`matrioska.functions`); the whole-module path stays for
    the other files and as the fallback."""
    function_samples: int = 0
    """K, the candidates per function on that path (0: `samples` when it is above 1, else 4)."""

    function_retries: int = 1
    """Rounds of K more candidates, at a higher temperature, for a function none of whose
    candidates passes its examples (issue 41); 0: none."""

    @property
    def function_k(self) -> int:
        """K on the function path."""
        if self.function_samples > 0:
            return int(self.function_samples)
        return int(self.samples) if int(self.samples or 1) > 1 else 4

    contract: bool = True
    """Decide the project's contract (public functions, commands, element ids) right after the
    plan, and derive the scenarios, function plans, pages and tests from it (issue 40)."""
    acceptance: bool = True
    """Have the model write acceptance scenarios after the plan when the user gave none."""
    review: bool = False
    """Stop after the plan for a human to approve, edit or re-plan it (an interrupt)."""
    assembler_notes: bool = True
    """Ask the model for short integration notes at assembly (the prompt holds no artifacts)."""
    verify: bool = True
    """Run the assembled project (imports, tests, entry point, the page in a browser) in the sandbox."""
    sandbox: str = "auto"
    """"auto" (bubblewrap when installed, else nothing is run), "bwrap", or "none" (unsandboxed)."""
    verify_timeout: float = 120.0
    """Seconds each verification command may run before its whole process group is killed."""
    fix_rounds: int = 2
    """Rounds of sending runtime failures back to the modules that own them, then re-checking."""
    verify_dir: str = ""
    """Where the project's Python requirements are installed as wheels ("" : a temporary folder)."""
    allow_install: list[str] = field(
        default_factory=list,
        metadata={"description": "Requirements verification may install besides the well-known distributions."},
    )
    """Distribution names verification may install although they are not in Matrioska's list of
    well-known distributions (never the project's own module names): `--allow-install`."""


def resolve_llm(context: Context | None, role: str = "executor") -> BaseChatModel:
    """The chat model a node of `role` should call, or a clear error saying how to configure one."""
    from langchain_core.language_models import BaseChatModel  # here: keeps `matrioska --help` fast

    context = context or Context()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    unknown = sorted(set(context.roles) - set(ROLES))
    if unknown:
        raise ModelNotConfiguredError(f"unknown role(s) {', '.join(unknown)} in roles; use {', '.join(ROLES)}")
    chosen = context.roles.get(role)
    if chosen is None or (isinstance(chosen, str) and not chosen.strip()):
        chosen = context.llm if context.llm is not None else context.model.strip() or os.environ.get(MODEL_ENV_VAR, "")
    if isinstance(chosen, str):
        spec = chosen.strip()
        if not spec:
            raise ModelNotConfiguredError(
                "no model configured: pass context=Context(llm=...) in Python, set 'model' in the run's "
                f"context (Studio), or set {MODEL_ENV_VAR} to a hub id, a local model directory or provider:model"
            )
        from .model.factory import cached_chat_model

        return cached_chat_model(
            spec,
            base_url=context.base_url or None,
            load_in_4bit=context.load_in_4bit,
            max_new_tokens=context.max_new_tokens,
        )
    if not isinstance(chosen, BaseChatModel):
        raise ModelNotConfiguredError(
            f"the {role} model must be a LangChain chat model (BaseChatModel) or a model string, "
            f"got {type(chosen).__name__}"
        )
    return chosen
