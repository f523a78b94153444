"""Typed errors that Matrioska raises instead of tracebacks.

Every failure a user can cause or meet (a blank task, an unparseable plan, a model that
cannot be loaded, an unwritable output folder) is one of these classes, with a message that
says what went wrong and what to do. The CLI prints the message on one line and exits
non-zero; the Python API lets the exception through so callers can catch it by type.
"""

from __future__ import annotations

__all__ = [
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


class MatrioskaError(Exception):
    """Base class of every error Matrioska raises on purpose."""

    thread_id: str | None = None
    """Set by the orchestrator when the error stopped a persisted run."""


class EmptyTaskError(MatrioskaError, ValueError):
    """The task is empty or blank; raised before any model call."""


class PlanError(MatrioskaError, ValueError):
    """The architect's plan could not be parsed or is inconsistent beyond repair."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])
        self.rejected_plans: list[dict[str, object]] = []
        """The architect's replies that were rejected, with why (kept in run_report.json)."""


class ModelLoadError(MatrioskaError, RuntimeError):
    """A model could not be loaded (missing path, not cached, 4-bit unavailable...)."""


class ModelNotConfiguredError(MatrioskaError, RuntimeError):
    """The graph was run without a model in its context or environment."""


class OutputPathError(MatrioskaError, OSError):
    """The output folder (base_path) cannot be created or written."""


class CheckpointError(MatrioskaError):
    """The checkpoint database (a postgres:// URL) cannot be reached or prepared."""


class UnknownThreadError(MatrioskaError, LookupError):
    """`resume` of a thread that has no stored run where the run would be looked up."""

    def __init__(self, thread_id: str, base: object) -> None:
        super().__init__(f"no run with thread id {thread_id!r} under {str(base)!r}")


class ThreadMismatchError(MatrioskaError, ValueError):
    """A thread id was reused for a different task."""


class RecursionBudgetError(MatrioskaError, RuntimeError):
    """The run's recursion_limit is too small for the plan; raised before a module runs."""


class RunFailedError(MatrioskaError, RuntimeError):
    """A persisted run stopped on an unexpected exception; its state is saved."""

    def __init__(self, reason: str, *, thread_id: str | None = None) -> None:
        self.reason = reason
        """What stopped the run, without the resume instructions the message adds."""
        if thread_id:
            reason = (
                f"run {thread_id} stopped: {reason}. Its state is saved; continue it with "
                f"resume(thread_id={thread_id!r}) or `matrioska resume --thread {thread_id}`"
            )
        super().__init__(reason)
        self.thread_id = thread_id


class ModelServerError(RunFailedError):
    """A model server stopped the run: it stopped answering through every retry, or it answered
    with an error status. `url` is the server's base URL, `status` its HTTP status (None when it
    did not answer at all)."""

    def __init__(self, reason: str, *, thread_id: str | None = None, url: str | None = None, status: int | None = None):
        super().__init__(reason, thread_id=thread_id)
        self.url = url
        self.status = status


class ContextLengthError(ModelServerError):
    """The model server refused a prompt longer than its context."""


class SandboxError(MatrioskaError, ValueError):
    """The sandbox asked for cannot be used (unknown mode, `bwrap` without bubblewrap)."""


class ContractError(MatrioskaError, ValueError):
    """A contract file or dict the user gave that cannot be used: one line naming the file, the
    module and the field; raised before any model loads."""


class AcceptanceError(MatrioskaError, ValueError):
    """An acceptance scenario file or list that cannot be used: one line naming the file, the
    scenario and the field; raised before any model loads."""
