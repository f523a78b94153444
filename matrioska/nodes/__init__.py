"""The graph's nodes (one per file) and the routing between them."""

from matrioska.nodes.acceptance import acceptance
from matrioska.nodes.architect import architect
from matrioska.nodes.assembler import assembler
from matrioska.nodes.executor import executor
from matrioska.nodes.review import review, route_after_plan, route_after_review
from matrioska.nodes.routing import join, next_pending, route_after_module, route_modules
from matrioska.nodes.verify import route_after_verify, verify

__all__ = [
    "architect",
    "acceptance",
    "executor",
    "assembler",
    "join",
    "review",
    "route_after_plan",
    "route_after_review",
    "route_modules",
    "route_after_module",
    "next_pending",
    "verify",
    "route_after_verify",
]
