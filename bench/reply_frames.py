"""Module replies parsed against generated under their frame's grammar, side by side in one run.

Four plans of the kinds of task the quality benchmark runs (a web page with a library, a Python
to-do command line, an ISBN library with tests, a data report written in Portuguese), each
module's first reply asked twice with the executor's own prompt: as any chat model's (parsed) and
under the grammar of its frame (its declared files, then the update with its keys). Counted per
path: the structural problems (no file, declared file missing, undeclared file, update missing or
empty, echo: `matrioska/generation/reply_stats.py`), modules holding every declared file, stray files,
generated tokens and wall time. A reply a server cut at the budget is closed without the model as
the executor does (`grammar.close_frame`); its update, which the executor re-asks, counts missing
here. Only form is compared: the modules see no shared state and no
interfaces (the plan's first replies), and their code is not run.

    python bench/reply_frames.py --model ~/.cache/matrioska/qwen2.5-coder-0.5b --no-4bit
    python bench/reply_frames.py --model openai:qwen-0.5b --base-url http://127.0.0.1:8019/v1 --jobs 4
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matrioska.generation.project import extract_files, module_problems  # noqa: E402
from matrioska.generation.prompt import build_module_messages  # noqa: E402
from matrioska.generation.prompt import prompt_text as _prompt_text  # noqa: E402
from matrioska.generation.reply_stats import render_structural, structural_counts, sum_counts  # noqa: E402
from matrioska.model.calls import GenerationMeter, call_model  # noqa: E402
from matrioska.model.factory import load_chat_model  # noqa: E402
from matrioska.model.grammar import close_frame, grammar_model, reply_frame  # noqa: E402
from matrioska.plan.parsing import parse_module_reply  # noqa: E402
from matrioska.state import Architecture  # noqa: E402


def _module(mid: str, files: list[str], description: str, writes: list[str], deps: list[str] | None = None) -> dict:
    return {
        "id": mid,
        "name": mid.replace("_", " ").title(),
        "description": description,
        "files": files,
        "dependencies": deps or [],
        "shared_state_writes": writes,
        "shared_state_reads": [],
    }


PLANS: dict[str, dict[str, Any]] = {
    "web-library": {
        "project_name": "Library",
        "goal": "Library management system with a dashboard: add, list and search books in the browser",
        "modules": [
            _module(
                "page",
                ["index.html"],
                "The dashboard page: a form to add a book, a search box, a list",
                ["element_ids"],
            ),
            _module("style", ["styles.css"], "Styling of the dashboard", ["css_classes"], ["page"]),
            _module(
                "app",
                ["app.js"],
                "JavaScript: add a book from the form, list the books, search by title, localStorage",
                ["function_names"],
                ["page"],
            ),
        ],
    },
    "py-todo-cli": {
        "project_name": "Todo CLI",
        "goal": "A command-line to-do list in Python: add an item, list the items, stored in a JSON file",
        "modules": [
            _module("storage", ["todo_store.py"], "Load and save the items in todo.json", ["api_functions"]),
            _module("cli", ["todo.py"], "argparse CLI: `add TEXT` and `list`", ["commands"], ["storage"]),
            _module("tests", ["tests/test_todo.py"], "pytest tests of the store and the CLI", [], ["storage", "cli"]),
        ],
    },
    "py-isbn": {
        "project_name": "ISBN",
        "goal": "A Python library that validates ISBN-10 and ISBN-13 numbers, with tests",
        "modules": [
            _module("core", ["isbn.py"], "is_valid_isbn10(s), is_valid_isbn13(s)", ["api_functions"]),
            _module("tests", ["tests/test_isbn.py"], "pytest tests with known valid and invalid numbers", [], ["core"]),
        ],
    },
    "data-report-pt": {
        "project_name": "Relatorio",
        "goal": "Um programa Python que lê vendas.csv (produto,quantidade,preco) e imprime o total por produto",
        "modules": [
            _module("reader", ["reader.py"], "Lê o CSV e devolve as linhas", ["api_functions"]),
            _module(
                "report",
                ["report.py", "main.py"],
                "Soma por produto e imprime; main.py corre tudo",
                ["commands"],
                ["reader"],
            ),
            _module("tests", ["tests/test_report.py"], "Testes pytest dos totais", [], ["reader", "report"]),
        ],
    },
}


def one_reply(llm: Any, architecture: Architecture, spec: Any, grammar: bool) -> dict[str, Any]:
    messages, _ = build_module_messages(architecture, spec, {})
    bound, path = grammar_model(llm, reply_frame(spec)) if grammar else (None, "parsed")
    meter = GenerationMeter()
    started = time.perf_counter()
    text = call_model(bound if bound is not None else llm, messages, meter)
    seconds = time.perf_counter() - started
    closed = None
    if bound is not None:  # as the executor does: a reply a server cut at its budget is closed
        text, closed = close_frame(reply_frame(spec), text)  # type: ignore[arg-type]
    reply = parse_module_reply(text, spec.shared_state_writes)
    files = extract_files(reply.artifact, spec.id, spec.files)
    problems, checks = module_problems(spec, files, reply.update, {}, prompt=_prompt_text(messages))
    extra = sorted({f.path for f in files} - set(spec.files))
    report = {"problems": problems, "files": checks, "extra_files": extra, "repairs": []}
    return {"report": report, "path": path, "seconds": seconds, "tokens": meter.tokens, "text": text, "closed": closed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--no-4bit", action="store_true")
    parser.add_argument("--max-new-tokens", type=int, default=600)
    parser.add_argument("--jobs", type=int, default=1, help="module replies asked at once")
    parser.add_argument("--tasks", default=",".join(PLANS))
    parser.add_argument("--json", help="write the figures and the replies here")
    args = parser.parse_args()
    kwargs: dict[str, Any] = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}
    if not args.base_url:
        kwargs.update(load_in_4bit=not args.no_4bit, do_sample=False)
    llm = load_chat_model(args.model, base_url=args.base_url, **kwargs)
    rows: dict[str, dict[str, Any]] = {}
    for mode in ("parsed", "grammar"):
        for task in args.tasks.split(","):
            architecture = Architecture.model_validate(PLANS[task])
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
                futures = [
                    pool.submit(one_reply, llm, architecture, m, mode == "grammar") for m in architecture.modules
                ]
                results = [f.result() for f in futures]
            declared = {m.id: m.files for m in architecture.modules}
            counts = structural_counts(
                {m.id: r["report"] for m, r in zip(architecture.modules, results, strict=True)}, declared
            )
            rows.setdefault(task, {})[mode] = {
                "counts": counts,
                "path": sorted({r["path"] for r in results}),
                "seconds": round(time.perf_counter() - started, 1),
                "tokens": sum(r["tokens"] for r in results),
                "closed": [r["closed"] for r in results if r["closed"]],
                "replies": {m.id: r["text"] for m, r in zip(architecture.modules, results, strict=True)},
            }
            row = rows[task][mode]
            cut = f" ({len(row['closed'])} cut at the budget, closed)" if row["closed"] else ""
            print(
                f"{task:15} {mode:8} {row['seconds']:7.1f} s {row['tokens']:6} tokens  {render_structural(counts)}{cut}"
            )
            sys.stdout.flush()
    for mode in ("parsed", "grammar"):
        total = sum_counts(rows[t][mode]["counts"] for t in rows)
        seconds = sum(rows[t][mode]["seconds"] for t in rows)
        print(f"all tasks       {mode:8} {seconds:7.1f} s  {render_structural(total)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
