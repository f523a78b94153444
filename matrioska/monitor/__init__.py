"""A local web monitor that works offline: `matrioska serve --out DIR` (or `run ... --serve`).

Starlette + uvicorn; the page, its JavaScript and CSS ship inside the package (no CDN). It
reads runs from the checkpointer on its own connection (reads never block a running graph),
streams changes over server-sent events, and can answer a plan review, resume a stopped run
and hand out the results zip.
"""

from .server import Driver, create_app, serve_in_thread

__all__ = ["create_app", "serve_in_thread", "Driver"]
