"""The `matrioska` command's work: `run` / `resume` (checks first, then the model, then the
graph, with the plan review on the terminal or in the monitor), `serve`, `kinds` and `models`,
and the choice and loading of the models a run takes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..context import DEFAULT_MODEL_ID, MODEL_ENV_VAR, ROLES
from ..errors import AcceptanceError, EmptyTaskError, MatrioskaError, PlanError, UnknownThreadError
from .progress import ProgressPrinter, plan_table


def kinds_command(out: TextIO, err: TextIO) -> int:
    """`matrioska kinds`: name, description and the package each kind came from."""
    from .. import kinds

    installed = kinds.installed()
    width = max(len(item.name) for item in installed)
    for item in installed:
        print(f"{item.name:<{width}}  {item.description}  [{item.source}]", file=out)
    for problem in kinds.load_problems():
        print(f"! {problem}", file=err)
    return 0


def models_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`matrioska models`: the built-in models (name, aliases, size, cached or not, where);
    `matrioska models pull NAME`: fetch and convert one now (its folder is the last line)."""
    from ..model import builtin as bm

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


def serve_command(args: argparse.Namespace, out: TextIO) -> int:
    """`matrioska serve`: the monitor in the foreground until Ctrl-C."""
    from ..monitor import Driver

    orchestrator = None
    if args.model:
        from ..model.factory import load_chat_model
        from ..runs.orchestrator import MatrioskaOrchestrator

        orchestrator = MatrioskaOrchestrator(load_chat_model(args.model), args.out, checkpointer=args.checkpointer)
    server = start_monitor(args, out, Driver(orchestrator))
    try:
        while not server.should_exit:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
    return 0


def start_monitor(args: argparse.Namespace, out: TextIO, driver: Any) -> Any:
    """Start the monitor in a background thread; print its address (and token off loopback)."""
    import secrets

    from ..monitor import create_app, serve_in_thread
    from ..monitor.server import is_loopback

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
    from ..model.builtin import DEFAULT_CPU_MODEL

    return DEFAULT_CPU_MODEL, f"no GPU: using {DEFAULT_CPU_MODEL}, in process; --model to choose"


SERVER_PARALLEL = 4
"""Modules of a wave at once when every role's model is a server: vLLM, SGLang, llama.cpp and
Ollama batch the requests that arrive together, so the server works on several modules for
about the time of one (issue 42). A model in this process runs one module at a time."""


def default_parallel(args: argparse.Namespace) -> int:
    """`--parallel` left out: SERVER_PARALLEL when the main model and every role's are
    provider:model strings, else 1."""
    from ..model.factory import is_provider_spec

    main_spec, _ = machine_default_model(args)
    specs = [main_spec, *(getattr(args, f"{role}_model", None) or main_spec for role in ROLES)]
    return SERVER_PARALLEL if all(is_provider_spec(spec) for spec in specs) else 1


def load_model(args: argparse.Namespace) -> Any:
    """The chat models the command line asks for: the main one, and a dict of per-role ones.

    A seam tests replace with scripted models. Every model loads (or fails, in one line) here,
    before the run starts.
    """
    from ..model.factory import load_chat_model

    sampling: dict[str, Any] = {}
    if args.temperature is not None:
        sampling["temperature"] = args.temperature
    if args.temperature == 0:
        sampling["do_sample"] = False  # LocalLLM: greedy

    def load(spec: str) -> Any:
        from ..model.factory import is_provider_spec

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
    contract = pending.get("contract") or {}
    if any(contract.values()):
        from ..functions.contract import ModuleContract, render_contract

        print('  contract (the public names; edit them under "contract"):', file=out)
        for module, data in contract.items():
            text = render_contract(ModuleContract.from_dict(data), examples=False)
            if text:
                print(f"     {module}:", file=out)
                print("\n".join(f"       {line}" for line in text.splitlines()), file=out)
    scenarios = pending.get("acceptance") or []
    if scenarios:
        from ..plan.acceptance import describe

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
                # the plan, its contract and its acceptance scenarios, edited in one document
                document = {**plan, "contract": {"modules": contract}, "acceptance": scenarios}
                json.dump(document, handle, indent=2, ensure_ascii=False)
            try:
                subprocess.run([*editor.split(), handle.name], check=False)
                text = Path(handle.name).read_text(encoding="utf-8")
            finally:
                Path(handle.name).unlink(missing_ok=True)
            return {"action": "edit", "plan": text}


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
    from ..runs.checkpoint import has_thread
    from ..runs.files import CHECKPOINTS_DIR, DATABASE

    base = Path(args.out).expanduser().resolve()
    if not has_thread(args.checkpointer or base / CHECKPOINTS_DIR / DATABASE, args.thread):
        raise UnknownThreadError(args.thread, base)


def run_or_resume(
    args: argparse.Namespace, out: TextIO, err: TextIO, hint: Callable[[str], str]
) -> dict[str, Any] | None:
    """`run` / `resume`: checks first (task, plan file, --out, kinds, model), then the graph; the
    final state, or None when a plan review is left open."""
    from .. import kinds
    from ..runs.files import ContextManager

    plan = _read_plan(args)
    scenarios = None
    if args.command == "run" and args.acceptance:
        from ..plan.acceptance import load_scenarios

        scenarios = load_scenarios(args.acceptance)  # a bad file: one line, before any model loads
    elif args.command == "run" and args.acceptance_extra:
        raise AcceptanceError("--acceptance-extra needs --acceptance FILE")
    contract = None
    if args.command == "run" and getattr(args, "contract", None):
        from ..functions.given import check_against_plan, load_contract

        contract = load_contract(args.contract)  # a bad file: one line naming the field, before any model loads
        if plan is not None and isinstance(plan.get("modules"), list):
            ids = [str(m.get("id")) for m in plan["modules"] if isinstance(m, dict) and m.get("id")]
            check_against_plan(contract, ids, args.contract)
    if args.command == "resume":
        _require_stored_run(args)  # an unknown thread fails here, before a folder or a model is made
    ContextManager(args.out)  # an unwritable --out fails here, before a model is loaded
    for problem in kinds.load_problems():  # a broken kind plugin: one line, the run goes on
        print(f"! {problem}", file=err)
    _, note = machine_default_model(args)
    if note:
        print(note, file=err, flush=True)  # before anything loads (a first run fetches the model)
    llm, roles = load_model(args)
    parallel = args.parallel if args.parallel is not None else default_parallel(args)
    from ..model.retry import default_retry_policy
    from ..runs.orchestrator import MatrioskaOrchestrator

    printer: Callable[[dict[str, Any]], None] = ProgressPrinter(out, hint)
    with MatrioskaOrchestrator(
        llm,
        args.out,
        roles=roles,
        checkpointer=args.checkpointer,
        context_tokens=args.context_tokens,
        max_parallel=parallel,
        max_plan_attempts=args.plan_attempts,
        retry_policy=default_retry_policy(max_attempts=max(1, args.retries)),
        max_repairs=args.repairs,
        samples=args.samples,
        functions=False if getattr(args, "no_functions", False) else None,
        function_samples=args.samples if args.samples > 1 else None,
        function_retries=args.function_retries,
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
        contract=contract,
        write_contract=not getattr(args, "no_contract", False),
    ) as orchestrator:
        thread = args.thread or uuid.uuid4().hex[:12]  # resume requires --thread
        answers = None
        if args.serve:
            from ..monitor import Driver

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
