"""How many acceptance scenarios a real model writes that survive, per task, on the same plans.

The scenario writer runs right after the plan; a scenario it writes is kept only when it names
what the plan has and is a check (see `matrioska/nodes/acceptance.py`). This bench plans each task
once with the model (plans are cached in `--plans DIR`, so a second checkout is measured on the
very same plans), then asks the checkout's scenario writer `--repeats` times per plan, and prints
per task: scenarios written, kept, and why the others were dropped.

    python bench/scenarios.py --base-url http://127.0.0.1:8019/v1 --model qwen-0.5b --plans /tmp/plans
    PYTHONPATH=/path/to/old/checkout python bench/scenarios.py ... --plans /tmp/plans   # before

Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server). Needs the `[openai]` extra.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# the tasks bench/quality.py measures (four of them), and tasks written for this bench that no
# prompt or rule was tuned to
TASKS: dict[str, str] = {
    "py-todo-cli": "A command-line todo list in Python (add, list, done) stored in a JSON file, with pytest tests",
    "py-isbn": "A Python library that validates ISBN-10 and ISBN-13 numbers, with a command-line entry point "
    "and pytest tests",
    "data-report": "A sales report in Python from a CSV file with columns product, quantity, price: total revenue "
    "per product printed as a table; the CSV path is a command-line argument; with pytest tests",
    "web-library": "Library management system with a dashboard: HTML page, CSS styling, and JavaScript for "
    "adding, listing and searching books",
    "new-wordcount": "A Python command-line tool that reads a text file and prints the three most common words "
    "with their counts, with pytest tests",
    "new-cart": "A Python library for a shopping cart: add an item with a price and a quantity, remove it, and "
    "compute the total, with pytest tests",
    "new-bmi": "A web page that computes the body mass index from a weight and a height typed into a form",
}


def _plan(task_id: str, llm: Any, plans: Path) -> dict[str, Any] | None:
    """The task's plan: from `plans` when cached, else planned by the model (and cached)."""
    cached = plans / f"{task_id}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    from matrioska import MatrioskaOrchestrator

    with MatrioskaOrchestrator(
        llm, plans / "runs" / task_id, interrupt_after_architect=True, write_acceptance=False
    ) as orchestrator:
        state = orchestrator.run(TASKS[task_id])
    plan = state.get("architecture")
    if plan:
        cached.write_text(json.dumps(plan, indent=2))
    return plan


def _reason(note: str) -> str:
    """A dropped scenario's note, reduced to its kind of reason."""
    for pattern, label in [
        (r"is not a planned file|neither a planned file|no planned file provides", "names what the plan lacks"),
        (r"not valid Python", "code is not valid Python"),
        (r"placeholder", "copied <placeholders>"),
        (r"imports none of the project", "imports none of the project's modules"),
        (r"asserts nothing|checks nothing", "checks nothing"),
        (r"repeats another", "repeats another"),
        (r"unusable", "reply unusable"),
    ]:
        if re.search(pattern, note):
            return label
    return "other: " + note[:80]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--plans", required=True, help="folder of cached plans (shared by the checkouts compared)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "not-needed")
    from langchain_openai import ChatOpenAI

    import matrioska
    from matrioska.context import Context
    from matrioska.nodes.acceptance import generate

    llm = ChatOpenAI(
        model=args.model, base_url=args.base_url, temperature=args.temperature, max_tokens=1200, timeout=600
    )
    plans = Path(args.plans)
    (plans / "runs").mkdir(parents=True, exist_ok=True)
    print(f"checkout: {Path(matrioska.__file__).parent.parent}")
    rows = []
    for task_id in args.tasks.split(","):
        plan = _plan(task_id, llm, plans)
        if not plan:
            print(f"{task_id}: no plan")
            continue
        for repeat in range(args.repeats):
            started = time.monotonic()
            runtime = SimpleNamespace(context=Context(llm=llm), stream_writer=None)
            state = {"task": TASKS[task_id], "architecture": plan}
            try:
                kept, notes = generate(state, runtime)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - the bench reports a crash as a row
                kept, notes = [], [f"crash {type(exc).__name__}: {exc}"[:200]]
            dropped = [n for n in notes if "dropped" in n or "unusable" in n]
            row = {
                "task": task_id,
                "repeat": repeat,
                "kept": len(kept),
                "dropped": len(dropped),
                "reasons": dict(collections.Counter(_reason(n) for n in dropped)),
                "kinds": dict(collections.Counter(s["kind"] for s in kept)),
                "seconds": round(time.monotonic() - started, 1),
                "scenarios": [s.get("code") or s.get("command") or s.get("steps") for s in kept],
                "notes": dropped,
            }
            rows.append(row)
            print(
                f"{task_id}: kept {row['kept']}, dropped {row['dropped']} {row['reasons']} "
                f"kinds {row['kinds']} ({row['seconds']} s)",
                flush=True,
            )
    kept_total = sum(r["kept"] for r in rows)
    written = kept_total + sum(r["dropped"] for r in rows)
    with_two = sum(1 for r in rows if r["kept"] >= 2)
    reasons: collections.Counter[str] = collections.Counter()
    for r in rows:
        reasons.update(r["reasons"])
    print(
        f"\nscenarios kept: {kept_total} of {written} written over {len(rows)} run(s); "
        f"runs with >= 2 kept: {with_two}/{len(rows)}; dropped for: {dict(reasons)}"
    )
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
