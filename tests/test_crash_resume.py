"""Crash-safe resume, proven with a real SIGKILL while module k runs (k = first, middle, last)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash_worker import IDS, PLAN, responder

from matrioska import MatrioskaOrchestrator

WORKER = Path(__file__).with_name("crash_worker.py")


def _uninterrupted(tmp_path: Path) -> dict:
    with MatrioskaOrchestrator(responder(None, slow=""), tmp_path / "reference") as orchestrator:
        return orchestrator.run("chain task", architecture=PLAN)


@pytest.mark.slow
@pytest.mark.parametrize("slow", ["m1", "m3", "m5"], ids=["first", "middle", "last"])
def test_sigkill_during_module_k_then_resume_in_a_new_process(tmp_path: Path, slow: str) -> None:
    base, log = tmp_path / "out", tmp_path / "calls.log"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(base), "crash", slow, str(log)])
    marker = Path(str(log) + ".slow")
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "the worker exited before reaching the slow module"
        assert time.monotonic() < deadline, "the worker never reached the slow module"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    first_calls = log.read_text().split()
    assert first_calls == IDS[: IDS.index(slow) + 1]

    log.write_text("")
    resumed = subprocess.run(
        [sys.executable, str(WORKER), str(base), "crash", "none", str(log)], capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    # the model is called for module k and later only (then the assembler)
    assert log.read_text().split() == IDS[IDS.index(slow) :] + ["assembler"]

    with MatrioskaOrchestrator(responder(None, slow=""), base) as orchestrator:
        state = orchestrator.get_state("crash")
    reference = _uninterrupted(tmp_path)
    assert state["artifacts"] == reference["artifacts"]
    assert state["shared_state"] == reference["shared_state"]
    assert state["completed"] == IDS
