"""bench/quality.py's function-path figures and its `--functions` option (issue 35), offline: the
figures read from fake module reports, the `both` comparison with the runs stubbed out, and
the option errors, all without a model."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quality() -> Any:
    spec = importlib.util.spec_from_file_location("quality_bench_functions", ROOT / "bench" / "quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _state() -> dict[str, Any]:
    trial = {
        "clean": {"checked": 1, "examples": 1, "passing": True, "first_passing": True, "candidates": [{"passed": 1}]},
        # a trial without `first_passing`: candidate 1 passed 0 of 1, candidate 2 was kept
        "valid10": {"checked": 1, "examples": 2, "candidates": [{"passed": 0}, {"passed": 1}]},
        # candidate 1 passed its count but raised: not passing
        "valid13": {"checked": 1, "examples": 1, "candidates": [{"passed": 1, "error": "boom"}]},
    }
    plan = [
        {"name": "clean", "examples": [{"args": ["0-3"], "expected": "03"}]},
        {"name": "valid10", "examples": [{"args": ["x"], "expected": True, "suspect": "all said False"}, {"args": []}]},
        {"name": "valid13", "examples": [{"args": ["z"], "expected": True}]},
    ]
    functions = {
        "plan": {"functions": plan},
        "passing": ["clean", "valid10"],
        "missing": [],
        "trial": {"functions": trial},
    }
    return {
        "architecture": {
            "modules": [
                {"id": "core", "files": ["isbn/core.py"]},
                {"id": "cli", "files": ["isbn/__main__.py"]},
                {"id": "web", "files": ["index.html", "app.js"]},
                {"id": "tests", "kind": "tests", "files": ["tests/test_core.py"]},
                {"id": "style", "files": ["style.css"]},
            ]
        },
        "module_reports": {
            "core": {"path": "functions", "functions": functions},
            "cli": {"path": "whole module (no function plan)"},
            "web": {"path": "whole module"},
            "tests": {"path": "tests from examples"},
            "style": {"path": "whole module"},
        },
    }


def test_function_figures_from_the_module_reports() -> None:
    quality = _quality()
    figures = quality.function_figures(_state())
    assert figures == {
        "reported": 5,
        "code_modules": 3,  # core, cli, web (the tests and the stylesheet are not code modules)
        "function_path": 1,
        "planned": 3,
        "examples": 4,
        "suspect": 1,
        "first_passing": 1,
        "passing": 2,
        "missing": 0,
        "chosen": 2,
        "sampled_again": 0,
        "whole_replaced": 0,
        "unchanged_fixes": 0,
        "fell_back": 1,
        "tests_from_examples": 1,
    }
    assert (
        quality.function_cell(figures)
        == "1/3 mod, fn 1/3 first, 2/3 chosen, 1 suspect, 1 fell back, 1 tests from examples"
    )
    # a Matrioska whose reports say no path
    assert quality.function_cell(quality.function_figures({"module_reports": {"a": {"attempts": 1}}})) == "n/a"


def _row(task: str, passed: int, verdict: bool, figures: dict[str, int]) -> dict[str, Any]:
    return {
        "task": task,
        "passed": passed,
        "total": 2,
        "all_passed": passed == 2,
        "verdict": verdict,
        "verdict_word": "works" if verdict else "does not work",
        "clean_first": 1,
        "modules_reported": 2,
        "wall_s": 4.0,
        "tokens": 100,
        "prompt_tokens": 300,
        "tokens_estimated": False,
        "calls": 3,
        "choices": 3,
        "sampling": {"candidates": 0, "checked": 0, "kept_not_first": 0},
        "function_path": figures,
        "plan_ok": True,
        "modules": 2,
        "files": 3,
        "scenarios": {"written": 0, "ran": 0, "passed": 0, "names": []},
        "references": {"resolved": 0, "total": 0, "broken": []},
        "interface_tokens": 0,
        "structure": {},
        "error": "",
        "acceptance": [],
    }


def test_functions_both_runs_whole_then_functions_and_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    quality = _quality()
    figures = quality.function_figures(_state())
    calls: list[tuple[str, Path, bool | None, str]] = []

    def run_task(task: str, args: Any, make_llm: Any, say: Any, samples: int, root: Path, functions: Any, tag: str):
        calls.append((task, root, functions, tag))
        return _row(task, 2 if functions else 1, bool(functions), figures if functions else {})

    monkeypatch.setattr(quality, "run_task", run_task)
    monkeypatch.setattr(quality, "report", lambda rows: ("table", {}))
    args = argparse.Namespace(
        out=str(tmp_path), jobs=1, samples=1, functions="both", sample_temperature=None, model="m",
        json_path=str(tmp_path / "out.json"), md_path=str(tmp_path / "out.md"),
    )  # fmt: skip
    configs = [
        quality.Config("whole", "whole modules (functions=False)", "whole", functions=False),
        quality.Config("functions", "function by function (functions=True)", "functions", functions=True),
    ]
    quality.compare_configs(args, ["py-isbn"], lambda: None, lambda text: None, configs, quality.FUNCTIONS_COMPARISON)
    assert calls == [
        ("py-isbn", tmp_path / "whole", False, "whole"),
        ("py-isbn", tmp_path / "functions", True, "functions"),
    ]
    printed = capsys.readouterr().out
    assert "| checks whole | checks functions |" in printed
    assert "| py-isbn | 1/2 | 2/2 |" in printed
    assert "1/3 mod, fn 1/3 first, 2/3 chosen, 1 suspect" in printed
    assert "checks passed 1 -> 2 of 2 (2.00x)" in printed and "verdict works 0 -> 1 (n/a)" in printed
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["functions"] == "both" and set(document["configs"]) == {"whole", "functions"}
    assert document["rows"][0]["function_path"] == {}  # the baseline's rows
    assert document["comparison"]["ratios"]["checks_passed"] == 2.0
    assert document["comparison"]["total"]["functions"]["function_path"]["passing"] == 2
    assert "function by function against whole modules" in (tmp_path / "out.md").read_text()


def test_functions_both_does_not_combine_with_samples() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "quality.py"), "--model", "x", "--functions", "both", "--samples", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--functions both" in result.stderr
