"""Four runs share one SQLite checkpoint database at once, as threads and as processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from concurrent_worker import run_one
from langgraph.checkpoint.sqlite import SqliteSaver

from matrioska.graph import build_graph

WORKER = Path(__file__).with_name("concurrent_worker.py")
THREADS = ["run-a", "run-b", "run-c", "run-d"]


def _check_states(database: Path) -> None:
    conn = sqlite3.connect(database, check_same_thread=False)
    try:
        graph = build_graph(SqliteSaver(conn))
        for thread in THREADS:
            state = graph.get_state({"configurable": {"thread_id": thread}}).values
            assert state["task"] == f"library for {thread}"
            assert state["completed"] == ["html", "css", "auth"]
            for module_id, artifact in state["artifacts"].items():
                assert f"[{thread}] code of {module_id}" in artifact
    finally:
        conn.close()


def test_four_runs_in_threads_share_one_database(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: run_one(str(tmp_path / t), str(database), t), THREADS))
    assert [r["thread_id"] for r in results] == THREADS
    _check_states(database)


@pytest.mark.slow
def test_four_runs_in_processes_share_one_database(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path / t), str(database), t], stderr=subprocess.PIPE, text=True
        )
        for t in THREADS
    ]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    for proc, err in zip(procs, errors, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in err
    _check_states(database)
