"""Tokens, requests and seconds per step (issue 42): every model call counted under the step of
the run it is part of, summed in the state, written to run_report.json and printed last."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_functions_path import Script, _run

from matrioska.cli.progress import print_final
from matrioska.model.ledger import count_call, ledger, step, usage_lines


def test_calls_count_under_the_innermost_step_and_a_fix_round_keeps_its_own() -> None:
    with ledger() as book:
        count_call(10, 1.0)
        with step("candidates"):
            count_call(5, 0.5, input_tokens=7)
            count_call(5, 0.5)
        with step("fix rounds"), step("candidates"):
            count_call(3, 0.25)
    count_call(99, 9.0)  # outside a ledger: not counted
    assert book == {
        "other": {"requests": 1, "tokens": 10, "input_tokens": 0, "seconds": 1.0},
        "candidates": {"requests": 2, "tokens": 10, "input_tokens": 7, "seconds": 1.0},
        "fix rounds": {"requests": 1, "tokens": 3, "input_tokens": 0, "seconds": 0.25},
    }
    lines = usage_lines(book)
    assert lines[1].split()[:3] == ["candidates", "2", "10"]  # in the run's order, not the book's
    assert lines[-1].split()[:3] == ["total", "4", "23"]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_run_reports_requests_tokens_and_seconds_per_step(tmp_path: Path) -> None:
    acceptance = [
        {
            "name": "empty text",
            "kind": "python",
            "module": "words",
            "calls": [{"function": "first_word", "args": [""], "expected": ""}],
        }
    ]
    state, _ = _run(tmp_path, Script(), acceptance)
    usage: dict[str, Any] = state["usage"]
    assert usage["function plans"]["requests"] == 1
    assert usage["candidates"]["requests"] == 4  # two functions, K=2
    assert usage["fix rounds"]["requests"] == 2  # first_word asked again in the fix round, K=2
    assert usage["contract"]["requests"] >= 1 and usage["notes"]["requests"] == 1
    assert all(row["tokens"] > 0 and row["seconds"] >= 0 for row in usage.values())
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    assert report["usage"] == usage
    out = io.StringIO()
    print_final(out, {**state, "results_zip": "x.zip"})
    text = out.getvalue()
    assert "the model, per step:" in text and "fix rounds" in text and "total" in text
