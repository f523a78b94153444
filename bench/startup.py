"""Start-up cost: `import matrioska`, the graph module langgraph.json names, `matrioska --help`,
each against `python -c pass` (median of several runs, in fresh processes).

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GRAPH_BY_PATH = (
    "import importlib.util, sys; spec = importlib.util.spec_from_file_location('g', 'matrioska/graph.py'); "
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
    "assert not {'torch', 'transformers'} & set(sys.modules), 'heavy import at start-up'"
)


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = shutil.which("matrioska")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import matrioska": [sys.executable, "-c", "import matrioska"],
        "graph module (by path)": [sys.executable, "-c", GRAPH_BY_PATH],
        "matrioska --help": [cli, "--help"] if cli else [sys.executable, "-m", "matrioska", "--help"],
    }
    base = None
    print(f"{'what':<26}{'median s':>10}{'added s':>10}")
    for name, command in cases.items():
        seconds = median_seconds(command, args.runs)
        base = seconds if base is None else base
        print(f"{name:<26}{seconds:>10.3f}{seconds - base:>10.3f}")


if __name__ == "__main__":
    main()
