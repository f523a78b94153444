"""Orchestration overhead and checkpoint size, with an instant scripted model (no model time).

- milliseconds of Matrioska + LangGraph + SQLite per module for plans of 20 and 200 modules, on
  both paths (issue 42): code modules asked for whole (`functions=False`) and written function by
  function (`functions=True`: the scripted model answers no function plan, so each code module
  asks for one, falls back and is asked whole: the path's own cost)
  (a chain: each module reads the key of the one before), and the growth from 10 to 500; the
  artifacts are plain text, so this is orchestration alone; two more columns per size use Python
  and JavaScript files of the same size, which each module and the assembler also check
  (validation: `compile`, Node's compiler), and one more run checks the JavaScript files with one
  `node --check` process per file (the path before the persistent checker), for comparison; the
  verification of the assembled project (running it, a browser for pages) is off throughout;
- the checkpoint database's size against the total artifact bytes at 200 modules.

    python bench/orchestration.py [--sizes 20 200] [--db-modules 200] [--artifact-bytes 3000]
                                  [--per-file-check-modules 200] [--against CHECKOUT [--rounds 3]]

`--against CHECKOUT` (another checkout of Matrioska, a git worktree of an older commit, say) runs
the text columns at the largest size on both checkouts, one process at a time, alternating for
`--rounds` rounds, and prints the best of each and their ratio: on a shared machine the
milliseconds move with the load, the ratio measured side by side much less.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply  # noqa: E402

from matrioska import MatrioskaOrchestrator  # noqa: E402


def chain_plan(n: int) -> dict:
    ids = [f"m{i:03d}" for i in range(n)]
    return {
        "project_name": "Chain",
        "goal": "overhead benchmark",
        "modules": [
            {
                "id": mid,
                "dependencies": [ids[i - 1]] if i else [],
                "shared_state_reads": [f"k{i - 1}"] if i else [],
                "shared_state_writes": [f"k{i}"],
            }
            for i, mid in enumerate(ids)
        ],
    }


LANGUAGES = {
    "text": ("txt", "x = 1\n", ""),
    "python": ("py", "x = 1\n", "# "),
    "javascript": ("js", "x = 1;\n", "// "),
}


def instant_model(artifact_bytes: int, language: str = "text") -> ScriptedChatModel:
    name, line, comment = LANGUAGES[language]
    body = line * (artifact_bytes // len(line))

    def respond(messages):
        if is_assembler(messages):
            return "notes"
        module_id = module_id_of(messages)
        update = module_reply(module_id, {f"k{int(module_id[1:])}": module_id}).split("\n", 3)[-1]
        # each module's file differs (its first line), as in a real run: nothing is checked twice for free
        return f"{module_id}.{name}\n```{language}\n{comment}{module_id}\n{body}```\n" + update

    return ScriptedChatModel(respond=respond)


def run(
    n: int, artifact_bytes: int, workdir: Path, language: str = "text", functions: bool = False
) -> tuple[float, int, int]:
    """Seconds for a whole run, checkpoint database bytes, artifact bytes."""
    base = workdir / f"run{n}-{language}-{'functions' if functions else 'whole'}"
    model = instant_model(artifact_bytes, language)
    with MatrioskaOrchestrator(
        model, base, assembler_notes=False, verify=False, functions=functions, write_contract=False
    ) as orchestrator:
        start = time.perf_counter()
        state = orchestrator.run("chain", thread_id=f"t{n}", architecture=chain_plan(n))
        seconds = time.perf_counter() - start
    database = sum(p.stat().st_size for p in (base / "matrioska_checkpoints").glob("checkpoints.sqlite*"))
    artifacts = sum(len(text.encode()) for text in orchestrator_artifacts(state))
    return seconds, database, artifacts


def orchestrator_artifacts(state: dict) -> list[str]:
    return list(state["artifacts"].values())


def per_file_node_check(n: int, artifact_bytes: int, workdir: Path) -> float:
    """Seconds for a JavaScript run whose files are each checked by their own `node --check`."""
    from matrioska.kinds.web import javascript

    checker, kept = javascript._NodeChecker.check, javascript._syntax_problems
    javascript._NodeChecker.check = lambda self, suffix, text: None  # type: ignore[method-assign]
    javascript._syntax_problems = kept.__wrapped__  # type: ignore[assignment]  # no verdicts kept either
    try:  # no answer from the persistent checker: validate() falls back to node --check per file
        return run(n, artifact_bytes, workdir / "per-file", "javascript")[0]
    finally:
        javascript._NodeChecker.check = checker  # type: ignore[method-assign]
        javascript._syntax_problems = kept


_SIDE = """
import inspect, sys, tempfile
from pathlib import Path
root, n, size, functions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
sys.path[:0] = [root, root + "/bench", root + "/tests"]
import orchestration
run = orchestration.run
with tempfile.TemporaryDirectory() as tmp:
    run(5, size, Path(tmp))
    # a checkout from before the function path runs its one path for both
    extra = (True,) if functions and "functions" in inspect.signature(run).parameters else ()
    print(1000 * min(run(n, size, Path(tmp) / str(i), "text", *extra)[0] for i in range(2)) / n)
"""


def side_by_side(other: Path, n: int, artifact_bytes: int, rounds: int) -> None:
    """Both checkouts' ms/module on the text columns at `n` modules, alternating (best of each)."""
    print(f"\nside by side at {n} modules, text, best of {rounds} rounds (ms a module):")
    print(f"{'path':>11}{'this':>9}{'other':>9}{'ratio':>8}")
    for functions in (False, True):
        best: dict[Path, float] = {}
        for _ in range(rounds):
            for root in (ROOT, other):
                command = [sys.executable, "-c", _SIDE, str(root), str(n), str(artifact_bytes), str(int(functions))]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                lines = done.stdout.split()
                if done.returncode != 0 or not lines:
                    sys.exit(f"the run in {root} failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
                best[root] = min(best.get(root, float("inf")), float(lines[-1]))
        path = "functions" if functions else "whole"
        print(f"{path:>11}{best[ROOT]:>9.2f}{best[other]:>9.2f}{best[ROOT] / best[other]:>7.2f}x")
    print("(the other checkout's whole path stands in for its functions path where it has none)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--db-modules", type=int, default=200)
    parser.add_argument("--artifact-bytes", type=int, default=3000)
    parser.add_argument("--per-file-check-modules", type=int, default=200)
    parser.add_argument("--against", type=Path, help="another checkout of Matrioska to compare with, side by side")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.against is not None:
        if not (args.against / "bench" / "orchestration.py").is_file():
            sys.exit(f"--against: {args.against} is no checkout of Matrioska (no bench/orchestration.py)")
        side_by_side(args.against.resolve(), max(args.sizes), args.artifact_bytes, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run(5, args.artifact_bytes, workdir)  # warm up imports and caches
        run(5, args.artifact_bytes, workdir, "javascript")  # and start the Node checker
        print(f"overhead per module (instant model, SQLite, {args.artifact_bytes}-byte artifacts), ms a module")
        print(f"{'modules':>8}{'path':>11}{'text':>9}{'python':>9}{'javascript':>12}")
        per_module = {}
        for n in args.sizes:
            for functions in (False, True):
                cells = []
                for language in ("text", "python", "javascript"):
                    seconds, _, _ = run(n, args.artifact_bytes, workdir, language, functions)
                    cells.append(1000 * seconds / n)
                per_module[(n, functions)] = cells[0]
                path = "functions" if functions else "whole"
                print(f"{n:>8}{path:>11}{cells[0]:>9.2f}{cells[1]:>9.2f}{cells[2]:>12.2f}")
        per_module = {n: per_module[(n, False)] for n in args.sizes}
        first, last = args.sizes[0], args.sizes[-1]
        print(
            f"growth of ms/module from {first} to {last} modules: {per_module[last] / per_module[first]:.2f}x (1.0 = flat)"
        )
        if shutil.which("node") and args.per_file_check_modules:
            n = args.per_file_check_modules
            seconds = per_file_node_check(n, args.artifact_bytes, workdir)
            print(
                f"with .js validation by one node --check per file (the old path), {n} modules: {1000 * seconds / n:.2f} ms"
            )
        _, database, artifacts = run(args.db_modules, args.artifact_bytes, workdir)
        print(
            f"\ncheckpoint database at {args.db_modules} modules: {database / 1e6:.2f} MB for "
            f"{artifacts / 1e6:.2f} MB of artifacts = {database / artifacts:.2f}x"
        )


if __name__ == "__main__":
    main()
