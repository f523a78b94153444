"""What each step of a run asked of the model (issue 42): requests, tokens and seconds per step.

A node opens a ledger for its work (`with ledger() as steps:`) and returns what was counted in
its state update (`usage`, summed by the state's reducer). Every model call inside it, in its
own thread or in the worker threads it starts (`ContextThreadPoolExecutor` copies the context),
counts itself under the step it is part of: the one named by the innermost `step("...")` block
around it. The steps are the run's phases as a user reads them: plan, contract, scenarios,
function plans, candidates, constants, modules, repairs, fix rounds, notes.

`run_report.json` holds the totals (`usage`) and the CLI prints them as its last lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ledger", "step", "count_call", "metered", "usage_lines", "STEPS"]

STEPS = (
    "plan",
    "contract",
    "scenarios",
    "function plans",
    "candidates",
    "constants",
    "modules",
    "repairs",
    "fix rounds",
    "notes",
    "other",
)
"""The steps, in the order a run reaches them (the order they are printed in)."""
_FIELDS = ("requests", "tokens", "input_tokens", "seconds")
_STICKY = {"fix rounds"}

_BOOK: contextvars.ContextVar[tuple[dict[str, dict[str, float]], threading.Lock] | None] = contextvars.ContextVar(
    "matrioska_ledger", default=None
)
_STEP: contextvars.ContextVar[str] = contextvars.ContextVar("matrioska_step", default="other")


@contextlib.contextmanager
def ledger() -> Iterator[dict[str, dict[str, float]]]:
    """A fresh ledger for a node's work: step -> {requests, tokens, input_tokens, seconds}."""
    book: dict[str, dict[str, float]] = {}
    token = _BOOK.set((book, threading.Lock()))
    try:
        yield book
    finally:
        _BOOK.reset(token)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """The model calls inside count under step `name`; inside a fix round everything counts
    under the fix round (its function plans and candidates are the round's)."""
    token = _STEP.set(_STEP.get() if _STEP.get() in _STICKY else name)
    try:
        yield
    finally:
        _STEP.reset(token)


def count_call(tokens: int, seconds: float, input_tokens: int = 0, requests: int = 1) -> None:
    """One request (or `requests`) of the current step: its output and input tokens, its seconds.
    Outside a ledger nothing is counted."""
    found = _BOOK.get()
    if found is None:
        return
    book, lock = found
    with lock:
        row = book.setdefault(_STEP.get(), dict.fromkeys(_FIELDS, 0))
        row["requests"] += requests
        row["tokens"] += tokens
        row["input_tokens"] += input_tokens
        row["seconds"] = round(row["seconds"] + seconds, 3)


def metered(node: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A graph node whose model calls count under step `name` (the node may name finer steps
    inside), its ledger returned in its update's `usage`. The node's signature is kept (LangGraph
    reads it to pass `runtime` and `config`)."""

    @functools.wraps(node)
    def run(*args: Any, **kwargs: Any) -> Any:
        with ledger() as book, step(name):
            update = node(*args, **kwargs)
        if book and isinstance(update, dict):
            update = {**update, "usage": book}
        return update

    return run


def usage_lines(usage: dict[str, Any]) -> list[str]:
    """The per-step table: `  plan          1 request      812 tokens     54.2 s`, then the total."""
    if not usage:
        return []
    order = [s for s in STEPS if s in usage] + sorted(set(usage) - set(STEPS))
    lines = [f"  {'step':<15}{'requests':>9}{'tokens out':>12}{'tokens in':>11}{'seconds':>10}"]
    total = dict.fromkeys(_FIELDS, 0.0)
    for name in order:
        row = usage[name]
        for key in _FIELDS:
            total[key] += row.get(key, 0)
        lines.append(
            f"  {name:<15}{int(row.get('requests', 0)):>9}{int(row.get('tokens', 0)):>12}"
            f"{int(row.get('input_tokens', 0)):>11}{row.get('seconds', 0):>10.1f}"
        )
    lines.append(
        f"  {'total':<15}{int(total['requests']):>9}{int(total['tokens']):>12}"
        f"{int(total['input_tokens']):>11}{total['seconds']:>10.1f}"
    )
    return lines
