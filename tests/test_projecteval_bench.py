"""bench/projecteval.py on a fake ProjectEval folder written here, in the benchmark's format: one website
and one batch project, two test functions each. A scripted OpenAI-compatible server on loopback plays the
model for `matrioska run` and for the one answers call. The element id comes from the run's contract, the
URL from the served page, the entry point from the project, the expected output from the model; the tests
run (Selenium with Debian's chromium-driver; the program in the sandbox) and the table is printed."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from openai_server import ScriptedOpenAIServer
from scripted import NO_SCENARIOS, is_acceptance, is_architect, is_assembler, is_contract, module_id_of

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("projecteval_bench", ROOT / "bench" / "projecteval.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
sys.modules["projecteval_bench"] = bench
spec.loader.exec_module(bench)

WEBSITE_TESTS = [
    (
        "Greeting",
        "def test_greeting(driver, test_url, greeting_element_id):\r\n"
        "\tdriver.get(test_url)\r\n"
        "\telement = driver.find_element(By.ID, greeting_element_id)\r\n"
        "\tassert 'hello' in element.text.lower()",
        [
            {"name": "test_url", "description": "the url for test"},
            {"name": "greeting_element_id", "description": "the greeting's id"},
        ],
    ),
    (
        "Title",
        "def test_title(driver, test_url):\n    driver.get(test_url)\n    assert 'greeter' in driver.title.lower()",
        [{"name": "test_url", "description": "the url for test"}],
    ),
]
BATCH_TESTS = [
    (
        "Sum",
        "def test_sum(entry, expected_output):\r\n"
        "\tstdout, stderr = utils.run_entry(entry)\r\n"
        "\tassert utils.string_similarity(expected_output, stdout) > threshold, stdout",
        [
            {"name": "entry", "description": "the program file's name which need to be run"},
            {"name": "expected_output", "description": "what the program prints"},
        ],
    ),
    (
        "MissingFile",
        "def test_missing(entry):\n"
        "    utils.rename_file('2-numbers.txt', 'gone.txt')\n"
        "    stdout, stderr = utils.run_entry(entry)\n"
        "    utils.rename_file('gone.txt', '2-numbers.txt')\n"
        "    assert 'not found' in stdout.lower(), stdout",
        [{"name": "entry", "description": "the program file's name which need to be run"}],
    ),
]

UTILS = """import difflib, io, os, runpy
from contextlib import redirect_stderr, redirect_stdout
import config  # as the benchmark's utils: reads config.ini from the working folder


def run_entry(path):
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            runpy.run_path(path, run_name="__main__")
        return out.getvalue(), err.getvalue()
    except Exception as e:
        return str(e), str(e)


def rename_file(src, dst):
    os.rename(src, dst)


def string_similarity(a, b):
    return difflib.SequenceMatcher(None, a.strip(), b.strip()).ratio()
"""
CONFIG = """import configparser
configs = configparser.ConfigParser()
configs.read("config.ini")
THRESHOLD = float(configs["Default"]["STRING_SIMILARITY_THRESHOLD"])
"""

PAGE = (
    "index.html\n```html\n<!DOCTYPE html>\n<html>\n<head><title>Greeter</title></head>\n<body>\n"
    '<p id="greeting">Hello, visitor</p>\n</body>\n</html>\n```\n'
)
PROGRAM = (
    "main.py\n```python\nimport os\n\n\ndef total(text):\n    return sum(int(word) for word in text.split())\n\n\n"
    "def main():\n    if not os.path.exists('2-numbers.txt'):\n        print('Error: 2-numbers.txt not found')\n"
    "        return\n    with open('2-numbers.txt') as handle:\n        print(f'sum: {total(handle.read())}')\n\n\n"
    "if __name__ == '__main__':\n    main()\n```\n"
)


def fake_projecteval(folder: Path) -> Path:
    def entry(pid: str, kind: str, prompt: str, tests: list[Any]) -> dict[str, Any]:
        return {
            "project_id": pid,
            "project_type": kind,
            "nl_prompt": prompt,
            "framework_technical_stack": [
                {"language": "Python", "technical_stack": "Django" if kind == "website" else "Openpyxl"}
            ],
            "nl_checklist": [],
            "testcode": [
                {"page": "Main", "function": [{"function": f, "test": code, "parameter": ps} for f, code, ps in tests]}
            ],
            "skeleton": "",
        }

    (folder / "data" / "material").mkdir(parents=True)
    (folder / "docs").mkdir()
    projects = [
        entry("1", "website", "Create a web page for a greeter.", WEBSITE_TESTS),
        entry("2", "batch", "Create a batch program that prints the sum of the numbers in 2-numbers.txt.", BATCH_TESTS),
    ]
    (folder / "data" / "project_eval_project.json").write_text(json.dumps(projects))
    (folder / "data" / "material" / "2-numbers.txt").write_text("2 3\n")
    (folder / "utils.py").write_text(UTILS)
    (folder / "config.py").write_text(CONFIG)
    (folder / "config.ini").write_text("[Default]\nSTRING_SIMILARITY_THRESHOLD = 0.65\nTIMEOUT_LIMIT = 3\n")
    (folder / "docs" / "execution.csv").write_text(
        "Model,Report By,Report Date,Output Format,Cascade-Level1,Cascade-Level2,Cascade-Avg,Direct-Level1,"
        "Direct-Level2,Direct-Level3,Direct-Avg,All-Avg\n"
        "GPT-4o,ProjectEval,2025/2/15,JSON,0.2,0.1,0.15,0.1606,0.1,0.1,0.12,0.1249\n"
        "Mistral-7B-v0.3,ProjectEval,2025/2/15,JSON,0,0,0,0.0092,0.01,0.01,0.01,0.01\n"
    )
    return folder


def respond(messages: list[BaseMessage]) -> str:
    system, first = str(messages[0].content), str(messages[1].content) if len(messages) > 1 else ""
    website = "greeter" in first.lower() or "web page" in first.lower()
    if system.startswith("You answer the parameters of tests"):
        asked = json.loads(first.split("THE PARAMETERS\n", 1)[1])
        return json.dumps(
            {"answers": [{**{k: a[k] for k in ("page", "function", "name")}, "answer": "sum: 5"} for a in asked]}
        )
    if is_architect(messages):
        module = {"id": "page", "name": "Page", "files": ["index.html"], "description": "the greeting page"}
        if "batch program" in first:
            module = {"id": "app", "name": "Program", "files": ["main.py"], "description": "prints the sum"}
        return json.dumps({"project_name": "Greeter" if website else "Summer", "goal": "the task", "modules": [module]})
    if is_contract(messages):
        if "(id: page)" in first or '"page"' in first or "index.html" in first:
            return json.dumps({"elements": [{"id": "greeting", "role": "output", "label": "Greeting"}]})
        return "{}"
    if is_acceptance(messages):
        return NO_SCENARIOS
    if is_assembler(messages):
        return "Open index.html." if website else "Run python main.py."
    module = module_id_of(messages)
    if module == "page":
        return PAGE + "SHARED_STATE_UPDATE {}"
    if module == "app":
        return PROGRAM + "SHARED_STATE_UPDATE {}"
    return "{}"


@pytest.mark.skipif(
    shutil.which("chromium") is None or bench.chromedriver() is None or shutil.which("bwrap") is None,
    reason="needs chromium, chromium-driver and bubblewrap",
)
def test_a_fake_projecteval_runs_through_the_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("selenium")
    folder = fake_projecteval(tmp_path / "ProjectEval")
    with ScriptedOpenAIServer(respond) as server:
        code = bench.main(
            [
                "--projecteval",
                str(folder),
                "--model",
                "openai:scripted",
                "--base-url",
                server.base_url,
                "--out",
                str(tmp_path / "runs"),
                "--json",
                str(tmp_path / "pe.json"),
                "--matrioska-args",
                "--no-functions --no-verify --repairs 0 --fix-rounds 0",
            ]
        )
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = {row["project"]: row for row in json.loads((tmp_path / "pe.json").read_text())["projects"]}
    assert (rows["1"]["passed"], rows["1"]["tests"]) == (2, 2), rows["1"]
    assert rows["1"]["answers"] == {"contract": 1, "served": 2}  # the id from the contract, the URL served
    assert (rows["2"]["passed"], rows["2"]["tests"]) == (2, 2), rows["2"]
    assert rows["2"]["answers"] == {"model": 1, "project": 2}  # main.py found; the expected text asked
    assert "overall: 4/4 tests passed = 100.00%" in printed and "6/6 = 100.00%" in printed
    assert "Mistral-7B-v0.3" in printed and "0.92%" in printed and "Pass@1" in printed


def test_a_broken_project_fails_its_tests_and_says_why(tmp_path: Path) -> None:
    """The same tests over a program that prints the wrong text: they fail, with the assertion."""
    folder = fake_projecteval(tmp_path / "ProjectEval")
    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    built = bench.Build(tmp_path / "run", 0, 0.0)
    (built.project).mkdir(parents=True)
    (built.project / "main.py").write_text("print('nothing here')\n")
    [project] = bench.load_projects(folder, ["2"])
    args = bench.argparse.Namespace(test_timeout=10.0, sandbox="auto")
    kwargs = [{"entry": "main.py", "expected_output": "sum: 5"}, {"entry": "main.py"}]
    results = bench.run_tests(project, built, kwargs, folder, args)
    assert [r["ok"] for r in results] == [False, False]
    assert "nothing here" in results[0]["why"] and "assertion failed" in results[1]["why"]


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--projecteval", "{missing}"], "is not a folder"),
        (["--projecteval", "{empty}"], "has no data/project_eval_project.json"),
        (["--projecteval", "{fake}", "--projects", "7"], "no project 7"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    (tmp_path / "empty").mkdir()
    fake_projecteval(tmp_path / "fake")
    paths = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty", "fake": tmp_path / "fake"}
    argv = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    code = bench.main([*argv, "--model", "openai:scripted", "--base-url", "http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err


def test_the_console_protocol_reads_up_to_the_prompt(tmp_path: Path) -> None:
    """The judge's console manager as the runner has it: the program started once, its output read
    back up to a `>>>` prompt, each command typed in and its answer read the same way."""
    runner_spec = importlib.util.spec_from_file_location("projecteval_runner", ROOT / "bench" / "projecteval_runner.py")
    assert runner_spec is not None and runner_spec.loader is not None
    runner = importlib.util.module_from_spec(runner_spec)
    runner_spec.loader.exec_module(runner)
    (tmp_path / "game.py").write_text(
        "print('Welcome to the cave')\n"
        "while True:\n"
        "    print('>>> ', flush=True)\n"
        "    line = input()\n"
        "    print('help: look, go' if line == 'help' else f'unknown command {line}')\n"
    )
    console = runner.Console(tmp_path, "game.py")
    try:
        assert "Welcome to the cave" in "".join(console.read_output())
        assert "help: look, go" in console.send_command("help")
        assert "unknown command abc" in console.send_command("abc")
    finally:
        console.stop()
