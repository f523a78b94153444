"""Parallel waves against sequential, with a scripted model of fixed latency per call.

The latency stands in for a remote server that batches requests (each call takes the same
time however many run at once). Plans: a chain of 8, a diamond (1 -> 4 -> 1) and a fan-out of
16 (1 -> 16 -> 1). Wall time sequential against `max_parallel=8`, and the speed-up.

    python bench/parallel_waves.py [--latency 0.2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scripted import ScriptedChatModel, is_assembler, module_id_of, module_reply  # noqa: E402

from matrioska import MatrioskaOrchestrator  # noqa: E402


def plan_of(edges: dict[str, list[str]]) -> dict:
    return {
        "project_name": "Waves",
        "goal": "benchmark",
        "modules": [
            {"id": m, "dependencies": d, "shared_state_reads": [f"k_{x}" for x in d], "shared_state_writes": [f"k_{m}"]}
            for m, d in edges.items()
        ],
    }


PLANS = {
    "chain of 8": plan_of({f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(8)}),
    "diamond 1-4-1": plan_of(
        {"top": [], **{f"mid{i}": ["top"] for i in range(4)}, "bottom": [f"mid{i}" for i in range(4)]}
    ),
    "fan-out 16": plan_of(
        {"root": [], **{f"w{i:02d}": ["root"] for i in range(16)}, "sink": [f"w{i:02d}" for i in range(16)]}
    ),
}


def model(latency: float) -> ScriptedChatModel:
    def respond(messages):
        time.sleep(latency)
        if is_assembler(messages):
            return "notes"
        mid = module_id_of(messages)
        return module_reply(mid, {f"k_{mid}": mid})

    return ScriptedChatModel(respond=respond)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    print(f"latency {args.latency}s per call; sequential against max_parallel={args.parallel}")
    print(f"{'plan':<16}{'modules':>8}{'sequential s':>14}{'parallel s':>12}{'speed-up':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, plan in PLANS.items():
            times = []
            for width in (1, args.parallel):
                with MatrioskaOrchestrator(
                    model(args.latency), Path(tmp) / f"{name}-{width}", max_parallel=width, assembler_notes=False
                ) as orchestrator:
                    start = time.perf_counter()
                    orchestrator.run("waves", architecture=plan)
                    times.append(time.perf_counter() - start)
            print(f"{name:<16}{len(plan['modules']):>8}{times[0]:>14.2f}{times[1]:>12.2f}{times[0] / times[1]:>9.2f}x")


if __name__ == "__main__":
    main()
