"""The graph's nodes (one per file) and the routing between them."""

from .architect import architect
from .assembler import assembler
from .executor import executor
from .routing import join, next_pending, route_after_module, route_modules

__all__ = ["architect", "executor", "assembler", "join", "route_modules", "route_after_module", "next_pending"]
