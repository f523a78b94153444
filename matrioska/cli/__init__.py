"""The `matrioska` command: `run` a task, `resume` a stopped run.

It prints the phases and per-module progress like the seed's console output. Every error
Matrioska raises on purpose is one line on stderr and a non-zero exit, never a traceback; a
stopped run prints the command that continues it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from matrioska.context import DEFAULT_MODEL_ID, MODEL_ENV_VAR, ROLES
from matrioska.errors import (
    AcceptanceError,
    EmptyTaskError,
    MatrioskaError,
    PlanError,
    RunFailedError,
    UnknownThreadError,
)


def _version() -> str:
    """The installed distribution's version (the package's own when run from a checkout)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("matrioska")
    except importlib.metadata.PackageNotFoundError:
        from matrioska.defaults import VERSION

        return VERSION


def _positive(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matrioska",
        description="Turn one big request into a multi-file project: architect -> modules in hyperfocus -> assembly.",
    )
    parser.add_argument("--version", action="version", version=f"matrioska {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="output folder (artifacts, checkpoints, results zip)")
        p.add_argument(
            "--model",
            help=f"hub id, local model directory, or provider:model such as ollama:mistral or openai:NAME "
            f"or a built-in small model: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b (see `matrioska models`) "
            f"(default: ${MODEL_ENV_VAR}, else {DEFAULT_MODEL_ID} in 4-bit with CUDA, else qwen2.5-coder-0.5b)",
        )
        for role in ROLES:
            p.add_argument(f"--{role}-model", metavar="MODEL", help=f"another model for the {role} (default: --model)")
        p.add_argument(
            "--checkpointer",
            metavar="URL",
            help="postgresql://... to keep run state in PostgreSQL (default: SQLite under --out)",
        )
        p.add_argument(
            "--base-url", help="server address for provider:model (vLLM, llama.cpp server, LM Studio, Ollama)"
        )
        p.add_argument("--no-4bit", action="store_true", help="load full-precision weights instead of nf4")
        p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
        p.add_argument(
            "--dtype",
            default="auto",
            choices=("auto", "bfloat16", "float16", "float32"),
            help="weights' dtype with --no-4bit (default auto: float16 on CUDA; on a CPU the faster of bfloat16 and "
            "float32 there, measured at load)",
        )
        p.add_argument(
            "--no-json-schema",
            action="store_true",
            help="do not constrain the local model's plan and updates to their JSON schemas (parse and repair instead)",
        )
        p.add_argument("--max-new-tokens", type=int, default=4000, help="generation budget per call (default 4000)")
        p.add_argument(
            "--temperature",
            type=float,
            default=None,
            help="sampling temperature (default: the model's; 0 is greedy, repeatable decoding)",
        )
        p.add_argument(
            "--context-tokens",
            type=int,
            default=0,
            help="the model's context length for prompt budgets (default: the local model's config, else 8192)",
        )
        p.add_argument(
            "--parallel",
            type=int,
            default=1,
            metavar="N",
            help="run independent modules in waves, N at once (default 1: sequential)",
        )
        p.add_argument("--review", action="store_true", help="stop after the plan to approve, edit or re-plan it")
        p.add_argument(
            "--git", action="store_true", help="make the project folder a git repository, one commit per module"
        )
        p.add_argument(
            "--repairs",
            type=int,
            default=2,
            metavar="N",
            help="re-runs of a module whose files fail validation or whose contracts break (default 2)",
        )
        p.add_argument(
            "--samples",
            type=_positive,
            default=1,
            metavar="K",
            help="candidates per module attempt, the module's checks keep the best (default 1; raise it for a "
            "small model: one request with n=K on a server, K rows of one batch in process)",
        )
        p.add_argument("--plan-attempts", type=int, default=3, help="architect attempts before giving up (default 3)")
        p.add_argument("--no-verify", action="store_true", help="do not run the generated project (no verdict)")
        p.add_argument(
            "--sandbox",
            choices=("auto", "bwrap", "none"),
            default="auto",
            help="where generated code runs: auto (bubblewrap when installed, else nothing runs), bwrap, "
            "or none (unsandboxed, at your own risk)",
        )
        p.add_argument(
            "--verify-timeout", type=float, default=120, metavar="S", help="seconds per check command (default 120)"
        )
        p.add_argument(
            "--allow-install",
            metavar="NAME,...",
            action="append",
            default=[],
            help="requirements verification may install although they are not well-known distributions "
            "(comma-separated, repeatable; never a name of the project's own modules)",
        )
        p.add_argument(
            "--fix-rounds",
            type=int,
            default=2,
            metavar="N",
            help="rounds of sending runtime failures back to the modules that own them (default 2)",
        )
        p.add_argument(
            "--retries",
            type=int,
            default=4,
            help="attempts per model call on timeouts/connection errors/OOM (default 4)",
        )

    run = sub.add_parser("run", help="run a task")
    run.add_argument("task", help="what to build, in natural language")
    model_options(run)
    run.add_argument("--thread", help="thread id (default: a new one); an existing one continues that run")
    run.add_argument("--plan", help="a ready plan (JSON file); the architect only validates it")
    run.add_argument(
        "--acceptance",
        metavar="FILE",
        help="your acceptance scenarios (JSON, see README): the verdict says WORKS only when they pass; "
        "they replace the scenarios the model would write",
    )
    run.add_argument(
        "--acceptance-extra",
        action="store_true",
        help="with --acceptance: the model writes its scenarios beside yours",
    )
    run.add_argument(
        "--no-acceptance",
        action="store_true",
        help="the model writes no acceptance scenarios (the verdict rests on the checks and yours)",
    )

    resume = sub.add_parser("resume", help="continue a stopped run")
    model_options(resume)
    resume.add_argument("--thread", required=True, help="thread id printed when the run started")
    for p in (run, resume):
        p.add_argument(
            "--serve", action="store_true", help="start the web monitor beside the run and print its address"
        )
        monitor_options(p)

    serve = sub.add_parser("serve", help="the offline web monitor for the runs under --out")
    serve.add_argument("--out", required=True, help="output folder whose runs to show")
    serve.add_argument("--checkpointer", metavar="URL", help="postgresql://... when the runs live in PostgreSQL")
    serve.add_argument("--model", help="a model to continue runs with (approve a review, resume); optional")
    monitor_options(serve)
    sub.add_parser("kinds", help="list the installed module kinds (built-in and plugins)")
    models = sub.add_parser("models", help="the built-in small models: list them, or fetch one ahead of time")
    models.add_argument("action", nargs="?", choices=("list", "pull"), default="list", help="list (default) or pull")
    models.add_argument("name", nargs="?", help="the model to pull (a name or alias from the list)")
    return parser


def _kinds(out: TextIO, err: TextIO) -> int:
    """`matrioska kinds`: name, description and the package each kind came from."""
    from matrioska import kinds

    installed = kinds.installed()
    width = max(len(item.name) for item in installed)
    for item in installed:
        print(f"{item.name:<{width}}  {item.description}  [{item.source}]", file=out)
    for problem in kinds.load_problems():
        print(f"! {problem}", file=err)
    return 0


def _models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`matrioska models`: the built-in models (name, aliases, size, cached or not, where);
    `matrioska models pull NAME`: fetch and convert one now (its folder is the last line)."""
    from matrioska.model import builtin as bm

    if args.action == "pull":
        if not args.name:
            print(f"error: which model? matrioska models pull NAME; known: {bm.known_names()}", file=err)
            return 2
        folder = bm.pull(bm.require(args.name), out=err)
        print(folder, file=out)
        return 0
    if args.name:
        print("error: `matrioska models` lists them; to fetch one: matrioska models pull NAME", file=err)
        return 2
    rows = [("NAME", "ALIASES", "DOWNLOAD", "ON DISK", "CACHED", "WHERE")]
    for model in bm.MODELS.values():
        cached = bm.is_cached(model)
        rows.append(
            (
                model.name + (" (default without a GPU)" if model.name == bm.DEFAULT_CPU_MODEL else ""),
                ", ".join(model.aliases),
                f"{model.size / 1e6:,.0f} MB",
                f"~{model.folder_bytes / 1e9:.1f} GB",
                "yes" if cached else "no",
                str(bm.model_dir(model)) if cached else f"(would be {bm.model_dir(model)})",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)
    return 0


def monitor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind the monitor to (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="monitor port (default 8765)")
    p.add_argument("--token", help="access token (required, and generated when not given, off loopback)")


def start_monitor(args: argparse.Namespace, out: TextIO, driver: Any) -> Any:
    """Start the monitor in a background thread; print its address (and token off loopback)."""
    import secrets

    from matrioska.monitor import create_app, serve_in_thread
    from matrioska.monitor.server import is_loopback

    token = args.token
    if not is_loopback(args.host) and not token:
        token = secrets.token_urlsafe(24)
    app = create_app(args.out, checkpointer=getattr(args, "checkpointer", None), token=token, driver=driver)
    try:
        server, _ = serve_in_thread(app, args.host, args.port)
    except OSError as exc:
        raise MatrioskaError(str(exc)) from None
    address = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"monitor: {address}", file=out, flush=True)
    if token:
        print(f"  access token (every request needs it): {token}", file=out, flush=True)
    return server


def machine_default_model(args: argparse.Namespace) -> tuple[str, str | None]:
    """The model a run takes when none is chosen (`--model`, $MATRIOSKA_MODEL, or a model for
    every role), and the line that says so: with CUDA (or `--device cuda`) the 4-bit
    Mistral-7B, silently; without, the built-in small model, in process, announced."""
    chosen = args.model or os.environ.get(MODEL_ENV_VAR)
    if chosen:
        return chosen, None
    if all(getattr(args, f"{r}_model", None) for r in ROLES) or str(getattr(args, "device", "") or "").startswith(
        "cuda"
    ):
        return DEFAULT_MODEL_ID, None
    import torch

    if torch.cuda.is_available():
        return DEFAULT_MODEL_ID, None
    from matrioska.model.builtin import DEFAULT_CPU_MODEL

    return DEFAULT_CPU_MODEL, f"no GPU: using {DEFAULT_CPU_MODEL}, in process; --model to choose"


def load_model(args: argparse.Namespace) -> Any:
    """The chat models the command line asks for: the main one, and a dict of per-role ones.

    A seam tests replace with scripted models. Every model loads (or fails, in one line) here,
    before the run starts.
    """
    from matrioska.model.factory import load_chat_model

    sampling: dict[str, Any] = {}
    if args.temperature is not None:
        sampling["temperature"] = args.temperature
    if args.temperature == 0:
        sampling["do_sample"] = False  # LocalLLM: greedy

    def load(spec: str) -> Any:
        from matrioska.model.factory import is_provider_spec

        extra = dict(sampling)
        if is_provider_spec(spec):
            extra.pop("do_sample", None)
        return load_chat_model(
            spec,
            **extra,
            base_url=args.base_url,
            load_in_4bit=not args.no_4bit,
            device=args.device,
            dtype=args.dtype,
            max_new_tokens=args.max_new_tokens,
            constrain_json=not args.no_json_schema,
        )

    main_spec, _ = machine_default_model(args)
    role_specs = {role: getattr(args, f"{role}_model") for role in ROLES if getattr(args, f"{role}_model", None)}
    roles = {role: load(spec) for role, spec in role_specs.items()}
    if len(roles) == len(ROLES):
        return roles["executor"], roles  # every role has its own model: the main one is not loaded
    return load(main_spec), roles


class ProgressPrinter:
    """Turns the orchestrator's progress events into the seed's console output."""

    def __init__(self, out: TextIO, resume_hint: Callable[[str], str], *, live: bool | None = None) -> None:
        self.out = out
        self.resume_hint = resume_hint
        self.executing = False
        self.replies = ""
        # A live line (redrawn in place) only on a terminal; logs get one line per module.
        self.live = out.isatty() if live is None else live
        self.tokens = 0
        self.started = time.monotonic()
        self.label = ""
        self.position = (0, 0)
        self.drawn = 0.0

    def p(self, text: str = "") -> None:
        if self.live and self.label:
            self.out.write("\r\033[K")
        print(text, file=self.out, flush=True)

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def on_token(self, e: dict[str, Any]) -> None:
        self.tokens += 1
        now = time.monotonic()
        if not self.live or now - self.drawn < 0.1:
            return
        self.drawn = now
        done, total = self.position
        width = 20
        filled = int(width * done / total) if total else 0
        bar = "█" * filled + "░" * (width - filled)
        self.out.write(f"\r\033[K  [{bar}] {self.label}: {self.tokens} tokens, {self._rate():.1f} tok/s")
        self.out.flush()

    def _start_counting(self, label: str, position: tuple[int, int]) -> None:
        self.tokens, self.started, self.label, self.position = 0, time.monotonic(), label, position

    def _stop_counting(self) -> str:
        text = f"{self.tokens} tokens, {self._rate():.1f} tok/s" if self.tokens else ""
        if self.live and self.label:
            self.out.write("\r\033[K")
        self.label = ""
        return text

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(event)

    def on_run_started(self, e: dict[str, Any]) -> None:
        self.p("MATRIOSKA ORCHESTRATOR - Hyperfocus + SharedState")
        state = "continuing" if e.get("resumed") else "new run"
        self.p(f"  thread: {e['thread_id']} ({state}; {self.resume_hint(e['thread_id'])})")

    def on_phase(self, e: dict[str, Any]) -> None:
        if e["phase"] == "architecture":
            self.p("PHASE 1: ARCHITECTURE")
            self.p(f"  Task: {e['task']!r}")
            self._start_counting("planning", (0, 1))
        elif e["phase"] == "acceptance":
            self._start_counting("writing acceptance scenarios", (0, 1))
        elif e["phase"] == "assembly":
            self.p("PHASE 3: ASSEMBLY")
            self.p(f"  integrating {e['modules']} artifacts...")
        elif e["phase"] == "verification":
            self.p(f"PHASE 4: VERIFICATION (running the project; sandbox: {e['sandbox']})")

    def on_plan_retry(self, e: dict[str, Any]) -> None:
        self.p(f"  ! plan attempt {e['attempt']}/{e['of']} unusable: {e['error']}")

    def on_plan_ready(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        self.p(f"  ✓ Project: {e['project_name']}" + (f"  ({rate})" if rate else ""))
        self.p(f"  ✓ Objective: {e['goal']}")
        self.p(f"  ✓ Modules: {len(e['modules'])}")
        for line in plan_table(e["modules"]):
            self.p("     " + line)
        for line in e.get("report") or []:
            self.p(f"  · {line}")

    def on_acceptance_ready(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        scenarios = e.get("scenarios") or []
        self.p(f"  ✓ Acceptance: {len(scenarios)} scenario(s)" + (f"  ({rate})" if rate else ""))
        for scenario in scenarios:
            self.p(f"     - [{scenario['kind']}, {scenario['source']}] {scenario['text'][:160]}")
        for line in e.get("notes") or []:
            if "dropped" in line or "unusable" in line:
                self.p(f"  · {line}")

    def on_module_started(self, e: dict[str, Any]) -> None:
        if not self.executing:
            self.executing = True
            self.p("PHASE 2: EXECUTION (hyperfocus + communication)")
        if e.get("replies") and e["replies"] != self.replies:
            self.replies = e["replies"]
            self.p(f"  replies: {self.replies}")
        reads = f"reading context {e['reads']}" if e["reads"] else "no context to read"
        self.p(f"  [{e['index']}/{e['total']}] {e['name']}: {reads}")
        self._start_counting(f"{e['index']}/{e['total']} {e['name']}", (e["index"] - 1, e["total"]))

    def on_module_finished(self, e: dict[str, Any]) -> None:
        rate = self._stop_counting()
        generation = e.get("generation") or {}
        if generation.get("seconds"):
            # The module's own calls: modules of one wave each get their own rate.
            estimated = " (estimated)" if "estimate" in str(generation.get("source")) else ""
            rate = f"{generation['tokens']} tokens, {generation['tokens_per_second']:.1f} tok/s{estimated}"
        files = e.get("file_count", 0)
        problems = e.get("problems") or []
        mark = "✗" if problems or not files else "✓"
        detail = f"{e['chars']} chars, {files} file(s){', ' + rate if rate else ''}"
        parts = [f"{mark} generated ({detail})", f"wrote {e['written']}"]
        if problems:
            parts.append(f"{len(problems)} problem(s) left: {problems[0][:120]}")
        if e.get("dropped_keys"):
            parts.append(f"dropped undeclared {e['dropped_keys']}")
        if e.get("missing_keys"):
            parts.append(f"missing {e['missing_keys']}")
        self.p("      " + " / ".join(parts))

    def on_module_repair(self, e: dict[str, Any]) -> None:
        self._stop_counting()
        self.p(f"      ! attempt {e['attempt']} has {len(e['problems'])} problem(s), re-running: {e['problems'][0]}")
        self._start_counting(f"repair of {e['module']}", self.position)

    def on_sampling(self, e: dict[str, Any]) -> None:
        how = {
            "n": f"one request with n={e['samples']}",
            "rows": f"{e['samples']} rows of one batch",
            "parallel": f"{e['samples']} requests at once",
        }.get(e["mode"], e["mode"])
        self.p(f"  samples: {e['samples']} candidates per module attempt ({how}), temperature {e['temperature']}")

    def on_module_candidates(self, e: dict[str, Any]) -> None:
        self.p(f"      · attempt {e['attempt']}: {e['line']}")

    def on_module_blocked(self, e: dict[str, Any]) -> None:
        self.p(f"  ⊘ {e['module']}: not generated — {e['reason']}")

    def on_modules_retried(self, e: dict[str, Any]) -> None:
        if not e["modules"]:  # blocked under a former rule, nothing blocks them now
            self.p(f"  generating the modules not generated yet: {', '.join(e['blocked'])}")
            return
        again = ", ".join(repr(m) for m in e["modules"])
        self.p(
            f"  generating {again} again (it lacks a part it declared), then the modules it blocked: "
            f"{', '.join(e['blocked'])}"
        )

    def on_near_miss_fixed(self, e: dict[str, Any]) -> None:
        self.p(f"  ~ fixed without the model: {e['path']}:{e['line']} {e['old']!r} -> {e['new']!r}")

    def on_reply_grammar_refused(self, e: dict[str, Any]) -> None:
        self.replies = "parsed"
        self.p(f"  ! the server refused the reply grammar ({e['error'][:160]}); asked again without it")
        self.p("  replies: parsed")

    def on_structured_output_refused(self, e: dict[str, Any]) -> None:
        self.p(f"  ! the server refused structured output ({e['error'][:160]}); asked again without it")

    def on_verification_skipped(self, e: dict[str, Any]) -> None:
        self.p(f"  ! not verified: {e['reason']}")

    def on_sandbox_warning(self, e: dict[str, Any]) -> None:
        self.p(f"  ! {e['message']}")

    def on_check_finished(self, e: dict[str, Any]) -> None:
        mark = {True: "✓", False: "✗", None: "-"}[e.get("ok")]
        where = f" -> {', '.join(e['modules'])}" if e.get("modules") else ""
        self.p(f"  {mark} {e['kind']}: {e['command']} ({e['seconds']:.1f} s){where}")

    def on_fix_round(self, e: dict[str, Any]) -> None:
        what = "the references that do not resolve" if e.get("reason") == "references" else "the failures"
        self.p(f"FIX ROUND {e['round']}/{e['of']}: sending {what} back to {e['modules']}")

    def on_module_fix(self, e: dict[str, Any]) -> None:
        first = (e.get("evidence") or "").strip().splitlines()
        self.p(f"  {e['module']}: fixing " + (first[0][:120] if first else ""))

    def on_assembled(self, e: dict[str, Any]) -> None:
        if e.get("broken_contracts"):
            self.p(f"  ! broken contracts: {e['broken_contracts']}")


def plan_table(modules: list[dict[str, Any]]) -> list[str]:
    """The plan as a text table: one row per module, in build order."""
    header = ("#", "id", "name", "depends on", "reads", "writes")
    rows = [
        (
            str(i),
            m["id"],
            m["name"],
            ", ".join(m["dependencies"]) or "-",
            ", ".join(m["reads"]) or "-",
            ", ".join(m["writes"]) or "-",
        )
        for i, m in enumerate(modules, 1)
    ]
    widths = [min(40, max(len(r[c]) for r in [header, *rows])) for c in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    """`matrioska serve`: the monitor in the foreground until Ctrl-C."""
    from matrioska.monitor import Driver

    orchestrator = None
    if args.model:
        from matrioska.model.factory import load_chat_model
        from matrioska.runs.orchestrator import MatrioskaOrchestrator

        orchestrator = MatrioskaOrchestrator(load_chat_model(args.model), args.out, checkpointer=args.checkpointer)
    server = start_monitor(args, out, Driver(orchestrator))
    try:
        while not server.should_exit:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
    return 0


def ask_review(pending: dict[str, Any], out: TextIO) -> dict[str, Any] | None:
    """Ask the user about the plan on the terminal: approve, edit in $EDITOR, re-plan, or quit."""
    import shutil
    import subprocess
    import tempfile

    print("PLAN REVIEW", file=out)
    plan = pending.get("plan") or {}
    modules = plan.get("modules") or []
    for line in plan_table(
        [
            {
                "id": m["id"],
                "name": m.get("name") or m["id"],
                "dependencies": m.get("dependencies") or [],
                "reads": m.get("shared_state_reads") or [],
                "writes": m.get("shared_state_writes") or [],
            }
            for m in modules
        ]
    ):
        print("     " + line, file=out)
    scenarios = pending.get("acceptance") or []
    if scenarios:
        from matrioska.plan.acceptance import describe

        print(f'  acceptance scenarios ({len(scenarios)}; edit them under "acceptance"):', file=out)
        for scenario in scenarios:
            print(f"     - {describe(scenario)[:200]}", file=out)
    if pending.get("error"):
        print(f"  ! {pending['error']}", file=out)
    while True:
        print("  [a]pprove, [e]dit in $EDITOR, [r]e-plan with a comment, [q]uit? ", end="", file=out, flush=True)
        choice = sys.stdin.readline().strip().lower()[:1]
        if choice in ("", "q"):
            return None
        if choice == "a":
            return {"action": "approve"}
        if choice == "r":
            print("  comment for the architect: ", end="", file=out, flush=True)
            return {"action": "replan", "comment": sys.stdin.readline().strip()}
        if choice == "e":
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or shutil.which("vi") or "vi"
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
                # the plan and its acceptance scenarios, edited in one document
                json.dump({**plan, "acceptance": scenarios}, handle, indent=2, ensure_ascii=False)
            try:
                subprocess.run([*editor.split(), handle.name], check=False)
                text = Path(handle.name).read_text(encoding="utf-8")
            finally:
                Path(handle.name).unlink(missing_ok=True)
            return {"action": "edit", "plan": text}


def _print_final(out: TextIO, state: dict[str, Any]) -> None:
    architecture = state.get("architecture") or {}
    print("FINAL RESULT", file=out)
    keys = list((state.get("shared_state") or {}).keys())
    print(
        f"  {architecture.get('project_name', '?')} — artifacts: {len(state.get('artifacts') or {})} — "
        f"shared_state keys: {keys} — integrated result: {len(state.get('final_result') or '')} chars",
        file=out,
    )
    report = state.get("integration_report") or {}
    rows = report.get("consistency") or []
    if rows:
        broken = [row for row in rows if row["status"] == "broken"]
        print(f"  consistency: {len(rows) - len(broken)} contracts held, {len(broken)} broken", file=out)
        references = report.get("references") or {}
        if references.get("total"):
            print(f"  cross-module references: {references['resolved']}/{references['total']} resolved", file=out)
        for row in broken[:20]:
            problem = f" — {row['problem']}" if row.get("problem") else ""
            print(f"    ✗ {row['contract']} @ {row['where']}{problem}", file=out)
    _print_verdict(out, state.get("verification") or {})
    print(f"  results: {state['results_zip']}", file=out)


def _print_verdict(out: TextIO, verification: dict[str, Any]) -> None:
    """The honest verdict: works, DOES NOT WORK (and why), or not verified (and why)."""
    if not verification:
        return
    from matrioska.checking.verify import NOT_CHECKED, headline

    works = verification.get("works")
    rounds = verification.get("rounds", 0)
    if works is True:
        print(
            f"  verdict: WORKS ({len(verification.get('checks') or [])} checks passed, {rounds} fix round(s))", file=out
        )
    elif works is None and verification.get("verdict") == NOT_CHECKED:
        print(
            f"  verdict: RUNS, NOT CHECKED — {verification.get('reason') or 'no acceptance scenario passed'}", file=out
        )
        for check in [c for c in verification.get("checks") or [] if c.get("inconclusive")][:3]:
            print(f"    ? {check['command']}: {headline(check.get('output') or '')[:200]}", file=out)
    elif works is None:
        print(f"  verdict: not verified — {verification.get('reason') or 'nothing could be run'}", file=out)
    else:
        failed = [c for c in verification.get("checks") or [] if c.get("ok") is False]
        failed_scenarios = [s for s in verification.get("acceptance") or [] if s.get("ok") is False]
        # Nothing that ran failed, yet it does not work (files failing their checks, references
        # that never resolve): the reason is the verdict's, not "0 checks failed".
        if failed:
            why = f"{len(failed)} check(s) failed"
        elif failed_scenarios:
            why = f"{len(failed_scenarios)} acceptance scenario(s) failed"
        else:
            why = verification.get("reason") or "no check failed"
        print(f"  verdict: DOES NOT WORK ({why} after {rounds} fix round(s))", file=out)
        for check in failed[:5]:
            print(f"    ✗ {check['command']}: {headline(check.get('output') or '')[:200]}", file=out)
        if verification.get("blocked_reason"):
            if why != verification["blocked_reason"]:
                print(f"    ✗ {verification['blocked_reason']}", file=out)
            print("    (resume, e.g. with a better --model: it is generated again, then the blocked ones)", file=out)
    scenarios = verification.get("acceptance") or []
    if scenarios:
        ran = [s for s in scenarios if s.get("ok") is not None]
        passed = sum(1 for s in ran if s["ok"])
        skipped = f", {len(scenarios) - len(ran)} not run" if len(ran) < len(scenarios) else ""
        print(f"  acceptance: {passed}/{len(scenarios)} scenarios passed{skipped}", file=out)
        for scenario in [s for s in scenarios if s.get("ok") is False][:6]:
            problems = "; ".join(scenario.get("problems") or [])[:200]
            print(f"    ✗ {scenario['name']}: {problems}", file=out)
    if works is False:
        print("    details: matrioska_checkpoints/verification.json", file=out)


def exit_status(verification: dict[str, Any]) -> int:
    """0: works (or nothing could be run / verification off); 3: built but does not work; 4: it
    runs but nothing showed the task's behaviour (no acceptance scenario passed)."""
    from matrioska.checking.verify import NOT_CHECKED

    if verification.get("works") is False:
        return 3
    if verification.get("works") is None and verification.get("verdict") == NOT_CHECKED:
        return 4
    return 0


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of the `matrioska` command; returns the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)

    def hint(thread_id: str) -> str:
        return f"resume with: matrioska resume --out {args.out} --thread {thread_id}"

    try:
        if args.command == "serve":
            return _serve(args, out)
        if args.command == "kinds":
            return _kinds(out, err)
        if args.command == "models":
            return _models(args, out, err)
        state = _run_or_resume(args, out, err, hint)
        if state is None:
            return 0  # the plan review was left open
        _print_final(out, state)
        return exit_status(state.get("verification") or {})
    except MatrioskaError as exc:
        # One line: what went wrong, what to do, and how to continue a saved run.
        message = f"run {exc.thread_id} stopped: {exc.reason}" if isinstance(exc, RunFailedError) else str(exc)
        if exc.thread_id:
            message += f"; the run's state is saved, {hint(exc.thread_id)}"
        print(f"error: {message}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished modules are saved (rerun with the same --thread to continue)", file=err)
        return 130


def _read_plan(args: argparse.Namespace) -> dict[str, Any] | None:
    """`run`: the task must say something; `--plan` must be a readable JSON file."""
    if args.command != "run":
        return None
    if not args.task.strip():
        raise EmptyTaskError("the task is empty; describe what to build")
    if not args.plan:
        return None
    try:
        plan: dict[str, Any] = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"cannot read the plan file {args.plan!r}: {exc}") from None
    return plan


def _require_stored_run(args: argparse.Namespace) -> None:
    """`resume`: the thread must have a checkpoint in the checkpointer the run would open (the
    SQLite database under --out, or --checkpointer); the same error the orchestrator raises."""
    from matrioska.runs.checkpoint import has_thread
    from matrioska.runs.files import CHECKPOINTS_DIR, DATABASE

    base = Path(args.out).expanduser().resolve()
    if not has_thread(args.checkpointer or base / CHECKPOINTS_DIR / DATABASE, args.thread):
        raise UnknownThreadError(args.thread, base)


def _run_or_resume(
    args: argparse.Namespace, out: TextIO, err: TextIO, hint: Callable[[str], str]
) -> dict[str, Any] | None:
    """`run` / `resume`: checks first (task, plan file, --out, kinds, model), then the graph; the
    final state, or None when a plan review is left open."""
    from matrioska import kinds
    from matrioska.runs.files import ContextManager

    plan = _read_plan(args)
    scenarios = None
    if args.command == "run" and args.acceptance:
        from matrioska.plan.acceptance import load_scenarios

        scenarios = load_scenarios(args.acceptance)  # a bad file: one line, before any model loads
    elif args.command == "run" and args.acceptance_extra:
        raise AcceptanceError("--acceptance-extra needs --acceptance FILE")
    if args.command == "resume":
        _require_stored_run(args)  # an unknown thread fails here, before a folder or a model is made
    ContextManager(args.out)  # an unwritable --out fails here, before a model is loaded
    for problem in kinds.load_problems():  # a broken kind plugin: one line, the run goes on
        print(f"! {problem}", file=err)
    _, note = machine_default_model(args)
    if note:
        print(note, file=err, flush=True)  # before anything loads (a first run fetches the model)
    llm, roles = load_model(args)
    from matrioska.model.retry import default_retry_policy
    from matrioska.runs.orchestrator import MatrioskaOrchestrator

    printer: Callable[[dict[str, Any]], None] = ProgressPrinter(out, hint)
    with MatrioskaOrchestrator(
        llm,
        args.out,
        roles=roles,
        checkpointer=args.checkpointer,
        context_tokens=args.context_tokens,
        max_parallel=args.parallel,
        max_plan_attempts=args.plan_attempts,
        retry_policy=default_retry_policy(max_attempts=max(1, args.retries)),
        max_repairs=args.repairs,
        samples=args.samples,
        sample_temperature=args.temperature if args.temperature else None,
        git=args.git,
        interrupt_after_architect=args.review,
        verify=not args.no_verify,
        sandbox=args.sandbox,
        verify_timeout=args.verify_timeout,
        fix_rounds=args.fix_rounds,
        allow_install=",".join(args.allow_install),
        acceptance=scenarios,
        acceptance_extra=bool(getattr(args, "acceptance_extra", False)),
        write_acceptance=not getattr(args, "no_acceptance", False),
    ) as orchestrator:
        thread = args.thread or uuid.uuid4().hex[:12]  # resume requires --thread
        answers = None
        if args.serve:
            from matrioska.monitor import Driver

            driver = Driver(orchestrator)
            answers = driver.attach(thread)
            feed, show = driver.on_event(thread), printer

            def both(event: dict[str, Any]) -> None:
                feed(event)
                show(event)

            start_monitor(args, out, driver)
            printer = both
        if args.command == "run":
            state = orchestrator.run(args.task, thread, architecture=plan, on_event=printer)
        else:
            state = orchestrator.resume(thread, on_event=printer)
        while "pending_review" in state:
            answer: dict[str, Any] | None
            if answers is not None:
                print("  waiting for the plan review in the monitor (or Ctrl-C)", file=out, flush=True)
                answer = answers.get()
            else:
                answer = ask_review(state["pending_review"], out)
            if answer is None:
                print(f"plan review left open; {hint(state['thread_id'])}", file=out)
                return None
            state = orchestrator.review(state["thread_id"], on_event=printer, **answer)
    return state


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
