"""The Matrioska graph: architect -> contract -> acceptance -> executor (looped per module, or in parallel waves) -> assembler -> verify.

Wiring only. `build_graph(checkpointer)` compiles it; the module-level `graph` is compiled
without a checkpointer for LangGraph Studio / `langgraph dev` (the server brings its own) and
loads no model: the model comes from the run's context (`model`) or $MATRIOSKA_MODEL.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

# Absolute imports: the LangGraph server loads this file by path (langgraph.json), outside the package.
from matrioska.context import Context
from matrioska.model.ledger import metered
from matrioska.model.retry import default_retry_policy
from matrioska.nodes import (
    acceptance,
    architect,
    assembler,
    contract,
    executor,
    join,
    review,
    route_after_module,
    route_after_plan,
    route_after_review,
    route_after_verify,
    route_modules,
    verify,
)
from matrioska.state import MatrioskaInput, MatrioskaState

__all__ = ["build_graph", "graph", "DEFAULT_RECURSION_LIMIT"]

# One graph step per module plus the architect and the assembler (waves: two steps per wave);
# plans hold at most 500 modules.
DEFAULT_RECURSION_LIMIT = 1000


def build_graph(checkpointer: Any = None, *, retry_policy: RetryPolicy | None = None) -> CompiledStateGraph:
    """Compile the graph, with `checkpointer` for persistence (None for Studio).

    `retry_policy` applies to every node's model calls; the default retries transient backend
    failures (timeouts, refused connections, out-of-memory, 429/5xx) with exponential backoff.
    """
    retry = retry_policy or default_retry_policy()
    builder = StateGraph(MatrioskaState, context_schema=Context, input_schema=MatrioskaInput)
    # each node's model calls counted per step (`model.ledger`: requests, tokens, seconds)
    builder.add_node("architect", metered(architect, "plan"), retry_policy=retry)
    builder.add_node("contract", metered(contract, "contract"), retry_policy=retry)
    builder.add_node("acceptance", metered(acceptance, "scenarios"), retry_policy=retry)
    # executor also takes the RunnableConfig (the recursion budget): a signature the stubs lack
    builder.add_node("executor", metered(executor, "modules"), retry_policy=retry)
    builder.add_node("assembler", metered(assembler, "notes"), retry_policy=retry)
    builder.add_node("join", join)
    builder.add_node("review", review)
    builder.add_node("verify", verify)

    builder.add_edge(START, "architect")
    # Sequential: executor -> executor ... -> assembler. Waves (Context.max_parallel > 1):
    # Send fan-out to executor, every branch -> join, join routes the next wave once.
    # With Context.review the plan stops at `review` (an interrupt) until approved or edited.
    # The plan's acceptance scenarios (the user's, or written by the model) come right after it.
    # The contract (every public name, decided once) right after the plan; the scenarios derive from it.
    builder.add_edge("architect", "contract")
    builder.add_edge("contract", "acceptance")
    builder.add_conditional_edges("acceptance", route_after_plan, ["review", "executor", "assembler"])
    builder.add_conditional_edges("review", route_after_review, ["review", "architect", "executor", "assembler"])
    builder.add_conditional_edges("executor", route_after_module, ["executor", "join", "assembler"])
    builder.add_conditional_edges("join", route_modules, ["executor", "assembler"])
    builder.add_edge("assembler", "verify")
    # The project runs in the sandbox; a failure goes back to the module(s) that own it (a fix
    # round through the executor, then assembler and verify again), at most Context.fix_rounds.
    builder.add_conditional_edges("verify", route_after_verify, ["executor", END])
    compiled = builder.compile(checkpointer=checkpointer, name="matrioska")
    return compiled.with_config(recursion_limit=DEFAULT_RECURSION_LIMIT)  # type: ignore[return-value]


graph = build_graph()
