"""`langgraph dev` serves the exported graph; langgraph_sdk runs it over loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripted import INDEPENDENT_PLAN

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> str:
    exe = Path(sys.executable).with_name("langgraph")
    if not exe.exists():
        pytest.fail("langgraph-cli is not installed (pip install -e '.[test]')")
    # Copy the project so the server's own files (.langgraph_api) land outside the repo.
    work = tmp_path / "project"
    shutil.copytree(ROOT / "matrioska", work / "matrioska", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "langgraph.json", work / "langgraph.json")
    port = _free_port()
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "PYTHONPATH": str(work),
    }
    env.pop("MATRIOSKA_MODEL", None)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [str(exe), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("langgraph dev exited:\n" + (tmp_path / "server.log").read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("langgraph dev did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        log.close()


@pytest.mark.slow
def test_langgraph_dev_runs_the_exported_graph(server: str, tiny_model_dir: Path) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    for _ in range(60):  # the server answers TCP before the graph is registered
        try:
            assistants = client.assistants.search(graph_id="matrioska")
            if assistants:
                break
        except Exception:
            pass
        time.sleep(0.5)
    assert assistants, "the matrioska graph is not registered"
    graph = client.assistants.get_graph(assistants[0]["assistant_id"])
    assert {"architect", "executor", "assembler"} <= {node["id"] for node in graph["nodes"]}

    thread = client.threads.create()
    context = {"model": str(tiny_model_dir), "load_in_4bit": False, "max_new_tokens": 8}
    events = []
    for part in client.runs.stream(
        thread["thread_id"],
        "matrioska",
        input={"task": "Library management system", "architecture": INDEPENDENT_PLAN},
        context=context,
        stream_mode=["updates", "custom"],
    ):
        events.append((part.event, part.data))
    kinds = [event for event, _ in events]
    assert "error" not in kinds, events[-3:]
    updates = [next(iter(data)) for event, data in events if event == "updates"]
    assert updates == ["architect", "contract", "acceptance", "executor", "executor", "executor", "assembler", "verify"]
    custom = [data["event"] for event, data in events if event == "custom"]
    assert custom.count("module_finished") == 3
    state = client.threads.get_state(thread["thread_id"])["values"]
    assert state["completed"] == ["html", "css", "auth"]
    assert state["final_result"].startswith("# Library Management System")

    # Plan review through the server: the run stops at the `review` interrupt; a resume
    # command approves the plan and the run finishes.
    review_thread = client.threads.create()["thread_id"]
    client.runs.wait(
        review_thread,
        "matrioska",
        input={"task": "Library management system", "architecture": INDEPENDENT_PLAN},
        context={**context, "review": True},
    )
    waiting = client.threads.get_state(review_thread)
    assert waiting["next"] == ["review"]
    interrupts = [i for task in waiting["tasks"] for i in task.get("interrupts") or []]
    assert interrupts and interrupts[0]["value"]["kind"] == "plan_review"
    assert not waiting["values"].get("completed")
    client.runs.wait(
        review_thread, "matrioska", command={"resume": {"action": "approve"}}, context={**context, "review": True}
    )
    done = client.threads.get_state(review_thread)["values"]
    assert done["completed"] == ["html", "css", "auth"] and done["review"]["status"] == "approved"
