"""The `matrioska` command's arguments: the run/resume/serve/models/kinds commands, each option's
help, and the options shared by the commands that load a model or start the monitor."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..context import DEFAULT_MODEL_ID, MODEL_ENV_VAR, ROLES


def _version() -> str:
    """The installed distribution's version (the package's own when run from a checkout)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("matrioska")
    except importlib.metadata.PackageNotFoundError:
        from ..defaults import VERSION

        return VERSION


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of `minimum` or more."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return whole


_positive, _not_negative = _at_least(1), _at_least(0)


def model_options(p: argparse.ArgumentParser) -> None:
    """The options of the commands that load a model and run the graph (`run`, `resume`)."""
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
    p.add_argument("--base-url", help="server address for provider:model (vLLM, llama.cpp server, LM Studio, Ollama)")
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
        default=None,
        metavar="N",
        help="run independent modules in waves, N at once (default: 4 with a model server, which batches "
        "what arrives together; 1, one module at a time, with a model in this process)",
    )
    p.add_argument("--review", action="store_true", help="stop after the plan to approve, edit or re-plan it")
    p.add_argument("--git", action="store_true", help="make the project folder a git repository, one commit per module")
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
        "small model: one request with n=K on a server, K rows of one batch in process); also the candidates "
        "per function of a code module written function by function (default 4 there)",
    )
    p.add_argument(
        "--no-functions",
        action="store_true",
        help="ask for every module whole instead of writing code modules function by function",
    )
    p.add_argument(
        "--function-retries",
        type=_not_negative,
        default=1,
        metavar="N",
        help="rounds of K more candidates, at a higher temperature, for a function none of whose candidates "
        "passes its examples (default 1; 0: none)",
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


def monitor_options(p: argparse.ArgumentParser) -> None:
    """The options of the commands that start the web monitor (`serve`, `run --serve`)."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind the monitor to (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="monitor port (default 8765)")
    p.add_argument("--token", help="access token (required, and generated when not given, off loopback)")


def build_parser() -> argparse.ArgumentParser:
    """The `matrioska` command line: `run`, `resume`, `serve`, `kinds` and `models`."""
    parser = argparse.ArgumentParser(
        prog="matrioska",
        description="Turn one big request into a multi-file project: architect -> modules in hyperfocus -> assembly.",
    )
    parser.add_argument("--version", action="version", version=f"matrioska {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a task")
    run.add_argument("task", help="what to build, in natural language")
    model_options(run)
    run.add_argument("--thread", help="thread id (default: a new one); an existing one continues that run")
    run.add_argument("--plan", help="a ready plan (JSON file); the architect only validates it")
    run.add_argument(
        "--acceptance",
        metavar="FILE",
        help="your acceptance scenarios (JSON, see docs/acceptance.md): the verdict says WORKS only when they pass; "
        "they replace the scenarios the model would write",
    )
    run.add_argument(
        "--acceptance-extra",
        action="store_true",
        help="with --acceptance: the model writes its scenarios beside yours",
    )
    run.add_argument(
        "--contract",
        metavar="FILE",
        help="your contract of the project's public names (JSON, the format --review shows): functions "
        "with examples, commands, element ids; it replaces the one the model would decide",
    )
    run.add_argument(
        "--no-contract",
        action="store_true",
        help="decide no contract after the plan: each module plans its own names",
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
