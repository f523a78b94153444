"""The graph's nodes (one per file) and the routing between them."""

from .architect import architect
from .assembler import assembler
from .executor import executor
from .routing import next_pending, route_modules

__all__ = ["architect", "executor", "assembler", "route_modules", "next_pending"]
