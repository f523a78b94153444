"""PostgreSQL checkpointer: the whole graph, a run watched from another process, SIGKILL and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from crash_worker import IDS, responder
from scripted import MODULE_UPDATES, ScriptedChatModel, default_responder

from matrioska import CheckpointError, MatrioskaOrchestrator

WORKER = Path(__file__).with_name("crash_worker.py")


def test_whole_graph_with_the_postgres_checkpointer(tmp_path: Path, postgres_url: str) -> None:
    thread = uuid.uuid4().hex[:8]
    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=default_responder()), tmp_path / "a", checkpointer=postgres_url
    ) as o:
        state = o.run("Create a library management system", thread_id=thread)
    assert state["completed"] == ["html", "css", "auth"]
    assert not (tmp_path / "a" / "matrioska_checkpoints" / "checkpoints.sqlite").exists()
    # Another machine (here: another folder, a model that must not be called) sees the same run.
    idle = ScriptedChatModel(respond=lambda messages: pytest.fail("a finished run called the model"))
    with MatrioskaOrchestrator(idle, tmp_path / "b", checkpointer=postgres_url) as other:
        assert other.get_state(thread)["shared_state"]["css_classes"] == MODULE_UPDATES["css"]["css_classes"]
        assert other.run("Create a library management system", thread_id=thread)["completed"] == ["html", "css", "auth"]


@pytest.mark.slow
def test_sigkill_then_resume_on_another_process_with_postgres(tmp_path: Path, postgres_url: str) -> None:
    thread, log = f"crash-{uuid.uuid4().hex[:8]}", tmp_path / "calls.log"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "one"), thread, "m3", str(log), postgres_url])
    marker, deadline = Path(str(log) + ".slow"), time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the worker never reached m3"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    log.write_text("")
    # Resumed from a different base path: the state is in PostgreSQL, not in the first folder.
    resumed = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "two"), thread, "none", str(log), postgres_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert log.read_text().split() == ["m3", "m4", "m5", "assembler"]
    with MatrioskaOrchestrator(responder(None, slow=""), tmp_path / "two", checkpointer=postgres_url) as o:
        state = o.get_state(thread)
    assert state["completed"] == IDS
    assert state["shared_state"] == {f"k{i + 1}": f"value of {mid}" for i, mid in enumerate(IDS)}


def test_unreachable_postgres_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://matrioska:secret@127.0.0.1:{port}/db"
    with pytest.raises(
        CheckpointError,
        match=f"cannot connect to the checkpoint database postgresql://matrioska:\\*\\*\\*@127.0.0.1:{port}/db",
    ) as info:
        MatrioskaOrchestrator(ScriptedChatModel(respond=default_responder()), tmp_path, checkpointer=url)
    assert "secret" not in str(info.value)
