"""The throwaway HTTP server a web check opens the generated pages through: the project's folder only,
on 127.0.0.1 and a free port, up only inside a `with`. The project is untrusted, so the server answers
for files under its root and nothing else (no listings, no link that leads out of the root), and tells
the browser to cache nothing."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Files under the served root only: no listings, nothing reached through a link that leaves root."""

    extensions_map = {  # noqa: RUF012 (the base class declares it as a plain class attribute)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html",
        ".htm": "text/html",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".wasm": "application/wasm",
    }

    def __init__(self, *args: Any, root: Path, **kwargs: Any) -> None:
        self._root = root
        super().__init__(*args, directory=str(root), **kwargs)

    def send_head(self) -> Any:
        try:
            Path(self.translate_path(self.path)).resolve().relative_to(self._root)
        except (OSError, ValueError, RuntimeError):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path: Any) -> Any:
        self.send_error(404, "File not found")
        return None

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """A threaded HTTP server for `root` on 127.0.0.1 (a free port), up only inside the `with`."""
    handler = functools.partial(_QuietHandler, root=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
