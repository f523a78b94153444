"""What running the project costs: a whole run with and without verification, side by side.

Scripted models (instant) answer two small projects whose first answer has a runtime bug that a
fix round repairs: a Python todo list (imports, pytest, entry point) and a web counter page
(headless Chromium). Printed per project: the run's wall time with `verify=False`, with
verification, the time spent in the checks themselves (from the `check_finished` events), the
number of checks and fix rounds, and the verdict. Needs bubblewrap (and Chromium for the page).

    python bench/verification.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_verify import PY_PLAN, WEB_PLAN, python_model, web_model  # noqa: E402

from matrioska import MatrioskaOrchestrator  # noqa: E402

PROJECTS = {"python todo (3 modules)": (PY_PLAN, python_model), "web counter (2 modules)": (WEB_PLAN, web_model)}


def one_run(plan: dict, make_model, verify: bool) -> tuple[float, float, dict]:
    checks: list[float] = []

    def on_event(event: dict) -> None:
        if event.get("event") == "check_finished":
            checks.append(float(event.get("seconds") or 0.0))

    with tempfile.TemporaryDirectory() as folder:
        with MatrioskaOrchestrator(make_model(), folder, verify=verify, verify_timeout=60) as orchestrator:
            started = time.perf_counter()
            state = orchestrator.run("bench", architecture=plan, on_event=on_event)
            wall = time.perf_counter() - started
    return wall, sum(checks), state.get("verification") or {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'project':26} {'no verify':>10} {'verify':>9} {'in checks':>10} {'checks':>7} {'rounds':>7}  verdict")
    for name, (plan, make_model) in PROJECTS.items():
        plain = [one_run(plan, make_model, False)[0] for _ in range(args.repeat)]
        runs = [one_run(plan, make_model, True) for _ in range(args.repeat)]
        verification = runs[-1][2]
        print(
            f"{name:26} {statistics.median(plain):9.2f}s {statistics.median(r[0] for r in runs):8.2f}s "
            f"{statistics.median(r[1] for r in runs):9.2f}s {len(verification.get('checks') or []):7d} "
            f"{verification.get('rounds', 0):7d}  works={verification.get('works')}"
        )


if __name__ == "__main__":
    main()
