"""The graph's nodes (one per file) and the routing between them."""

from .acceptance import acceptance
from .architect import architect
from .assembler import assembler
from .contract import contract
from .executor import executor
from .review import review, route_after_plan, route_after_review
from .routing import join, next_pending, route_after_module, route_modules
from .verify import route_after_verify, verify

__all__ = [
    "architect",
    "acceptance",
    "contract",
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
