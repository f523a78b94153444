"""Nothing installed on a guess: a generated project's requirement is installed only when it is
declared, is not one of the project's own names, and is well known or allowed by the user."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator
from matrioska.checking.sandbox import resolve_sandbox
from matrioska.checking.verify import verify_project
from matrioska.cli.parser import build_parser
from matrioska.generation.project import ProjectFile
from matrioska.kinds.python import installs as installs_module
from matrioska.kinds.python.installs import (
    allowed_names,
    distribution_for_import,
    install_decision,
    is_known,
    known_distributions,
    normalize,
    own_names,
    parse_requirement,
)
from matrioska.kinds.python.source import python_requirements as _python_requirements
from matrioska.plan.parsing import UPDATE_MARKER

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


# -- the rule ----------------------------------------------------------------------------------


def test_names_are_compared_normalised() -> None:
    assert normalize("Foo_Bar.baz") == "foo-bar-baz" and normalize("python__dateutil") == "python-dateutil"
    assert allowed_names("Foo_Bar, baz ,") == {"foo-bar", "baz"}
    assert allowed_names(["a,b", "C"]) == {"a", "b", "c"}
    assert allowed_names(None) == frozenset()


def test_the_shipped_list_holds_the_well_known_distributions_and_not_the_invented_names() -> None:
    known = known_distributions()
    assert len(known) > 3000
    for name in ("requests", "numpy", "pandas", "flask", "django", "pytest", "beautifulsoup4", "pyyaml", "pillow"):
        assert name in known, name
    assert all(name == normalize(name) for name in known)
    # the names of the data-report run: registered on the package index, known to nobody
    assert not is_known("report") and not is_known("transform") and "matrioska" not in known
    assert is_known("Scikit_Learn") and is_known("python-dateutil")


def test_a_known_distribution_is_installed_unless_it_is_the_projects_own_name() -> None:
    own = own_names(["app/report_builder.py", "src/shop/cart.py", "tests/test_cart.py"], ["report", "assembler"])
    assert install_decision("requests>=2", own_names=own, allowed=[]) == (
        True,
        "'requests' is a well-known distribution",
    )
    ok, reason = install_decision("report", own_names=own, allowed=["report"])  # allowing does not help
    assert not ok and reason.startswith("'report' is the name of the project's own module 'report'; not installed")
    for name in ("report-builder", "Report_Builder", "cart", "shop", "app", "test-cart"):
        assert not install_decision(name, own_names=own, allowed=[])[0], name
    assert "assembler" not in own and "src" not in own and "tests" in own
    # a plain list of names works too
    assert not install_decision("rich", own_names=["rich"], allowed=[])[0]


def test_an_unknown_name_is_installed_only_when_the_user_allows_it() -> None:
    ok, reason = install_decision("foo_bar==1.0", own_names={}, allowed=[])
    assert not ok
    assert reason == (
        "'foo_bar' is not a well-known distribution; not installed "
        "(allow it with --allow-install foo-bar, or use the standard library)"
    )
    assert install_decision("foo_bar==1.0", own_names={}, allowed=["Foo-Bar"]) == (
        True,
        "'foo_bar' is allowed by the user",
    )


def test_a_url_or_a_path_is_never_installed() -> None:
    for line in ("requests @ https://example.invalid/r.whl", "git+https://example.invalid/x.git", "./local", "/x/y"):
        ok, reason = install_decision(line, own_names={}, allowed=["requests", "local"])
        assert not ok and "not installed" in reason, line
    assert parse_requirement("Flask[async]>=3; python_version > '3'") == ("Flask", None)
    assert parse_requirement("flask (>=3)") == ("flask", None)
    assert parse_requirement("flask 3")[1] is not None


def test_import_names_map_to_their_distributions() -> None:
    assert distribution_for_import("yaml") == "pyyaml"
    assert distribution_for_import("bs4.element") == "beautifulsoup4"
    assert distribution_for_import("google.cloud.storage.blob") == "google-cloud-storage"
    assert distribution_for_import("requests.adapters") == "requests"


# -- the assembler's requirements.txt ---------------------------------------------------------


def test_the_generated_requirements_list_only_well_known_distributions_never_the_projects_own() -> None:
    files = [
        ProjectFile(
            "report_builder.py",
            "import yaml\nimport bs4\nimport requests\nfrom report import render\nfrom transform import clean\n"
            "import foo_bar\nimport json\nfrom cleaning import tidy\n",
            "report",
        ),
        ProjectFile("cleaning.py", "def tidy(rows):\n    return rows\n", "transform"),
        ProjectFile("pkg/__init__.py", "", "core"),
        ProjectFile("main.py", "import pkg.tools\n", "cli"),
    ]
    lines = _python_requirements(files)
    assert lines[:3] == ["beautifulsoup4", "pyyaml", "requests"]
    assert len(lines) == 4 and lines[3].startswith("# not listed: foo_bar (imported by report_builder.py;")
    assert "--allow-install foo-bar" in lines[3]
    text = "\n".join(lines)
    for own in ("report", "transform", "cleaning", "pkg"):
        assert f"\n{own}" not in "\n" + text, own


# -- verification ------------------------------------------------------------------------------


def _wheel(folder: Path, name: str, code: str = "VALUE = 42\n", version: str = "1.0") -> Path:
    """A pure-Python wheel of `name` in `folder` (the tests' package index: pip --find-links)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": code,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in members.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in members.items():
            archive.writestr(path, text)
    return wheel


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A local package index holding `report` and `foo-bar`; every pip call is recorded."""
    folder = tmp_path / "index"
    _wheel(folder, "report", "raise SystemExit('the squatted report package ran')\n")
    _wheel(folder, "foo-bar")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: pip looks only in the folder
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    asked: list[str] = []
    real = installs_module.pip_install

    def spy(requirement: str, target: Path, timeout: float) -> str | None:
        asked.append(requirement)
        return real(requirement, target, timeout)

    monkeypatch.setattr(installs_module, "pip_install", spy)
    return {"folder": folder, "asked": asked, "before": _snapshot(folder), "deps": tmp_path / "pyenv"}


def _sandbox() -> Any:
    sandbox, _ = resolve_sandbox("bwrap", timeout=60)
    assert sandbox is not None
    return sandbox


@needs_bwrap
def test_a_requirement_named_like_a_module_id_is_never_installed(index: dict[str, Any]) -> None:
    files = {
        "summary.py": "def render(rows):\n    return len(rows)\n",
        "main.py": "from summary import render\n\nprint(render([1, 2]))\n",
        "requirements.txt": "report\ntransform>=1\n",
    }
    owners = {"summary.py": "report", "main.py": "cli", "requirements.txt": "cli"}
    result = verify_project(
        files, owners, _sandbox(), deps_root=index["deps"], allow_install="transform", module_ids=["transform"]
    )
    assert index["asked"] == []  # pip was never asked for either
    assert _snapshot(index["folder"]) == index["before"]  # the index folder is untouched
    assert not index["deps"].exists() or not any(index["deps"].iterdir())
    assert result["works"] is False
    refused = [c for c in result["checks"] if c["kind"] == "python-deps"]
    assert [c["ok"] for c in refused] == [False, False]
    assert "'report' is the name of the project's own module 'report'; not installed" in refused[0]["output"]
    assert "'transform' is the name of the project's own module 'transform'" in refused[1]["output"]
    assert refused[0]["command"] == "install report (requirements.txt)" and refused[0]["modules"] == ["cli"]
    assert {f["module"] for f in result["failures"]} == {"cli"}
    assert all(c["ok"] for c in result["checks"] if c["kind"] != "python-deps")  # the rest runs and passes


@needs_bwrap
def test_an_unknown_requirement_is_refused_unless_allowed_then_installed_from_the_index(
    index: dict[str, Any],
) -> None:
    files = {"app.py": "import foo_bar\n\nassert foo_bar.VALUE == 42\n", "pyproject.toml": _PYPROJECT}
    owners = {"app.py": "core", "pyproject.toml": "packaging"}
    result = verify_project(files, owners, _sandbox(), deps_root=index["deps"])
    assert index["asked"] == [] and result["works"] is False
    checks = _run_checks(result)  # the analyzers' row (reading, not running) comes first
    check = checks[0]
    assert check["kind"] == "python-deps" and check["ok"] is False and check["modules"] == ["packaging"]
    expected = "'foo-bar' is not a well-known distribution; not installed (allow it with --allow-install foo-bar"
    assert expected in check["output"]
    assert "pyproject.toml" in check["command"]
    imports = checks[1]  # the import then fails where it is used
    assert imports["kind"] == "python-import" and imports["ok"] is False and imports["modules"] == ["core"]

    result = verify_project(files, owners, _sandbox(), deps_root=index["deps"], allow_install=["Foo_Bar"])
    assert index["asked"] == ["foo-bar==1.0"]
    assert result["works"] is True, result
    assert [c["kind"] for c in _run_checks(result) if c["ok"]][:2] == ["python-deps", "python-import"]
    assert _snapshot(index["folder"]) == index["before"]


def _run_checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks that ran the project, in order (without the analyzers' row)."""
    return [c for c in result["checks"] if c["kind"] != "analyzers"]


_PYPROJECT = """[project]
name = "demo"
version = "0.1"
dependencies = ["foo-bar==1.0"]
"""


@needs_bwrap
def test_an_import_the_assembler_did_not_list_goes_to_the_module_importing_it(index: dict[str, Any]) -> None:
    code = "import foo_bar\n\nprint(foo_bar.VALUE)\n"
    listed = _python_requirements([ProjectFile("app.py", code, "core")])
    files = {"app.py": code, "requirements.txt": "\n".join(listed) + "\n"}
    owners = {"app.py": "core", "requirements.txt": "assembler"}
    result = verify_project(files, owners, _sandbox(), deps_root=index["deps"])
    assert index["asked"] == [] and result["works"] is False
    check = _run_checks(result)[0]
    assert check["ok"] is False and check["modules"] == ["core"] and "'foo_bar' is not a well-known" in check["output"]
    result = verify_project(files, owners, _sandbox(), deps_root=index["deps"], allow_install="foo-bar")
    assert index["asked"] == ["foo_bar"] and result["works"] is True, result


# -- settings ----------------------------------------------------------------------------------


def test_the_cli_flag_takes_names_comma_separated_and_repeated() -> None:
    args = build_parser().parse_args(["run", "task", "--out", "x", "--allow-install", "a,b", "--allow-install", "c"])
    assert ",".join(args.allow_install) == "a,b,c"
    assert build_parser().parse_args(["resume", "--out", "x", "--thread", "t"]).allow_install == []


PLAN = {
    "project_name": "Data report",
    "goal": "A data report",
    "modules": [
        {"id": "report", "name": "Report", "shared_state_writes": ["report_api"]},
        {"id": "cli", "name": "Entry point", "dependencies": ["report"], "shared_state_reads": ["report_api"]},
    ],
}


@needs_bwrap
def test_a_run_never_installs_its_own_module_id_and_installs_what_the_user_allowed(
    tmp_path: Path, index: dict[str, Any]
) -> None:
    def respond(messages: list[BaseMessage]) -> str:
        if is_assembler(messages):
            return "Run python main.py."
        if module_id_of(messages) == "report":
            body = "def render(rows):\n    return len(rows)\n"
            return f"summary.py\n```python\n{body}```\n{UPDATE_MARKER} {json.dumps({'report_api': ['render(rows)']})}"
        main = "import foo_bar\nfrom summary import render\n\nprint(render([1, 2]), foo_bar.VALUE)\n"
        return f"main.py\n```python\n{main}```\n\nrequirements.txt\n```text\nreport\nfoo-bar\n```\n"

    model = ScriptedChatModel(respond=respond)
    with MatrioskaOrchestrator(
        model, tmp_path / "out", fix_rounds=0, verify_timeout=60, allow_install="report, foo-bar"
    ) as orchestrator:
        state = orchestrator.run("a data report", architecture=PLAN)
    verification = state["verification"]
    assert index["asked"] == ["foo-bar"]  # allowed and unknown: installed; 'report' never asked for
    assert _snapshot(index["folder"]) == index["before"]
    assert verification["works"] is False
    refused = [c for c in verification["checks"] if c["kind"] == "python-deps" and c["ok"] is False]
    assert len(refused) == 1 and "'report' is the name of the project's own module 'report'" in refused[0]["output"]
    assert refused[0]["modules"] == ["cli"]
    assert "install report (requirements.txt)" in state["final_result"]
    written = json.loads((tmp_path / "out" / "matrioska_checkpoints" / "verification.json").read_text())
    assert written["works"] is False
