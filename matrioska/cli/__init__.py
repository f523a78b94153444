"""The `matrioska` command: `run` a task, `resume` a stopped run.

It prints the phases and per-module progress like the seed's console output. Every error
Matrioska raises on purpose is one line on stderr and a non-zero exit, never a traceback; a
stopped run prints the command that continues it.

This file is the entry point and its dispatch; the arguments live in `parser.py`, the commands'
work in `commands.py`, what is printed while a run goes and the verdict in `progress.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from ..errors import MatrioskaError, RunFailedError
from .commands import kinds_command, models_command, run_or_resume, serve_command
from .parser import build_parser
from .progress import exit_status, print_final


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of the `matrioska` command; returns the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)

    def hint(thread_id: str) -> str:
        return f"resume with: matrioska resume --out {args.out} --thread {thread_id}"

    try:
        if args.command == "serve":
            return serve_command(args, out)
        if args.command == "kinds":
            return kinds_command(out, err)
        if args.command == "models":
            return models_command(args, out, err)
        state = run_or_resume(args, out, err, hint)
        if state is None:
            return 0  # the plan review was left open
        print_final(out, state)
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
