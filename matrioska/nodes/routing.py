"""Routing: which module runs next, and when the loop over modules ends.

The loop is bounded by data: it ends when every module of the execution order is completed,
never by LangGraph's recursion limit.
"""

from __future__ import annotations

from typing import Literal

from ..state import MatrioskaState


def next_pending(state: MatrioskaState) -> str | None:
    """The first module in execution order that has not completed, or None."""
    done = set(state.get("completed") or [])
    for module_id in state.get("execution_order") or []:
        if module_id not in done:
            return module_id
    return None


def pending_count(state: MatrioskaState) -> int:
    """How many modules are left to run."""
    done = set(state.get("completed") or [])
    return sum(1 for module_id in state.get("execution_order") or [] if module_id not in done)


def route_modules(state: MatrioskaState) -> Literal["executor", "assembler"]:
    """After the architect and after every module: run the next module, or assemble."""
    return "executor" if next_pending(state) is not None else "assembler"
