"""The Matrioska graph: architect -> executor (looped per module) -> assembler.

Wiring only. `build_graph(checkpointer)` compiles it; the module-level `graph` is compiled
without a checkpointer for LangGraph Studio / `langgraph dev` (the server brings its own) and
loads no model: the model comes from the run's context (`model`) or $MATRIOSKA_MODEL.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

# Absolute imports: the LangGraph server loads this file by path (langgraph.json), outside the package.
from matrioska.context import Context
from matrioska.nodes import architect, assembler, executor, route_modules
from matrioska.state import MatrioskaInput, MatrioskaState

__all__ = ["build_graph", "graph", "DEFAULT_RECURSION_LIMIT"]

# One graph step per module plus the architect and the assembler; plans hold at most 500 modules.
DEFAULT_RECURSION_LIMIT = 1000


def build_graph(checkpointer: Any = None) -> CompiledStateGraph:
    """Compile the graph, with `checkpointer` for persistence (None for Studio)."""
    builder = StateGraph(MatrioskaState, context_schema=Context, input_schema=MatrioskaInput)
    builder.add_node("architect", architect)
    builder.add_node("executor", executor)
    builder.add_node("assembler", assembler)

    builder.add_edge(START, "architect")
    builder.add_conditional_edges("architect", route_modules)
    builder.add_conditional_edges("executor", route_modules)
    builder.add_edge("assembler", END)
    compiled = builder.compile(checkpointer=checkpointer, name="matrioska")
    return compiled.with_config(recursion_limit=DEFAULT_RECURSION_LIMIT)  # type: ignore[return-value]


graph = build_graph()
