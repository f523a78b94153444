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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .context import DEFAULT_MODEL_ID, MODEL_ENV_VAR, ROLES
from .errors import EmptyTaskError, MatrioskaError, PlanError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matrioska",
        description="Turn one big request into a multi-file project: architect -> modules in hyperfocus -> assembly.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="output folder (artifacts, checkpoints, results zip)")
        p.add_argument(
            "--model",
            help=f"hub id, local model directory, or provider:model such as ollama:mistral or openai:NAME "
            f"(default: ${MODEL_ENV_VAR} or {DEFAULT_MODEL_ID})",
        )
        for role in ROLES:
            p.add_argument(f"--{role}-model", metavar="MODEL", help=f"another model for the {role} (default: --model)")
        p.add_argument(
            "--checkpointer",
            metavar="URL",
            help="postgresql://... to keep run state in PostgreSQL (default: SQLite under --out)",
        )
        p.add_argument("--base-url", help="server address for provider:model (vLLM, llama.cpp server, LM Studio, Ollama)")
        p.add_argument("--no-4bit", action="store_true", help="load full-precision weights instead of nf4")
        p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
        p.add_argument(
            "--no-json-schema",
            action="store_true",
            help="do not constrain the local model's plan and updates to their JSON schemas (parse and repair instead)",
        )
        p.add_argument("--max-new-tokens", type=int, default=4000, help="generation budget per call (default 4000)")
        p.add_argument("--plan-attempts", type=int, default=3, help="architect attempts before giving up (default 3)")
        p.add_argument(
            "--retries", type=int, default=4, help="attempts per model call on timeouts/connection errors/OOM (default 4)"
        )

    run = sub.add_parser("run", help="run a task")
    run.add_argument("task", help="what to build, in natural language")
    model_options(run)
    run.add_argument("--thread", help="thread id (default: a new one); an existing one continues that run")
    run.add_argument("--plan", help="a ready plan (JSON file); the architect only validates it")

    resume = sub.add_parser("resume", help="continue a stopped run")
    model_options(resume)
    resume.add_argument("--thread", required=True, help="thread id printed when the run started")
    return parser


def load_model(args: argparse.Namespace) -> Any:
    """The chat models the command line asks for: the main one, and a dict of per-role ones.

    A seam tests replace with scripted models. Every model loads (or fails, in one line) here,
    before the run starts.
    """
    from .models import load_chat_model

    def load(spec: str) -> Any:
        return load_chat_model(
            spec,
            base_url=args.base_url,
            load_in_4bit=not args.no_4bit,
            device=args.device,
            max_new_tokens=args.max_new_tokens,
            constrain_json=not args.no_json_schema,
        )

    main_spec = args.model or os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_ID
    role_specs = {role: getattr(args, f"{role}_model") for role in ROLES if getattr(args, f"{role}_model", None)}
    roles = {role: load(spec) for role, spec in role_specs.items()}
    if len(roles) == len(ROLES):
        return roles["executor"], roles  # every role has its own model: the main one is not loaded
    return load(main_spec), roles


class ProgressPrinter:
    """Turns the orchestrator's progress events into the seed's console output."""

    def __init__(self, out: TextIO, resume_hint: Callable[[str], str]) -> None:
        self.out = out
        self.resume_hint = resume_hint
        self.executing = False

    def p(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

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
        elif e["phase"] == "assembly":
            self.p("PHASE 3: ASSEMBLY")
            self.p(f"  integrating {e['modules']} artifacts...")

    def on_plan_retry(self, e: dict[str, Any]) -> None:
        self.p(f"  ! plan attempt {e['attempt']}/{e['of']} unusable: {e['error']}")

    def on_plan_ready(self, e: dict[str, Any]) -> None:
        self.p(f"  ✓ Project: {e['project_name']}")
        self.p(f"  ✓ Objective: {e['goal']}")
        self.p(f"  ✓ Modules: {len(e['modules'])}")
        width = max((len(m["name"]) for m in e["modules"]), default=10)
        for i, m in enumerate(e["modules"], 1):
            self.p(f"     {i}. {m['name']:<{width}}  reads{m['reads']}  writes{m['writes']}")
        for line in e.get("report") or []:
            self.p(f"  · {line}")

    def on_module_started(self, e: dict[str, Any]) -> None:
        if not self.executing:
            self.executing = True
            self.p("PHASE 2: EXECUTION (hyperfocus + communication)")
        reads = f"reading context {e['reads']}" if e["reads"] else "no context to read"
        self.p(f"  [{e['index']}/{e['total']}] {e['name']}: {reads}")

    def on_module_finished(self, e: dict[str, Any]) -> None:
        parts = [f"✓ generated ({e['chars']} chars)", f"wrote {e['written']}"]
        if e.get("dropped_keys"):
            parts.append(f"dropped undeclared {e['dropped_keys']}")
        if e.get("missing_keys"):
            parts.append(f"missing {e['missing_keys']}")
        self.p("      " + " / ".join(parts))

    def on_assembled(self, e: dict[str, Any]) -> None:
        if e.get("broken_contracts"):
            self.p(f"  ! broken contracts: {e['broken_contracts']}")


def _print_final(out: TextIO, state: dict[str, Any]) -> None:
    architecture = state.get("architecture") or {}
    print("FINAL RESULT", file=out)
    keys = list((state.get("shared_state") or {}).keys())
    print(
        f"  {architecture.get('project_name', '?')} — artifacts: {len(state.get('artifacts') or {})} — "
        f"shared_state keys: {keys} — integrated result: {len(state.get('final_result') or '')} chars",
        file=out,
    )
    print(f"  results: {state['results_zip']}", file=out)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of the `matrioska` command; returns the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    from .files import ContextManager

    def hint(thread_id: str) -> str:
        return f"resume with: matrioska resume --out {args.out} --thread {thread_id}"

    try:
        plan = None
        if args.command == "run":
            if not args.task.strip():
                raise EmptyTaskError("the task is empty; describe what to build")
            if args.plan:
                try:
                    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise PlanError(f"cannot read the plan file {args.plan!r}: {exc}") from None
        ContextManager(args.out)  # an unwritable --out fails here, before a model is loaded
        llm, roles = load_model(args)
        from .orchestrator import MatrioskaOrchestrator

        printer = ProgressPrinter(out, hint)
        from .retry import default_retry_policy

        retry = default_retry_policy(max_attempts=max(1, args.retries))
        with MatrioskaOrchestrator(
            llm,
            args.out,
            roles=roles,
            checkpointer=args.checkpointer,
            max_plan_attempts=args.plan_attempts,
            retry_policy=retry,
        ) as orchestrator:
            if args.command == "run":
                state = orchestrator.run(args.task, args.thread, architecture=plan, on_event=printer)
            else:
                state = orchestrator.resume(args.thread, on_event=printer)
        _print_final(out, state)
        return 0
    except MatrioskaError as exc:
        print(f"error: {exc}", file=err)
        if exc.thread_id:
            print(f"  the run's state is saved; {hint(exc.thread_id)}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished modules are saved (rerun with the same --thread to continue)", file=err)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
