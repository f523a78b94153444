"""Structural problems of the modules' replies counted per run (matrioska/generation/reply_stats.py)."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import THREE_MODULE_PLAN, ScriptedChatModel, default_responder, is_update_retry, module_id_of

from matrioska import cli
from matrioska.generation.project import extract_files, module_problems
from matrioska.generation.reply_stats import categorise, output_counts, render_structural, structural_counts, sum_counts
from matrioska.plan.parsing import UPDATE_MARKER, parse_module_reply
from matrioska.state import ModuleSpec

ROOT = Path(__file__).resolve().parents[1]


def problems_of(reply: str, spec: ModuleSpec, prompt: str = "") -> list[str]:
    """The problems the executor finds in one answer, built by the code that words them."""
    parsed = parse_module_reply(reply, spec.shared_state_writes)
    files = extract_files(parsed.artifact, spec.id, spec.files)
    return module_problems(spec, files, parsed.update, {}, prompt=prompt)[0]


SPEC = ModuleSpec(id="core", files=["core.py"], shared_state_writes=["api_functions"])
GOOD = f'core.py\n```python\ndef add(a, b):\n    return a + b\n```\n{UPDATE_MARKER} {{"api_functions": ["add(a, b)"]}}'


def test_the_wording_of_project_and_parsing_falls_in_each_category() -> None:
    prompt = "Write the module core. It keeps a list of the books and writes a report of them every evening for you."
    cases = {
        # only the update: no file
        "no_file": f'{UPDATE_MARKER} {{"api_functions": ["add"]}}',
        # the prompt given back as the file
        "echo": f'core.py\n```\n{prompt}\n```\n{UPDATE_MARKER} {{"api_functions": ["add"]}}',
        # the file under another name: the declared core.py is missing
        "missing_file": GOOD.replace("core.py\n", "other.py\n", 1),
        # no update section at all; then an update with the key published empty
        "update": GOOD.split(UPDATE_MARKER)[0],
    }
    for category, reply in cases.items():
        found = [categorise(p) for p in problems_of(reply, SPEC, prompt)]
        assert category in found, (category, problems_of(reply, SPEC, prompt))
    empty = problems_of(GOOD.replace('["add(a, b)"]', "[]"), SPEC)
    assert [categorise(p) for p in empty] == ["update"]
    assert parse_module_reply(cases["update"], ["api_functions"]).missing_keys == ["api_functions"]
    assert problems_of(GOOD, SPEC) == []
    # a problem with the code itself is not about form
    broken = problems_of(GOOD.replace("return a + b", "return a +"), SPEC)
    assert broken and all(categorise(p) is None for p in broken)


def test_the_unnamed_block_is_counted_as_a_stray_undeclared_file() -> None:
    reply = GOOD.replace(f"\n{UPDATE_MARKER}", f"\n```\nprint('more')\n```\n{UPDATE_MARKER}")
    artifact = parse_module_reply(reply, ["api_functions"]).artifact
    dropped: list[str] = []
    files = extract_files(artifact, "core", ["core.py"], dropped)
    assert [f.path for f in files] == ["core.py"] and len(dropped) == 1  # a declared module: no name invented
    files = extract_files(artifact, "core")  # a module that declared no files names it
    extra = sorted({f.path for f in files} - {"core.py"})
    assert extra == ["core_2.txt"]  # the name project.py gives a block without one
    counts = structural_counts({"core": {"problems": [], "extra_files": [*extra, "notes.md"]}})
    assert (counts["undeclared_file"], counts["stray_files"]) == (2, 1)


def test_counts_over_every_attempt_and_module() -> None:
    missing = problems_of(GOOD.replace("core.py\n", "other.py\n", 1), SPEC)
    no_file = problems_of(f'{UPDATE_MARKER} {{"api_functions": []}}', SPEC)
    broken = problems_of(GOOD.replace("return a + b", "return a +"), SPEC)
    reports = {
        "core": {
            "problems": [],
            "repairs": [{"attempt": 1, "problems": no_file}, {"attempt": 2, "problems": missing}],
            "files": [{"path": "core.py", "valid": True, "problems": []}],
            "extra_files": [],
        },
        "cli": {
            "problems": missing,
            "repairs": [{"attempt": 1, "problems": broken}],
            "files": [{"path": "other.py", "valid": True, "problems": []}],
            "extra_files": ["other.py"],
        },
        "docs": {"problems": [], "files": [{"path": "README.md", "valid": True, "problems": []}]},
    }
    counts = structural_counts(reports)
    assert counts == {
        "no_file": 1,
        "missing_file": 2,
        "undeclared_file": 1,
        "stray_files": 0,
        "update": 1,  # the empty key of the answer without files
        "echo": 0,
        "attempts_spent": 2,  # core's two; cli's repair was about its code
        "repairs": 3,
        "modules": 3,
        "modules_with_declared_files": 2,
    }
    assert render_structural(counts) == (
        "structure: 1 no file, 2 declared file missing, 1 undeclared, 1 update missing/empty, 0 echo; "
        "2/3 repair attempts spent on form; 2/3 modules with their declared files"
    )
    # with the plan: the files the final answers hold against those declared
    declared = {"core": ["core.py"], "cli": ["cli.py"], "docs": ["README"]}  # README met by README.md
    assert structural_counts(reports, declared)["modules_with_declared_files"] == 2
    # core lacks util.py; cli and docs declared nothing, and each wrote a file
    assert structural_counts(reports, {"core": ["core.py", "util.py"]})["modules_with_declared_files"] == 2
    assert sum_counts([counts, counts])["missing_file"] == 4
    empty = structural_counts({})
    assert render_structural(empty).endswith("0/0 repair attempts spent on form; 0/0 modules with their declared files")


PLAN_WITH_FILES = copy.deepcopy(THREE_MODULE_PLAN)
for _module in PLAN_WITH_FILES["general_manual"]["modules"]:
    _module["files"] = [f"{_module['id']}.txt"]


def form_failing_responder() -> Any:
    """The scripted three-module run, with answers that fail on form the first time: html names
    its file wrongly and leaves out its update, auth writes no file; css adds an unnamed block."""
    base = default_responder(PLAN_WITH_FILES)
    seen: dict[str, int] = {}

    def respond(messages: list[BaseMessage]) -> str:
        module_id = module_id_of(messages)
        if module_id is None:
            return base(messages)
        if is_update_retry(messages):
            return "{}"  # the re-ask for the missing keys gets nothing either
        seen[module_id] = seen.get(module_id, 0) + 1
        reply = base(messages).replace(f"index_{module_id}.txt\n", f"{module_id}.txt\n", 1)
        if seen[module_id] > 1:
            return reply
        if module_id == "html":
            return reply.replace("html.txt\n", "page.txt\n", 1).split(UPDATE_MARKER)[0]
        if module_id == "auth":
            return UPDATE_MARKER + reply.split(UPDATE_MARKER)[1]
        if module_id == "css":
            return reply.replace(f"\n{UPDATE_MARKER}", f"\n```\nmore styles\n```\n{UPDATE_MARKER}")
        return reply

    return respond


def scripted_run(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The three-module run of `form_failing_responder`, written under `out` by the CLI."""
    monkeypatch.setattr(
        "matrioska.cli.commands.load_model", lambda args: (ScriptedChatModel(respond=form_failing_responder()), {})
    )
    argv = ["run", "Library", "--out", str(out), "--thread", "s1", "--repairs", "1", "--no-verify"]
    assert cli.main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0


LINE = (
    "structure: 1 no file, 1 declared file missing, 0 undeclared, 2 update missing/empty, 0 echo; "
    "2/2 repair attempts spent on form; 3/3 modules with their declared files"
)


def test_a_scripted_run_written_to_disk_is_counted_from_its_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_run(tmp_path, monkeypatch)
    counts = output_counts(tmp_path)
    assert counts == {
        "no_file": 1,  # auth's first answer (its missing auth.txt not counted again)
        "missing_file": 1,  # html's first answer: page.txt instead of html.txt
        "undeclared_file": 0,  # css's unnamed extra block is dropped, never saved as css_2.txt
        "stray_files": 0,
        "update": 2,  # html's first answer: both of its keys
        "echo": 0,
        "attempts_spent": 2,
        "repairs": 2,
        "modules": 3,
        "modules_with_declared_files": 3,
    }
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    assert structural_counts(report["module_reports"]) == counts  # the same without the plan
    assert render_structural(counts) == LINE
    done = subprocess.run(
        [sys.executable, "-m", "matrioska.generation.reply_stats", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0 and done.stdout.strip() == LINE, done.stderr
    assert output_counts(tmp_path / "nothing")["modules"] == 0


def test_the_ci_scripts_print_the_line_of_their_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python the two real-model scripts run after their runs (their heredocs), given the
    folders they leave: the scripted run's output stands in for the real model's."""
    snippets = {}
    for script in ("real_model_ci.sh", "server_ci.sh"):
        found = re.findall(r"<<'PY'\n(.*?)\nPY\n", (ROOT / "scripts" / script).read_text(), re.S)
        assert len(found) == 1, script
        snippets[script] = found[0]
    scripted_run(tmp_path / "out", monkeypatch)
    (tmp_path / "run.log").write_text("")
    done = subprocess.run(
        [sys.executable, "-", str(tmp_path), "0"],
        input=snippets["real_model_ci.sh"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert f"real-model stage: {LINE}" in done.stdout.splitlines(), done.stdout + done.stderr
    (tmp_path / "out").rename(tmp_path / "wave")
    for name in ("plan.log", "wave.log", "wave.err", "resume.log", "running.txt"):
        (tmp_path / name).write_text("")
    argv = [str(tmp_path), "0", "2", "0", "1", "http://127.0.0.1:1/v1", str(ROOT / "bench" / "plans" / "fanout3.json")]
    done = subprocess.run(
        [sys.executable, "-", *argv], input=snippets["server_ci.sh"], capture_output=True, text=True, cwd=ROOT
    )
    assert f"server stage: wave {LINE}" in done.stdout.splitlines(), done.stdout + done.stderr


def test_the_quality_bench_counts_from_the_state_or_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("quality_bench", ROOT / "bench" / "quality.py")
    assert spec is not None and spec.loader is not None
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    scripted_run(tmp_path, monkeypatch)
    from_folder = quality.structure(tmp_path, {})  # a run that stopped: its run report
    report = json.loads((tmp_path / "matrioska_checkpoints" / "run_report.json").read_text())
    plan = json.loads((tmp_path / "matrioska_checkpoints" / "architecture.json").read_text())
    from_state = quality.structure(
        tmp_path / "nothing", {"module_reports": report["module_reports"], "architecture": plan}
    )
    assert from_folder == from_state == output_counts(tmp_path)
