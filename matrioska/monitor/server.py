"""The monitor's HTTP side: JSON API, server-sent events, static page, access token."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
_RECENT = 15.0  # seconds: a run whose checkpoint changed this recently counts as running


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Driver:
    """What lets the page act on runs: a live event feed, and who continues a run.

    `orchestrator` (optional) continues runs: answering a review or resuming runs it in a
    background thread. A CLI run started with `--serve` instead registers itself for its
    thread (`attach`): review answers then go to that run's own loop.
    """

    def __init__(self, orchestrator: Any = None) -> None:
        self.orchestrator = orchestrator
        self.active: set[str] = set()
        self.answers: dict[str, queue.Queue[dict[str, Any]]] = {}
        self.rates: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def attach(self, thread_id: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            self.active.add(thread_id)
            return self.answers.setdefault(thread_id, queue.Queue())

    def detach(self, thread_id: str) -> None:
        with self._lock:
            self.active.discard(thread_id)

    def on_event(self, thread_id: str) -> Callable[[dict[str, Any]], None]:
        """An `on_event` handler that feeds tokens-per-second to the page."""
        state = self.rates.setdefault(thread_id, {"module": None, "tokens": 0, "since": time.monotonic()})

        def handle(event: dict[str, Any]) -> None:
            kind = event.get("event")
            if kind == "module_started":
                state.update(module=event.get("module"), tokens=0, since=time.monotonic())
            elif kind == "token":
                state["tokens"] += 1
            elif kind in ("run_finished", "review_requested"):
                state.update(module=None)

        return handle

    def rate(self, thread_id: str) -> dict[str, Any] | None:
        state = self.rates.get(thread_id)
        if not state or not state.get("module"):
            return None
        elapsed = max(time.monotonic() - state["since"], 1e-6)
        return {
            "module": state["module"],
            "tokens": state["tokens"],
            "tokens_per_second": round(state["tokens"] / elapsed, 1),
        }

    def submit_review(self, thread_id: str, answer: dict[str, Any]) -> str:
        if thread_id in self.answers and thread_id in self.active:
            self.answers[thread_id].put(answer)
            return "sent to the running command"
        return self._background(thread_id, lambda o, on_event: o.review(thread_id, on_event=on_event, **answer))

    def resume(self, thread_id: str) -> str:
        return self._background(thread_id, lambda o, on_event: o.resume(thread_id, on_event=on_event))

    def _background(self, thread_id: str, work: Callable[[Any, Any], Any]) -> str:
        if self.orchestrator is None:
            raise PermissionError("this monitor has no model to continue runs with; start it with --model")
        with self._lock:
            if thread_id in self.active:
                raise RuntimeError(f"run {thread_id} is already running")
            self.active.add(thread_id)

        def target() -> None:
            try:
                work(self.orchestrator, self.on_event(thread_id))
            except Exception:  # the run's own state records the failure; the page shows it stopped
                pass
            finally:
                self.detach(thread_id)

        threading.Thread(target=target, name=f"matrioska-run-{thread_id}", daemon=True).start()
        return "started"


class Reader:
    """Reads runs from the checkpoint database on its own connection."""

    def __init__(self, out: Path, checkpointer: str | None = None) -> None:
        from ..graph import build_graph
        from ..runs.checkpoint import open_checkpointer

        self.out = out
        if checkpointer:
            self.saver, self.close = open_checkpointer(checkpointer)
        else:
            database = out / "matrioska_checkpoints" / "checkpoints.sqlite"
            database.parent.mkdir(parents=True, exist_ok=True)
            self.saver, self.close = open_checkpointer(database)
        self.graph = build_graph(self.saver)

    def threads(self) -> list[str]:
        seen: dict[str, str] = {}
        for item in self.saver.list(None):
            thread = item.config["configurable"]["thread_id"]
            if item.config["configurable"].get("checkpoint_ns", "") == "" and thread not in seen:
                seen[thread] = item.checkpoint.get("ts", "")
        return sorted(seen, key=lambda t: seen[t], reverse=True)

    def snapshot(self, thread_id: str) -> Any:
        return self.graph.get_state({"configurable": {"thread_id": thread_id}})


def _status(snapshot: Any, active: bool | None) -> str:
    """review / finished / running / stopped. `active`: a process holds the run (None: unknown,
    e.g. PostgreSQL runs on other machines: then a checkpoint written in the last seconds means
    running)."""
    if getattr(snapshot, "interrupts", None):
        return "review"
    if not snapshot.next:
        return "finished" if snapshot.values.get("final_result") else "empty"
    if active is not None:
        return "running" if active else "stopped"
    written = getattr(snapshot, "created_at", None)
    if written:
        from datetime import datetime

        try:
            age = time.time() - datetime.fromisoformat(written).timestamp()
        except ValueError:
            age = _RECENT + 1
        if age < _RECENT:
            return "running"  # another process is writing checkpoints
    return "stopped"


def run_summary(thread_id: str, snapshot: Any, active: bool | None) -> dict[str, Any]:
    values = snapshot.values or {}
    plan = values.get("architecture") or {}
    return {
        "thread_id": thread_id,
        "task": values.get("task", ""),
        "project_name": plan.get("project_name", ""),
        "status": _status(snapshot, active),
        "completed": len(values.get("completed") or []),
        "total": len(values.get("execution_order") or plan.get("modules") or []),
        "updated": getattr(snapshot, "created_at", None),
    }


def _verification(verification: dict[str, Any] | None) -> dict[str, Any] | None:
    """The verdict of running the project, for the run page (outputs trimmed to their tail)."""
    if not verification:
        return None
    return {
        "works": verification.get("works"),
        "verdict": verification.get("verdict"),
        "evidence": verification.get("evidence") or [],
        "status": verification.get("status"),
        "reason": verification.get("reason") or "",
        "rounds": verification.get("rounds", 0),
        "sandbox": verification.get("sandbox"),
        "checks": [
            {
                "kind": c.get("kind"),
                "command": c.get("command"),
                "ok": c.get("ok"),
                "inconclusive": bool(c.get("inconclusive")),
                "modules": c.get("modules") or [],
                "output": (c.get("output") or "")[-1500:],
            }
            for c in verification.get("checks") or []
        ],
    }


def _candidates(report: dict[str, Any], *, artifacts: bool) -> list[dict[str, Any]]:
    """The best-of-N candidates of a module report (issue 27), one dict each, in a shape the page
    can trust whatever the report holds; with their artifact text when `artifacts` (the module's
    own view), else without it (the run's JSON, polled at every checkpoint, stays small)."""
    rows = report.get("candidates")
    if not isinstance(rows, list):
        return []
    shaped = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        problem_list = row.get("problem_list")
        checks = row.get("checks")
        item: dict[str, Any] = {
            "attempt": row.get("attempt"),
            "number": row.get("number"),
            "problems": row.get("problems") or 0,
            "problem_list": [str(p) for p in problem_list] if isinstance(problem_list, list) else [],
            "checked": bool(row.get("checked")),
            "checks": [
                {"command": str(c.get("command") or ""), "ok": c.get("ok")}
                for c in (checks if isinstance(checks, list) else [])
                if isinstance(c, dict)
            ],
            "kept": bool(row.get("kept")),
            "chars": row.get("chars") or len(str(row.get("artifact") or "")),
        }
        if artifacts:
            item["artifact"] = str(row.get("artifact") or "")
        shaped.append(item)
    return shaped


def _sampling(report: dict[str, Any], *, artifacts: bool = False) -> dict[str, Any]:
    """A module's best-of-N summary: `samples` (1 when it did not sample), `candidates_line`,
    `candidates` (see `_candidates`)."""
    try:
        samples = max(1, int(report.get("samples") or 1))
    except (TypeError, ValueError):
        samples = 1
    return {
        "samples": samples,
        "candidates_line": str(report.get("candidates_line") or ""),
        "candidates": _candidates(report, artifacts=artifacts),
        "path": str(report.get("path") or ""),
        "functions": _functions(report),
    }


def _functions(report: dict[str, Any]) -> dict[str, Any] | None:
    """A module written function by function (issue 35): its line and, per function, its
    signature, examples (the suspect ones marked), the candidates tried and whether the kept
    one passes; None for a module asked for whole."""
    entry = report.get("functions")
    if not isinstance(entry, dict) or not isinstance(entry.get("plan"), dict):
        return None
    from ..functions.spec import FunctionPlan

    try:
        plan = FunctionPlan.from_dict(entry["plan"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    trials = (entry.get("trial") or {}).get("functions") or {}
    passing = set(entry.get("passing") or [])
    return {
        "line": str(entry.get("line") or ""),
        "functions": [
            {
                "name": f.name,
                "signature": f.signature(plan.language),
                "purpose": f.purpose,
                "examples": [
                    e.render(f.name, plan.language) + (f"  [suspect: {e.suspect}]" if e.suspect else "")
                    for e in f.examples
                ],
                "candidates": len((trials.get(f.name) or {}).get("candidates") or []),
                "passing": f.name in passing,
                "chosen": bool((trials.get(f.name) or {}).get("chosen", f.name in passing)),
                "why": _whys(trials.get(f.name) or {}),
            }
            for f in plan.functions
        ],
        "commands": [c.name for c in plan.commands],
    }


def _whys(trial: dict[str, Any]) -> list[str]:
    """Why each of a function's candidates failed (issue 41), `#2 (3 alike): add(2, 3) returned 6,
    expected 5`; the kept one marked."""
    out = []
    for index, candidate in enumerate(trial.get("candidates") or []):
        if not isinstance(candidate, dict):
            continue
        mark = " kept" if index == trial.get("kept") else ""
        alike = f" ({candidate['group']} alike)" if int(candidate.get("group") or 0) > 1 else ""
        out.append(f"#{candidate.get('number', index + 1)}{mark}{alike}: {candidate.get('why') or 'passes'}")
    return out


def run_detail(thread_id: str, snapshot: Any, active: bool | None, out: Path) -> dict[str, Any]:
    from ..checking.interfaces import render_interface
    from ..generation.project import project_files

    values = snapshot.values or {}
    summary = run_summary(thread_id, snapshot, active)
    plan = values.get("architecture") or {}
    completed = set(values.get("completed") or [])
    reports = values.get("module_reports") or {}
    faces = values.get("interfaces") or {}
    order = values.get("execution_order") or [m.get("id") for m in plan.get("modules") or []]
    running = next((m for m in order if m not in completed), None) if summary["status"] == "running" else None
    stopped_at = next((m for m in order if m not in completed), None) if summary["status"] == "stopped" else None
    modules = []
    for spec in plan.get("modules") or []:
        mid = spec.get("id")
        report = reports.get(mid) or {}
        if mid in completed:
            status = "failed" if report.get("problems") else "repaired" if (report.get("attempts") or 1) > 1 else "done"
        elif mid == running:
            status = "running"
        elif mid == stopped_at:
            status = "failed"
        else:
            status = "waiting"
        modules.append(
            {
                "id": mid,
                "name": spec.get("name") or mid,
                "dependencies": spec.get("dependencies") or [],
                "reads": spec.get("shared_state_reads") or [],
                "writes": spec.get("shared_state_writes") or [],
                "status": status,
                "attempts": report.get("attempts"),
                "problems": report.get("problems") or [],
                "interface": render_interface(faces[mid]) if mid in faces else None,
                "contract": _contract_text((values.get("contract") or {}).get(mid)),
                **_sampling(report),
            }
        )
    writers = values.get("shared_state_writers") or {}
    readers: dict[str, list[str]] = {}
    for spec in plan.get("modules") or []:
        for key in spec.get("shared_state_reads") or []:
            readers.setdefault(key, []).append(spec.get("id"))
        for module in [spec.get("id"), *(spec.get("dependencies") or [])]:  # a contract: its module and dependents
            readers.setdefault(f"contract.{module}", []).append(spec.get("id"))
    whiteboard = [
        {
            "key": key,
            "writer": writers.get(key),
            "readers": readers.get(key, []),
            "value": json.dumps(value, ensure_ascii=False, indent=2),
        }
        for key, value in (values.get("shared_state") or {}).items()
    ]
    artifacts = values.get("artifacts") or {}
    files = [{"path": f.path, "module": f.module} for f in project_files(values)]
    pending = [i.value for i in getattr(snapshot, "interrupts", ()) or ()]
    return {
        **summary,
        "goal": plan.get("goal", ""),
        "modules": modules,
        "shared_state": whiteboard,
        "artifacts": [{"module": mid, "chars": len(artifacts[mid])} for mid in order if mid in artifacts],
        "files": files,
        "consistency": (values.get("integration_report") or {}).get("consistency") or [],
        "verification": _verification(values.get("verification")),
        "pending_review": pending[0] if pending else None,
        "zip": (out / "matrioska_results.zip").exists(),
    }


def _contract_text(data: Any) -> str | None:
    """A module's contract in a few lines (None: it has none)."""
    if not isinstance(data, dict):
        return None
    from ..functions.contract import ModuleContract, render_contract

    return render_contract(ModuleContract.from_dict(data)) or None


class TokenAuth(BaseHTTPMiddleware):
    """Every request needs the token (query `token=`, `Authorization: Bearer`, or the cookie)."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        offered = (
            request.query_params.get("token")
            or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            or request.cookies.get("matrioska_token")
            or ""
        )
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            return JSONResponse({"error": "unauthorized: pass the access token printed at start"}, status_code=401)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie("matrioska_token", self.token, httponly=True, samesite="strict")
        return response


_SECURITY_HEADERS = {
    # Nothing from elsewhere, no inline script: a value that smuggles markup cannot run.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


class _Monitor:
    """The monitor's request handlers over the runs stored under `out`."""

    def __init__(self, out: Path, reader: Reader, driver: Driver) -> None:
        from ..runs.files import ContextManager

        self.out, self.reader, self.driver = out, reader, driver
        self.lock = threading.Lock()
        self.runs_files = ContextManager(out)

    def active(self, thread_id: str) -> bool | None:
        if thread_id in self.driver.active:
            return True
        return self.runs_files.is_running(thread_id)

    def read(self, thread_id: str) -> Any:
        with self.lock:
            return self.reader.snapshot(thread_id)

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def runs(self, request: Request) -> Response:
        def work() -> list[dict[str, Any]]:
            with self.lock:
                threads = self.reader.threads()
                return [run_summary(t, self.reader.snapshot(t), self.active(t)) for t in threads]

        return JSONResponse(await asyncio.to_thread(work))

    async def run(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        snapshot = await asyncio.to_thread(self.read, thread_id)  # not listing every run to find one
        if not snapshot.values:
            return JSONResponse({"error": f"no run {thread_id!r}"}, status_code=404)
        detail = run_detail(thread_id, snapshot, await asyncio.to_thread(self.active, thread_id), self.out)
        detail["rate"] = self.driver.rate(thread_id)
        return JSONResponse(detail)

    async def artifact(self, request: Request) -> Response:
        from ..checking.interfaces import render_interface
        from ..generation.project import extract_files

        thread_id, module_id = request.path_params["thread_id"], request.path_params["module_id"]
        values = (await asyncio.to_thread(self.read, thread_id)).values or {}
        if module_id == "assembler":
            files = [{"path": p, "content": c} for p, c in (values.get("generated_files") or {}).items()]
            return JSONResponse({"module": module_id, "text": "", "files": files})
        text = (values.get("artifacts") or {}).get(module_id)
        if text is None:
            return JSONResponse({"error": f"no artifact for {module_id!r}"}, status_code=404)
        modules = ((values.get("architecture") or {}).get("modules")) or []
        declared = next((m.get("files") or [] for m in modules if m.get("id") == module_id), [])
        files = [{"path": f.path, "content": f.content} for f in extract_files(text, module_id, declared)]
        face = (values.get("interfaces") or {}).get(module_id)
        report = (values.get("module_reports") or {}).get(module_id) or {}
        return JSONResponse(
            {
                "module": module_id,
                "text": text,
                "files": files,
                "interface": render_interface(face) if face else None,
                **_sampling(report, artifacts=True),
            }
        )

    async def events(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]

        async def stream() -> Any:
            last = None
            while not await request.is_disconnected():
                snapshot = await asyncio.to_thread(self.read, thread_id)
                running = await asyncio.to_thread(self.active, thread_id)
                marker = (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"), running
                if marker != last:
                    last = marker
                    yield f"event: state\ndata: {json.dumps({'checkpoint': marker[0]})}\n\n"
                rate = self.driver.rate(thread_id)
                if rate:
                    yield f"event: rate\ndata: {json.dumps(rate)}\n\n"
                await asyncio.sleep(0.3)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def review(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "send a JSON object"}, status_code=400)
        if not isinstance(body, dict) or body.get("action") not in ("approve", "edit", "replan"):
            return JSONResponse({"error": "action must be approve, edit or replan"}, status_code=400)
        answer = {"action": body["action"]}
        if body.get("plan") is not None:
            answer["plan"] = body["plan"]
        if body.get("comment"):
            answer["comment"] = str(body["comment"])
        snapshot = await asyncio.to_thread(self.read, thread_id)
        if not getattr(snapshot, "interrupts", None):
            return JSONResponse({"error": "this run is not waiting for a plan review"}, status_code=409)
        return self._act(lambda: self.driver.submit_review(thread_id, answer))

    async def resume(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        return self._act(lambda: self.driver.resume(thread_id))

    @staticmethod
    def _act(action: Callable[[], str]) -> Response:
        try:
            return JSONResponse({"status": action()}, status_code=202)
        except PermissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except RuntimeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)

    async def results_zip(self, request: Request) -> Response:
        path = self.out / "matrioska_results.zip"
        if not path.is_file():
            return JSONResponse({"error": "no results zip yet"}, status_code=404)
        return FileResponse(path, filename="matrioska_results.zip", media_type="application/zip")


def create_app(
    out: str | Path, *, checkpointer: str | None = None, token: str | None = None, driver: Driver | None = None
) -> Starlette:
    """The monitor app for the runs stored under `out` (or in the `checkpointer` URL)."""
    out = Path(out).expanduser().resolve()
    reader = Reader(out, checkpointer)
    monitor = _Monitor(out, reader, driver or Driver())
    middleware = [Middleware(SecurityHeaders)]
    if token:
        middleware.insert(0, Middleware(TokenAuth, token=token))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        reader.close()

    app = Starlette(
        routes=[
            Route("/", monitor.index),
            Route("/api/runs", monitor.runs),
            Route("/api/runs/{thread_id}", monitor.run),
            Route("/api/runs/{thread_id}/artifacts/{module_id}", monitor.artifact),
            Route("/api/runs/{thread_id}/events", monitor.events),
            Route("/api/runs/{thread_id}/review", monitor.review, methods=["POST"]),
            Route("/api/runs/{thread_id}/resume", monitor.resume, methods=["POST"]),
            Route("/api/zip", monitor.results_zip),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.driver = monitor.driver
    return app


def serve_in_thread(app: Starlette, host: str, port: int) -> tuple[Any, threading.Thread]:
    """Start uvicorn in a daemon thread; returns the server (its `should_exit` stops it)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="matrioska-monitor", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise OSError(f"the monitor could not start on {host}:{port} (is the port free?)")
    return server, thread
