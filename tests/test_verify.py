"""Projects that run: the assembled project is executed in the sandbox, runtime failures go back
to the module that owns them, and the verdict is honest (verification.json, exit status 3)."""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator, SandboxError
from matrioska.checking.run import attribute
from matrioska.checking.sandbox import NO_BWRAP_REASON, UNSANDBOXED_WARNING, Sandbox, resolve_sandbox
from matrioska.checking.verify import verify_project
from matrioska.cli import main
from matrioska.kinds.python.checks import entry_points, import_names
from matrioska.plan.parsing import UPDATE_MARKER

HAVE_BWRAP = shutil.which("bwrap") is not None
needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap is not installed (apt-get install bubblewrap)")

PY_PLAN = {
    "project_name": "Todo",
    "goal": "A command-line todo list with pytest tests",
    "modules": [
        {"id": "core", "name": "Todo core", "shared_state_writes": ["api_functions"]},
        {"id": "cli", "name": "Entry point", "dependencies": ["core"], "shared_state_reads": ["api_functions"]},
        {"id": "tests", "name": "Tests", "dependencies": ["core"], "shared_state_reads": ["api_functions"]},
    ],
}

CORE_BUGGY = '''"""Todo storage."""

TODOS: list[str] = []


def add(text):
    TODOS.append(text)
    return todo_id
'''
CORE_FIXED = CORE_BUGGY.replace("return todo_id", "return len(TODOS)")
CLI = """import argparse

from todo import add


def main(argv=None):
    parser = argparse.ArgumentParser(prog="todo")
    parser.add_argument("text", nargs="?")
    args = parser.parse_args(argv)
    if args.text:
        print(add(args.text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
"""
TESTS = """from todo import add


def test_add_returns_the_new_count():
    assert add("milk") == 1
"""


# the evidence a verdict of "works" needs: the task's behaviour (adding a todo), run
PY_ACCEPTANCE = [
    {"name": "adding a todo counts it", "kind": "python", "code": "from todo import add\nassert add('eggs') == 1"}
]
WEB_ACCEPTANCE = [
    {"name": "a click counts", "kind": "page", "page": "index.html", "steps": [{"click": "#inc"}], "expect_text": ["1"]}
]


def answer(path: str, lang: str, body: str, update: dict[str, Any]) -> str:
    return f"Here it is.\n\n{path}\n```{lang}\n{body}```\n{UPDATE_MARKER} {json.dumps(update)}"


def python_model(fixed_only_with_evidence: bool = True) -> ScriptedChatModel:
    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "Run python main.py."
        module = module_id_of(messages)
        last = str(messages[-1].content)
        if module == "core":
            evidence = "FAILED CHECK" in last and "NameError" in last and "todo_id" in last
            body = CORE_FIXED if evidence or not fixed_only_with_evidence else CORE_BUGGY
            return answer("todo.py", "python", body, {"api_functions": ["add(text)"]})
        if module == "cli":
            return answer("main.py", "python", CLI, {})
        return answer("tests/test_todo.py", "python", TESTS, {})

    return ScriptedChatModel(respond=respond)


@needs_bwrap
def test_a_runtime_name_error_is_sent_to_its_module_and_fixed(tmp_path: Path) -> None:
    model = python_model()
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(model, tmp_path, verify_timeout=60, acceptance=PY_ACCEPTANCE) as orchestrator:
        state = orchestrator.run("todo list", architecture=PY_PLAN, on_event=events.append)
    verification = state["verification"]
    assert verification["works"] is True, verification
    assert verification["verdict"] == "works" and verification["evidence"] == ["adding a todo counts it"]
    assert verification["rounds"] == 1
    kinds = {c["kind"] for c in verification["checks"] if c["ok"]}
    assert {"python-import", "pytest", "entry-point"} <= kinds
    first = verification["history"][0]
    assert first["works"] is False and first["modules"] == ["core"]

    # The fix prompt held the runtime evidence and the module's own file, no other module's code.
    fix_prompts = [m for m in model.calls if module_id_of(m) == "core" and "FAILED CHECK" in str(m[-1].content)]
    assert len(fix_prompts) == 1
    prompt = "\n".join(str(m.content) for m in fix_prompts[0])
    assert "NameError" in prompt and "todo_id" in prompt and "test_add_returns_the_new_count" in prompt
    assert "return todo_id" in prompt  # its own current file
    assert "argparse" not in prompt and "def test_add" not in prompt.replace("test_add_returns", "")

    written = json.loads((tmp_path / "matrioska_checkpoints" / "verification.json").read_text())
    assert written["works"] is True and written["rounds"] == 1
    assert (tmp_path / "project" / "todo.py").read_text() == CORE_FIXED
    manifest = json.loads((tmp_path / "matrioska_checkpoints" / "manifest.json").read_text())
    assert manifest["verification"]["works"] is True
    rows = [r for r in state["integration_report"]["consistency"] if r.get("kind") == "runs"]
    assert rows and all(r["status"] == "held" for r in rows)
    assert "## Verification" in state["final_result"] and "**works**" in state["final_result"]
    assert state["module_reports"]["core"]["runtime_fixes"][0]["round"] == 1
    names = [e["event"] for e in events]
    assert "check_started" in names and "check_finished" in names and "fix_round" in names


@needs_bwrap
def test_a_project_never_fixed_exits_3_with_its_files_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PY_PLAN))
    out = tmp_path / "out"

    def never_fixed(messages: list[BaseMessage]) -> str:
        if module_id_of(messages) == "core":
            return answer("todo.py", "python", CORE_BUGGY, {"api_functions": ["add(text)"]})
        return python_model().respond(messages)

    scripted = ScriptedChatModel(respond=never_fixed)
    monkeypatch.setattr("matrioska.cli.commands.load_model", lambda args: (scripted, {}))
    stdout, stderr = _Capture(), _Capture()
    code = main(
        ["run", "todo list", "--out", str(out), "--plan", str(plan), "--fix-rounds", "1"], stdout=stdout, stderr=stderr
    )
    assert code == 3, stdout.text + stderr.text
    verification = json.loads((out / "matrioska_checkpoints" / "verification.json").read_text())
    assert verification["works"] is False and verification["rounds"] == 1
    failed = [c for c in verification["checks"] if c["ok"] is False]
    assert failed and any("NameError" in c["output"] for c in failed)
    assert verification["failures"][0]["module"] == "core"
    assert (out / "project" / "todo.py").exists() and (out / "matrioska_results.zip").exists()
    assert "DOES NOT WORK" in stdout.text and "NameError" in stdout.text


class _Capture:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.parts)


@needs_bwrap
def test_a_run_stopped_in_a_fix_round_resumes_there(tmp_path: Path) -> None:
    from matrioska import RunFailedError

    base = python_model()
    crash = {"armed": True}

    def respond(messages: list[BaseMessage]) -> str:
        if crash["armed"] and module_id_of(messages) == "core" and "FAILED CHECK" in str(messages[-1].content):
            crash["armed"] = False
            raise RuntimeError("power cut during the fix round")
        return base.respond(messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify_timeout=60, acceptance=PY_ACCEPTANCE) as orchestrator:
        with pytest.raises(RunFailedError) as stopped:
            orchestrator.run("todo list", thread_id="t", architecture=PY_PLAN)
        assert stopped.value.thread_id == "t"
        saved = orchestrator.get_state("t")
        assert saved["fix_queue"] == ["core"] and saved["verification"]["status"] == "fixing"
        model.calls.clear()
        state = orchestrator.resume("t")
    assert state["verification"]["works"] is True and state["verification"]["rounds"] == 1
    modules = [module_id_of(m) for m in model.calls if module_id_of(m)]
    assert modules == ["core"]  # only the fix itself ran again; cli and tests were kept


def test_without_bubblewrap_auto_runs_nothing_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("matrioska.checking.sandbox.shutil.which", lambda name: None)
    sandbox, note = resolve_sandbox("auto")
    assert sandbox is None and note == NO_BWRAP_REASON and "apt-get install bubblewrap" in note
    with pytest.raises(SandboxError, match="bubblewrap"):
        resolve_sandbox("bwrap")
    with pytest.raises(SandboxError, match="unknown sandbox"):
        resolve_sandbox("docker")
    marker = tmp_path / "ran"
    model = python_model()
    events: list[dict[str, Any]] = []
    with MatrioskaOrchestrator(model, tmp_path / "out") as orchestrator:
        state = orchestrator.run("todo list", architecture=PY_PLAN, on_event=events.append)
    assert state["verification"]["works"] is None
    assert state["verification"]["reason"] == NO_BWRAP_REASON and state["verification"]["checks"] == []
    assert any(e["event"] == "verification_skipped" for e in events)
    assert not marker.exists()


def test_sandbox_none_runs_unsandboxed_with_its_warning(tmp_path: Path) -> None:
    sandbox, note = resolve_sandbox("none", timeout=20)
    assert sandbox is not None and sandbox.mode == "none" and note == UNSANDBOXED_WARNING
    result = verify_project(
        {"todo.py": CORE_FIXED, "tests/test_todo.py": TESTS},
        {"todo.py": "core", "tests/test_todo.py": "tests"},
        sandbox,
    )
    assert result["works"] is True, result


def test_nothing_runnable_is_works_null(tmp_path: Path) -> None:
    sandbox = Sandbox(mode="none", timeout=10)
    result = verify_project(
        {"README.md": "# hi", "notes.txt": "x"}, {"README.md": "docs", "notes.txt": "docs"}, sandbox
    )
    assert result["works"] is None and result["checks"] == []
    assert "nothing to run" in result["notes"][-1]


def test_attribution_takes_the_innermost_project_frame() -> None:
    owners = {"todo.py": "core", "tests/test_todo.py": "tests", "app.js": "js"}
    trace = (
        'Traceback (most recent call last):\n  File "/tmp/x/project/tests/test_todo.py", line 4, in test_add\n'
        '  File "/tmp/x/project/todo.py", line 8, in add\n  File "/usr/lib/python3.11/json/__init__.py", line 3\n'
        "NameError: name 'todo_id' is not defined"
    )
    assert attribute(trace, owners, "/tmp/x/project") == "core"
    assert (
        attribute("tests/test_todo.py:4: in test_add\n    assert add(1) == 2\nE   assert 1 == 2", owners, "/r")
        == "tests"
    )
    assert attribute("ReferenceError at http://127.0.0.1:4000/app.js:3:5", owners, "/r") == "js"
    assert attribute("nothing here", owners, "/r", default="tests") == "tests"


def test_entry_points_and_import_names() -> None:
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/core.py": "",
        "src/pkg/__main__.py": "import argparse",
        "tests/test_core.py": "",
        "my-script.py": "",
    }
    assert import_names(list(files)) == {"pkg": "src/pkg/__init__.py", "pkg.core": "src/pkg/core.py"}
    assert entry_points(files)[0][:2] == (["-m", "pkg"], "src/pkg/__main__.py")
    readme = {"app.py": "print(1)", "README.md": "Run `python app.py` to start."}
    assert entry_points(readme)[0][:2] == (["app.py"], "app.py")
    assert entry_points({"main.py": "if __name__ == '__main__':\n    pass\n"})[0][0] == ["main.py"]


# -- escapes -------------------------------------------------------------------------------------


@needs_bwrap
def test_generated_code_cannot_escape_the_sandbox(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                received.append(conn.recv(100) or b"connected")
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    home_marker = Path.home() / f"matrioska-escape-{port}"
    tmp_marker = Path("/tmp") / f"matrioska-escape-{port}"
    escapes = {
        "test_network.py": f"import socket\ndef test_net():\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    s.sendall(b'leak')\n",
        "test_writes.py": f"def test_tmp():\n    open({str(tmp_marker)!r}, 'w').write('x')\n"
        f"def test_home():\n    open({str(home_marker)!r}, 'w').write('x')\n",
        "test_reads_home.py": "import os\ndef test_read():\n    assert not os.path.expanduser('~').startswith('/root')\n"
        "    assert os.listdir('/root') == []\n",
        "test_secrets.py": "import os\ndef test_env():\n    assert 'OPENAI_API_KEY' not in os.environ\n    assert False, 'ran'\n",
        "busy.py": "while True:\n    pass\n",
        "fork.py": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "spam.py": "import sys\nwhile True:\n    try:\n        sys.stdout.write('x' * 65536)\n    except OSError:\n        pass\n",
    }
    owners = dict.fromkeys(escapes, "evil")
    sandbox, _ = resolve_sandbox("bwrap", timeout=4)
    assert sandbox is not None
    import os

    os.environ["OPENAI_API_KEY"] = "sk-secret"
    try:
        started = time.monotonic()
        result = verify_project(escapes, owners, sandbox)
        elapsed = time.monotonic() - started
    finally:
        os.environ.pop("OPENAI_API_KEY", None)
        stop.set()
        listener.close()
    assert received == []
    assert not home_marker.exists() and not tmp_marker.exists()
    assert result["works"] is False
    by_kind = {c["kind"]: c for c in result["checks"]}
    imports = by_kind["python-import"]
    assert imports["ok"] is False and "no exit within 4 s" in imports["output"]
    pytest_check = by_kind["pytest"]
    assert pytest_check["ok"] is False
    assert "test_env" in pytest_check["output"] and "'ran'" in pytest_check["output"]  # secrets scrubbed, it ran
    assert len(pytest_check["output"]) <= 5000
    assert elapsed < 40
    # each piece separately: busy loop, fork loop and endless output are all stopped
    for name in ("busy.py", "fork.py", "spam.py"):
        alone = sandbox.run([sys.executable, name], _project(tmp_path / name, {name: escapes[name]}))
        assert not alone.ok and alone.killed in ("timeout", "output limit"), (name, alone)
        assert len(alone.output) < 8000


def _project(folder: Path, files: dict[str, str]) -> Path:
    import os

    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


# -- a web page ----------------------------------------------------------------------------------

WEB_PLAN = {
    "project_name": "Counter",
    "goal": "A counter page",
    "modules": [
        {"id": "page", "name": "Page", "shared_state_writes": ["element_ids"]},
        {"id": "script", "name": "Behaviour", "dependencies": ["page"], "shared_state_reads": ["element_ids"]},
    ],
}
PAGE = '<!DOCTYPE html>\n<html>\n<head><title>Counter</title></head>\n<body>\n<button id="inc">+</button>\n<span id="count">0</span>\n<script src="app.js"></script>\n</body>\n</html>\n'
SCRIPT_BUGGY = "const button = document.getElementById('inc');\nbutton.addEventListener('click', increment);\ncounter.textContent = '0';\n"
SCRIPT_FIXED = (
    "const button = document.getElementById('inc');\nconst counter = document.getElementById('count');\n"
    "function increment() { counter.textContent = String(Number(counter.textContent) + 1); }\n"
    "button.addEventListener('click', increment);\n"
)


def web_model() -> ScriptedChatModel:
    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "Open index.html."
        if module_id_of(messages) == "page":
            return answer("index.html", "html", PAGE, {"element_ids": ["#inc", "#count"]})
        last = str(messages[-1].content)
        evidence = "FAILED CHECK" in last and "ReferenceError" in last and "app.js" in last
        return answer("app.js", "javascript", SCRIPT_FIXED if evidence else SCRIPT_BUGGY, {})

    return ScriptedChatModel(respond=respond)


@needs_bwrap
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_a_reference_error_on_page_load_is_sent_to_the_script_and_fixed(tmp_path: Path) -> None:
    model = web_model()
    with MatrioskaOrchestrator(model, tmp_path, verify_timeout=30, acceptance=WEB_ACCEPTANCE) as orchestrator:
        state = orchestrator.run("counter page", architecture=WEB_PLAN)
    verification = state["verification"]
    assert verification["works"] is True, verification
    assert verification["rounds"] == 1 and verification["history"][0]["modules"] == ["script"]
    fix = [m for m in model.calls if module_id_of(m) == "script" and "FAILED CHECK" in str(m[-1].content)]
    assert len(fix) == 1
    prompt = "\n".join(str(m.content) for m in fix[0])
    assert "ReferenceError" in prompt and "counter" in prompt and "app.js" in prompt
    assert "<button" not in prompt  # the page module's file is not in the script's prompt
    assert [c["kind"] for c in verification["checks"] if c["kind"] != "analyzers"] == ["web-page"]


@needs_bwrap
def test_a_requirement_that_cannot_be_had_is_a_failed_check_sent_to_its_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: pip may look nowhere
    sandbox, _ = resolve_sandbox("bwrap", timeout=30)
    assert sandbox is not None
    files = {"app.py": "import surely_not_installed_pkg\n", "requirements.txt": "surely-not-installed-pkg==1.0\n"}
    owners = {"app.py": "core", "requirements.txt": "deps"}
    # allowed by the user (not a well-known distribution): pip is asked, and finds nothing
    allowed = "surely-not-installed-pkg"
    result = verify_project(files, owners, sandbox, deps_root=tmp_path / "pyenv", allow_install=allowed)
    assert result["works"] is False
    check, imports = [c for c in result["checks"] if c["kind"] != "analyzers"][:2]
    assert check["kind"] == "python-deps" and check["ok"] is False and check["modules"] == ["deps"]
    assert "could not be installed as wheels" in check["output"] and "standard library" in check["output"]
    assert not any((tmp_path / "pyenv").glob("*/surely*"))  # nothing half-installed is kept
    # the other checks still run: the import shows where it is used
    assert imports["kind"] == "python-import" and "surely_not_installed_pkg" in imports["output"]
    assert imports["modules"] == ["core"]
    # written by the assembler (from the imports): the module that imports it gets the failure
    owners["requirements.txt"] = "assembler"
    result = verify_project(files, owners, sandbox, deps_root=tmp_path / "pyenv", allow_install=allowed)
    assert {f["module"] for f in result["failures"]} == {"core"}


@needs_bwrap
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_tests_run_with_node_and_failures_point_at_the_code(tmp_path: Path) -> None:
    sandbox, _ = resolve_sandbox("bwrap", timeout=30)
    assert sandbox is not None
    code = "function sum(a, b) {\n  return a + c;\n}\nmodule.exports = { sum };\n"
    test = (
        "const test = require('node:test');\nconst assert = require('node:assert');\nconst { sum } = require('./sum.js');\n"
        "test('adds', () => {\n  assert.strictEqual(sum(1, 2), 3);\n});\n"
    )
    files = {"sum.js": code, "sum.test.js": test}
    owners = {"sum.js": "math", "sum.test.js": "tests"}
    result = verify_project(files, owners, sandbox)
    check = next(c for c in result["checks"] if c["kind"] == "js-test")
    assert check["ok"] is False and check["command"] == "node --test sum.test.js"
    assert check["modules"] == ["math"] and "ReferenceError" in check["output"]
    files["sum.js"] = code.replace("a + c", "a + b")
    assert verify_project(files, owners, sandbox)["works"] is True


@needs_bwrap
def test_readers_of_a_key_a_fixed_module_re_published_are_re_run_after_it(tmp_path: Path) -> None:
    base = python_model()

    def respond(messages: list[BaseMessage]) -> str:
        last = str(messages[-1].content)
        if module_id_of(messages) == "core" and "FAILED CHECK" in last:
            return answer(
                "todo.py",
                "python",
                CORE_FIXED + "\n\ndef count():\n    return len(TODOS)\n",
                {"api_functions": ["add(text)", "count()"]},
            )
        return base.respond(messages)

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(model, tmp_path, verify_timeout=60, acceptance=PY_ACCEPTANCE) as orchestrator:
        state = orchestrator.run("todo list", architecture=PY_PLAN)
    assert state["verification"]["works"] is True
    round_ = next(i for i, m in enumerate(model.calls) if "FAILED CHECK" in str(m[-1].content))
    calls = [module_id_of(m) for m in model.calls[round_:] if module_id_of(m)]
    # the round: core fixed, then its readers, in execution order (each with its own repairs)
    assert list(dict.fromkeys(calls)) == ["core", "cli", "tests"]
    for reader in ("cli", "tests"):
        fixes = state["module_reports"][reader]["runtime_fixes"]
        assert fixes == [{"round": 1, "evidence": "", "reason": "a module it reads from changed"}]
    assert state["shared_state"]["api_functions"] == ["add(text)", "count()"]


@needs_bwrap
def test_a_project_whose_file_is_only_comments_does_not_work_even_when_it_imports(tmp_path: Path) -> None:
    """What the real 0.5B produced in CI: one module, its file only comments; `import reverse`
    passes, and the run used to say WORKS."""
    plan = {"project_name": "Reverse", "goal": "reverse words", "modules": [{"id": "core", "files": ["reverse.py"]}]}
    comments = "reverse.py\n```python\n# reverse the words of a sentence\n# split, reverse, join\n```\n"

    def respond(messages: list[BaseMessage]) -> str:
        return "notes" if is_assembler(messages) else comments + f"{UPDATE_MARKER} {{}}"

    with MatrioskaOrchestrator(
        ScriptedChatModel(respond=respond), tmp_path, sandbox="bwrap", max_repairs=0, fix_rounds=0
    ) as orchestrator:
        state = orchestrator.run("reverse words", architecture=plan)
    verdict = state["verification"]
    assert [c["ok"] for c in verdict["checks"] if c["kind"] != "analyzers"] == [True]  # importing it raises nothing...
    assert verdict["works"] is False  # ...and still it does not work
    assert verdict["reason"].startswith("1 file(s) fail their checks (reverse.py: the file holds only comments")
    assert verdict["files_invalid"] == 1


@needs_bwrap
def test_weak_evidence_never_makes_the_verdict_true() -> None:
    """Seen with the real 0.5B at --samples 4: a main.py whose main() is never called passed
    `python main.py --help` (exit 0, nothing printed), and a generated scenario whose commands
    printed nothing passed on its exit status alone. The first is a failure of the entry point's
    module; the second is inconclusive (its own scenario by the user would still count)."""
    from matrioska.plan.acceptance import validate_scenarios

    sandbox, _ = resolve_sandbox("bwrap", timeout=30)
    assert sandbox is not None
    # (as the 0.5B wrote it: the guard inside main(), so nothing ever calls main)
    silent = (
        "import argparse\n\n\ndef main():\n    parser = argparse.ArgumentParser()\n"
        "    if __name__ == '__main__':\n        parser.parse_args()\n"
    )
    scenario = {"name": "runs", "kind": "command", "command": ["python", "lib.py", "x"], "exit": 0}
    files = {"main.py": silent, "lib.py": "VALUE = 1\n"}
    owners = {"main.py": "cli", "lib.py": "core"}
    generated = validate_scenarios([scenario], source="generated")
    result = verify_project(files, owners, sandbox, acceptance=generated)
    entry = next(c for c in result["checks"] if c["kind"] == "entry-point")
    assert entry["ok"] is False and "printed nothing" in entry["output"] and entry["modules"] == ["cli"]
    assert result["acceptance"][0]["ok"] is None and "inconclusive" in result["acceptance"][0]["output"]
    assert result["works"] is False
    fixed = {**files, "main.py": silent + "\n\nif __name__ == '__main__':\n    main()\n"}
    result = verify_project(fixed, owners, sandbox, acceptance=validate_scenarios([scenario]))
    assert result["works"] is True and result["acceptance"][0]["ok"] is True  # the user's own counts


# -- evidence: "works" needs the task's behaviour to have run -------------------------------------

SWALLOWING_TESTS = """from todo import add


def test_add():
    try:
        add("milk")
    except NameError:
        print("add failed")
"""


@needs_bwrap
def test_a_test_without_assert_and_help_only_give_runs_not_checked(tmp_path: Path) -> None:
    """Seen on the real 0.5B: the only test wraps its call in try/except NameError and prints,
    `main.py --help` prints argparse's usage, no scenario survived; the project is broken (add
    raises NameError) and the verdict said WORKS. Now: runs, not checked (exit status 4)."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "Run python main.py."
        module = module_id_of(messages)
        if module == "core":
            # a NameError no analyzer sees (they catch `return todo_id` before anything runs)
            return answer(
                "todo.py", "python", CORE_BUGGY.replace("todo_id", "eval('todo_id')"), {"api_functions": ["add(text)"]}
            )
        if module == "cli":
            return answer("main.py", "python", CLI, {})
        if module == "tests":
            return answer("tests/test_todo.py", "python", SWALLOWING_TESTS, {})
        return '{"scenarios": []}'  # the acceptance writer: nothing usable

    with MatrioskaOrchestrator(ScriptedChatModel(respond=respond), tmp_path, verify_timeout=60) as orchestrator:
        state = orchestrator.run("todo list", architecture=PY_PLAN)
    verification = state["verification"]
    assert verification["works"] is None and verification["verdict"] == "runs, not checked", verification
    assert verification["evidence"] == []
    assert "nothing shows the task's behaviour ran" in verification["reason"]
    pytest_check = next(c for c in verification["checks"] if c["kind"] == "pytest")
    assert pytest_check["ok"] is None and pytest_check["inconclusive"] is True
    assert "swallows every exception (try/except NameError" in pytest_check["output"]
    assert any("test_add (tests/test_todo.py) swallows every exception" in n for n in verification["notes"])
    entry = next(c for c in verification["checks"] if c["kind"] == "entry-point")
    assert entry["ok"] is True and "usage" in entry["output"]  # it runs; that is all it shows
    written = json.loads((tmp_path / "matrioska_checkpoints" / "verification.json").read_text())
    assert written["verdict"] == "runs, not checked" and written["works"] is None
    assert "**runs, not checked**" in state["final_result"]

    from io import StringIO

    from matrioska.cli.progress import _print_verdict, exit_status

    assert exit_status(verification) == 4
    printed = StringIO()
    _print_verdict(printed, verification)
    assert "verdict: RUNS, NOT CHECKED" in printed.getvalue() and "WORKS" not in printed.getvalue()


def test_the_evidence_rule_keeps_works_only_with_a_passing_scenario() -> None:
    from matrioska.checking.verdict import with_evidence

    checks = [{"kind": "pytest", "command": "pytest", "ok": True, "output": ""}]
    passed = {"name": "adds", "ok": True}
    assert with_evidence({"works": True, "checks": checks, "acceptance": [passed]})["verdict"] == "works"
    unchecked = with_evidence({"works": True, "checks": checks})
    assert unchecked["works"] is None and unchecked["verdict"] == "runs, not checked"
    inconclusive = with_evidence({"works": True, "checks": checks, "acceptance": [{"name": "x", "ok": None}]})
    assert inconclusive["works"] is None and "none of its 1 acceptance scenario(s) passed" in inconclusive["reason"]
    assert with_evidence({"works": False, "checks": checks, "acceptance": [passed]})["verdict"] == "does not work"
    assert with_evidence({"works": None, "checks": []})["verdict"] == "not verified"


def test_tests_that_cannot_fail_are_told_apart() -> None:
    from matrioska.kinds.python.strength import test_strength, weak_tests

    source = (
        "import pytest\n\n\ndef test_asserts():\n    assert f() == 1\n\n\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        f()\n\n\n"
        "def test_prints():\n    print(f())\n\n\n"
        "def test_eats():\n    try:\n        assert f() == 2\n    except Exception as exc:\n        print(exc)\n\n\n"
        "def test_recovers():\n    try:\n        x = f()\n    except ValueError:\n        x = None\n    assert x == 3\n\n\n"
        "class TestCase:\n    def test_method(self):\n        self.assertEqual(f(), 1)\n"
    )
    rows = {r["test"]: r for r in test_strength("tests/test_f.py", source)}
    assert {name for name, r in rows.items() if r["asserts"]} == {
        "test_asserts",
        "test_raises",
        "test_recovers",
        "TestCase.test_method",
    }
    assert weak_tests(list(rows.values())) == [
        "test_prints (tests/test_f.py) asserts nothing",
        "test_eats (tests/test_f.py) swallows every exception (try/except Exception, never re-raised)",
    ]
