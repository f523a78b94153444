"""What the field's analyzers cost per project (issue 34): ruff, ty and oxlint measured apart on
three small generated-style projects (a Python CLI with tests, a two-module Python package, a
page with two scripts), median of N runs each, and the whole `analyze(..., project=True)` the
verify step runs. Goal: at most 100 ms per project on this CPU.

Each figure is the wall time of one call as Matrioska makes it: the files written to a temporary
copy, the wheel's binary run, its JSON read back (nothing of the project runs).

    python bench/analyzers.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from matrioska.kinds.analyzers import Analysis, analyze, oxlint, ruff, tool_path, ty
from matrioska.kinds.web.fixes import declared_globals

CLI_PROJECT = {
    "wordcount/__init__.py": '"""Word counts."""\n',
    "wordcount/core.py": (
        "from collections import Counter\n\n\n"
        "def count_words(text: str) -> dict[str, int]:\n"
        '    """How often each word occurs, lower-cased."""\n'
        "    return dict(Counter(text.lower().split()))\n\n\n"
        "def top(counts: dict[str, int], n: int = 3) -> list[tuple[str, int]]:\n"
        "    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]\n"
    ),
    "main.py": (
        "import argparse\nimport sys\n\nfrom wordcount.core import count_words, top\n\n\n"
        "def main(argv=None):\n"
        "    parser = argparse.ArgumentParser(prog='wordcount')\n"
        "    parser.add_argument('--top', type=int, default=3)\n"
        "    args = parser.parse_args(argv)\n"
        "    total = count_words(sys.stdin.read())\n"
        "    for word, count in top(totl, args.top):\n"  # a slip: `totl` for `total`
        "        print(word, count)\n"
        "    return 0\n\n\n"
        "if __name__ == '__main__':\n    raise SystemExit(main())\n"
    ),
    "tests/test_core.py": (
        "from wordcount.core import count_words\n\n\n"
        "def test_counts():\n    assert count_words('a b a') == {'a': 2, 'b': 1}\n\n\n"
        "def test_top():\n    assert top({'a': 2, 'b': 1}, 1) == [('a', 2)]\n"  # `top` never imported
    ),
}

PACKAGE_PROJECT = {
    "shop/__init__.py": "",
    "shop/cart.py": (
        "from dataclasses import dataclass, field\n\nfrom shop.pricing import total_price\n\n\n"
        "@dataclass\nclass Cart:\n    items: list[tuple[str, float, int]] = field(default_factory=list)\n\n"
        "    def add(self, name: str, price: float, quantity: int = 1) -> None:\n"
        "        self.items.append((name, price, quantity))\n\n"
        "    def total(self) -> float:\n        return total_price(self.items, 0.2)\n\n"
        "    def receipt_id(self) -> str:\n"
        "        return hashlib.sha1(repr(self.items).encode()).hexdigest()[:8]\n"  # `hashlib` not imported
    ),
    "shop/pricing.py": (
        "import os\n\n\n"  # unused: a warning
        "def total_price(items, tax):\n"
        "    net = sum(price * quantity for _, price, quantity in items)\n"
        "    return round(net * (1 + tax), 2)\n"
    ),
}

PAGE_PROJECT = {
    "index.html": (
        "<!DOCTYPE html>\n<html>\n<head><title>Todo</title></head>\n<body>\n"
        '<input id="task"><button id="add">Add</button><ul id="list"></ul>\n'
        '<script src="js/store.js"></script>\n<script src="js/app.js"></script>\n</body>\n</html>\n'
    ),
    "js/store.js": (
        "const KEY = 'tasks';\n"
        "function loadTasks() {\n  return JSON.parse(localStorage.getItem(KEY) || '[]');\n}\n"
        "function saveTasks(tasks) {\n  localStorage.setItem(KEY, JSON.stringify(tasks));\n}\n"
    ),
    "js/app.js": (
        "const list = document.getElementById('list');\n"
        "function render(tasks) {\n  list.innerHTML = '';\n"
        "  tasks.forEach((t) => { const li = document.createElement('li'); li.textContent = t; list.append(li); });\n}\n"
        "$('#add').on('click', () => {\n"  # jQuery's `$`, never loaded
        "  const tasks = loadTasks();\n  tasks.push(document.getElementById('task').value);\n"
        "  saveTasks(tasks);\n  render(tasks);\n});\n"
        "render(loadTasks());\n"
    ),
}

PROJECTS = {"python CLI + tests": CLI_PROJECT, "python package": PACKAGE_PROJECT, "page + 2 scripts": PAGE_PROJECT}


def median_ms(call: Callable[[], Analysis], runs: int) -> tuple[float, Analysis]:
    """The median wall time of `call` in milliseconds (one warm-up call first), and its result."""
    result = call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for name in ("ruff", "ty", "oxlint"):
        print(f"{name}: {tool_path(name) or 'MISSING'}")
    print(f"\nmedian of {args.runs} runs, ms (- : the tool reads none of the project's files)\n")
    print(f"{'project':<22}{'files':>6}{'ruff':>8}{'ty':>8}{'oxlint':>8}{'analyze':>9}  findings (errors)")
    for label, files in PROJECTS.items():
        globals_ = declared_globals(dict(files))
        tools = {
            "ruff": lambda files=files: ruff(files),
            "ty": lambda files=files: ty(files),
            "oxlint": lambda files=files, g=globals_: oxlint(files, g),
        }
        cells = []
        for tool, call in tools.items():
            ms, result = median_ms(call, args.runs)
            cells.append(f"{ms:8.1f}" if tool in result.seconds else f"{'-':>8}")
        whole, found = median_ms(lambda files=files, g=globals_: analyze(files, project=True, globals_=g), args.runs)
        said = f"{len(found.findings)} ({len(found.errors)})"
        print(f"{label:<22}{len(files):>6}{''.join(cells)}{whole:9.1f}  {said}")
        for finding in found.errors:
            print(f"{'':<24}{finding.tool}: {finding.render()}")
    print("\ngoal: analyze at most 100 ms per project")


if __name__ == "__main__":
    main()
