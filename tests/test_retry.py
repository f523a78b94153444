"""Backend failures: transient ones are retried with backoff; after the last retry the run stops saved."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from scripted import ScriptedChatModel, flaky, module_id_of

from matrioska import MatrioskaOrchestrator, PlanError, RunFailedError
from matrioska.model.retry import default_retry_policy, is_transient_backend_error

FAST = default_retry_policy(max_attempts=3, initial_interval=0.01, max_interval=0.02)


def _status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, request=request))


class OutOfMemoryError(RuntimeError):  # the name torch.cuda.OutOfMemoryError has
    pass


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (TimeoutError("read timed out"), True),
        (ConnectionRefusedError("refused"), True),
        (OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), True),
        (RuntimeError("CUDA out of memory"), True),
        (_status_error(503), True),
        (_status_error(429), True),
        (_status_error(400), False),
        (httpx.ConnectError("refused"), True),
        (ValueError("bad"), False),
        (RuntimeError("shape mismatch"), False),
        (PlanError("no plan"), False),
        (KeyError("x"), False),
    ],
)
def test_transient_classification(exc: Exception, transient: bool) -> None:
    assert is_transient_backend_error(exc) is transient


def calls_for(model: ScriptedChatModel, module_id: str) -> int:
    return sum(1 for c in model.calls if module_id_of(c) == module_id)


def test_transient_failures_are_retried_and_the_run_finishes(tmp_path: Path) -> None:
    model = flaky({"css": [TimeoutError("slow"), ConnectionResetError("reset")]})
    with MatrioskaOrchestrator(model, tmp_path, retry_policy=FAST) as orchestrator:
        state = orchestrator.run("Library")
    assert calls_for(model, "css") == 3 and calls_for(model, "html") == 1
    assert set(state["artifacts"]) == {"html", "css", "auth"}


def test_after_the_last_retry_the_run_stops_saved_and_resumes(tmp_path: Path) -> None:
    model = flaky({"auth": [ConnectionRefusedError("refused")] * 3})
    with MatrioskaOrchestrator(model, tmp_path, retry_policy=FAST) as orchestrator:
        with pytest.raises(RunFailedError, match="ConnectionRefusedError") as info:
            orchestrator.run("Library", thread_id="r1")
        assert calls_for(model, "auth") == 3
        assert orchestrator.get_state("r1")["completed"] == ["html", "css"]
        state = orchestrator.resume(info.value.thread_id)
    assert calls_for(model, "auth") == 4 and calls_for(model, "html") == 1
    assert state["completed"] == ["html", "css", "auth"]


def test_deterministic_errors_are_not_retried(tmp_path: Path) -> None:
    model = flaky({"html": [ValueError("the model's tokenizer rejected the prompt")]})
    with MatrioskaOrchestrator(model, tmp_path, retry_policy=FAST) as orchestrator:
        with pytest.raises(RunFailedError, match="ValueError"):
            orchestrator.run("Library")
    assert calls_for(model, "html") == 1
