"""The `matrioska` command: run, resume, progress output, one-line errors."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scripted import THREE_MODULE_PLAN, ScriptedChatModel, default_responder, flaky, module_id_of

from matrioska import cli
from matrioska.cli import commands
from matrioska.cli.parser import build_parser
from matrioska.cli.progress import ProgressPrinter, _print_verdict
from matrioska.context import DEFAULT_MODEL_ID
from matrioska.runs.checkpoint import has_thread


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def use_model(monkeypatch: pytest.MonkeyPatch, model: Any) -> None:
    monkeypatch.setattr(commands, "load_model", lambda args: (model, {}))


def test_run_prints_phases_and_module_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_model(monkeypatch, ScriptedChatModel(respond=default_responder()))
    code, out, err = run_cli(
        ["run", "Library management system with dashboard", "--out", str(tmp_path), "--thread", "cli-1"]
    )
    assert code == 0, err
    for line in (
        "MATRIOSKA ORCHESTRATOR - Hyperfocus + SharedState",
        "PHASE 1: ARCHITECTURE",
        "Task: 'Library management system with dashboard'",
        "✓ Project: Library Management System",
        "✓ Modules: 3",
        "PHASE 2: EXECUTION (hyperfocus + communication)",
        "[2/3] CSS Styling: reading context ['element_ids', 'page_structure']",
        "✓ generated (",
        "PHASE 3: ASSEMBLY",
        "FINAL RESULT",
        "matrioska_results.zip",
    ):
        assert line in out
    # the plan as a table, one row per module in build order
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert rows[1][:2] == ["2", "css"] and "element_ids," in rows[1] and "css_classes," in rows[1]
    assert any(line.split()[:3] == ["#", "id", "name"] for line in out.splitlines())
    assert (tmp_path / "matrioska_results.zip").exists()


def test_failed_run_prints_resume_command_and_resume_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = flaky({"auth": [ConnectionError("server went away")]})
    use_model(monkeypatch, model)
    code, out, err = run_cli(["run", "Library", "--out", str(tmp_path), "--thread", "t9", "--retries", "1"])
    assert code == 2
    assert "ConnectionError: server went away" in err and "Traceback" not in err
    assert f"matrioska resume --out {tmp_path} --thread t9" in err
    before = len(model.calls)
    code, out, err = run_cli(["resume", "--out", str(tmp_path), "--thread", "t9"])
    assert code == 0, err
    assert [module_id_of(c) for c in model.calls[before:]] == ["auth", None]  # auth, then the assembler


@pytest.mark.parametrize("task", ["", "   "])
def test_blank_task_is_one_line_error_without_loading_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    monkeypatch.setattr(commands, "load_model", lambda args: pytest.fail("model loaded for a blank task"))
    code, out, err = run_cli(["run", task, "--out", str(tmp_path)])
    assert code == 2 and err.startswith("error: the task is empty") and err.count("\n") == 1


def test_unwritable_out_fails_before_loading_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "load_model", lambda args: pytest.fail("model loaded for a bad --out"))
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli(["run", "task", "--out", str(tmp_path / "f" / "sub")])
    assert code == 2 and "cannot write to output folder" in err


def test_unparseable_plan_exits_non_zero_with_typed_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_model(monkeypatch, ScriptedChatModel(respond=lambda m: "no plan, sorry"))
    code, _, err = run_cli(["run", "task", "--out", str(tmp_path), "--plan-attempts", "2"])
    assert code == 2 and "no usable plan after 2 attempt(s)" in err and "Traceback" not in err


def test_resume_of_unknown_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_model(monkeypatch, ScriptedChatModel(respond=default_responder()))
    code, _, err = run_cli(["resume", "--out", str(tmp_path), "--thread", "nope"])
    assert code == 2 and "no run with thread id 'nope'" in err


def test_resume_of_unknown_thread_fails_fast_without_loading_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_model(monkeypatch, ScriptedChatModel(respond=default_responder()))
    code, _, err = run_cli(["run", "Library", "--out", str(tmp_path), "--thread", "known"])
    assert code == 0, err
    monkeypatch.setattr(commands, "load_model", lambda args: pytest.fail("model loaded to resume an unknown thread"))
    missing = tmp_path / "never-run"
    for out in (tmp_path, missing):  # a database without the thread; no database at all
        start = time.perf_counter()
        code, _, err = run_cli(["resume", "--out", str(out), "--thread", "nope", "--model", str(tmp_path / "x")])
        assert time.perf_counter() - start < 1.0
        assert code == 2 and err == f"error: no run with thread id 'nope' under {str(out)!r}\n"
    assert not missing.exists()  # nothing is created where no run was


def test_resume_of_unknown_thread_in_postgres_fails_before_loading_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    use_model(monkeypatch, ScriptedChatModel(respond=default_responder()))
    code, _, err = run_cli(
        ["run", "Library", "--out", str(tmp_path), "--thread", "known-pg", "--checkpointer", postgres_url]
    )
    assert code == 0, err
    assert has_thread(postgres_url, "known-pg") and not has_thread(postgres_url, "nope-pg")
    monkeypatch.setattr(commands, "load_model", lambda args: pytest.fail("model loaded to resume an unknown thread"))
    argv = ["resume", "--out", str(tmp_path), "--thread", "nope-pg", "--checkpointer", postgres_url]
    code, _, err = run_cli(argv)
    assert code == 2 and err == f"error: no run with thread id 'nope-pg' under {str(tmp_path)!r}\n"


def _matrioska(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("matrioska")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def test_console_script_runs_the_tiny_4bit_model_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    plan = tmp_path / "plan.json"
    data = copy.deepcopy(THREE_MODULE_PLAN)
    data["general_manual"]["modules"][0]["files"] = ["index.html", "app.js"]
    plan.write_text(json.dumps(data))
    out = tmp_path / "out"
    result = _matrioska(
        "run",
        "Library system",
        "--out",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--plan",
        str(plan),
        "--max-new-tokens",
        "8",
    )
    # 8 random tokens: html delivers neither the files it declared (parsed replies: no fenced
    # block) nor the keys css and auth read (under its reply grammar: empty values), so it blocks
    # them (exit 3)
    assert result.returncode == 3, result.stderr
    assert "FINAL RESULT" in result.stdout
    assert "⊘ css: not generated — depends on 'html'" in result.stdout
    assert "verdict: DOES NOT WORK (" in result.stdout and "blocked (not generated): css, auth" in result.stdout
    assert len(list((out / "matrioska_artifacts").iterdir())) == 1
    assert re.search(
        r"generated \(\d+ chars, \d+ file\(s\), \d+ tokens, [\d.]+ tok/s\)", result.stdout
    )  # streamed live


def test_console_script_missing_model_path_is_one_line(tmp_path: Path) -> None:
    result = _matrioska("run", "task", "--out", str(tmp_path), "--model", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: model path") and "does not exist" in result.stderr


@pytest.mark.parametrize("flag, expected", [([], True), (["--no-json-schema"], False)])
def test_json_schema_constraint_is_on_unless_switched_off(
    tiny_model_dir: Path, flag: list[str], expected: bool
) -> None:
    args = build_parser().parse_args(["run", "task", "--out", "o", "--model", str(tiny_model_dir), "--no-4bit", *flag])
    assert commands.load_model(args)[0].constrain_json is expected


def test_live_progress_shows_a_bar_tokens_and_rate_per_module() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, lambda thread: "", live=True)
    printer({"event": "module_started", "module": "css", "name": "CSS", "index": 2, "total": 4, "reads": []})
    for _ in range(5):
        printer.drawn = 0.0  # redraw on every token for the test
        printer({"event": "token", "node": "executor", "text": "x"})
    printer({"event": "module_finished", "module": "css", "chars": 10, "written": ["k"], "notes": [], "file_count": 1})
    text = out.getvalue()
    assert "\r" in text and "[█████░░░░░░░░░░░░░░░] 2/4 CSS: 5 tokens" in text and "tok/s" in text
    assert "✓ generated (10 chars, 1 file(s), 5 tokens," in text
    printer(
        {
            "event": "module_finished",
            "module": "js",
            "chars": 0,
            "written": [],
            "notes": [],
            "file_count": 0,
            "problems": ["your answer contains no file: write it"],
        }
    )
    assert "✗ generated (0 chars, 0 file(s)" in out.getvalue() and "1 problem(s) left" in out.getvalue()


def test_the_default_model_follows_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No CUDA and no model chosen: the built-in small model, announced in one line before
    anything loads; with CUDA the 4-bit Mistral-7B; --model and $MATRIOSKA_MODEL win."""
    import torch

    from matrioska.model.builtin import DEFAULT_CPU_MODEL

    loaded: list[str] = []

    def load_model(args: Any) -> tuple[Any, dict[str, Any]]:
        loaded.append(commands.machine_default_model(args)[0])
        return ScriptedChatModel(respond=default_responder()), {}

    monkeypatch.setattr(commands, "load_model", load_model)
    monkeypatch.delenv("MATRIOSKA_MODEL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(["run", "Library management system", "--out", str(tmp_path / "a"), "--no-verify"])
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("no GPU")]
    assert notes == [f"no GPU: using {DEFAULT_CPU_MODEL}, in process; --model to choose"]
    assert loaded == [DEFAULT_CPU_MODEL]
    _, _, err = run_cli(["run", "Library", "--out", str(tmp_path / "b"), "--no-verify", "--model", "openai:x"])
    assert "no GPU" not in err and loaded[-1] == "openai:x"  # a model was chosen
    monkeypatch.setenv("MATRIOSKA_MODEL", "qwen-1.5b")
    _, _, err = run_cli(["run", "Library", "--out", str(tmp_path / "c"), "--no-verify"])
    assert "no GPU" not in err and loaded[-1] == "qwen-1.5b"
    monkeypatch.delenv("MATRIOSKA_MODEL")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    _, _, err = run_cli(["run", "Library", "--out", str(tmp_path / "d"), "--no-verify"])
    assert "no GPU" not in err and loaded[-1] == DEFAULT_MODEL_ID


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        run_cli(["--version"])
    assert stop.value.code == 0
    assert re.fullmatch(r"matrioska \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_a_verdict_false_without_a_failed_check_prints_its_reason() -> None:
    """Files that fail their checks make the verdict false although everything that ran passed:
    the line says why, never "0 check(s) failed"."""
    out = io.StringIO()
    reason = "1 file(s) fail their checks (reverse.py @ core: the file holds only comments)"
    _print_verdict(
        out,
        {
            "works": False,
            "rounds": 0,
            "reason": reason,
            "checks": [{"command": "python -c 'import reverse'", "ok": True}],
        },
    )
    assert f"DOES NOT WORK ({reason} after 0 fix round(s))" in out.getvalue()
    assert "0 check(s) failed" not in out.getvalue()
