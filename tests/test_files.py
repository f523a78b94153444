"""Names and paths that come from the model never write outside base_path; the zip stays rooted."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from scripted import ScriptedChatModel, is_assembler, module_id_of

from matrioska import MatrioskaOrchestrator, OutputPathError
from matrioska.plan.shapes import ascii_identifier

HOSTILE_IDS = [
    "../../escape",
    "/etc/passwd",
    "C:\\Windows\\system32",
    "nul\x00byte",
    "x" * 400,
    "Módulo ünïcode",
    "..",
    ".hidden",
    "HTML",
    "html",
]


def echo_model() -> ScriptedChatModel:
    return ScriptedChatModel(
        respond=lambda m: "notes" if is_assembler(m) else f"artifact of {module_id_of(m)!r}\nSHARED_STATE_UPDATE: {{}}"
    )


def hostile_plan() -> dict:
    return {"project_name": "../../p", "goal": "g", "modules": [{"id": mid, "name": mid} for mid in HOSTILE_IDS]}


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_module_ids_stay_inside_the_artifacts_folder(tmp_path: Path) -> None:
    outside_before = _all_files(tmp_path)
    base = tmp_path / "out"
    with MatrioskaOrchestrator(echo_model(), base) as orchestrator:
        state = orchestrator.run("task", architecture=hostile_plan())
    # non-ASCII ids are written as ASCII identifiers ("Módulo ünïcode" -> "modulo_unicode")
    assert state["completed"] == [i if i.isascii() else ascii_identifier(i) for i in HOSTILE_IDS]
    new_files = _all_files(tmp_path) - outside_before
    assert all(base in p.parents for p in new_files), [p for p in new_files if base not in p.parents]
    artifacts = sorted((base / "matrioska_artifacts").iterdir())
    assert len(artifacts) == len(HOSTILE_IDS)  # distinct files, "HTML" and "html" included
    for path in artifacts:
        assert path.parent == base / "matrioska_artifacts"
        assert len(path.name) < 100 and "\x00" not in path.name and path.name.isascii()
    report = json.loads((base / "matrioska_checkpoints" / "run_report.json").read_text())
    assert len(report["files"]) == len(HOSTILE_IDS)
    assert any("'../../escape' sanitised" in note for note in report["file_notes"])
    assert not any("'html' sanitised" in note for note in report["file_notes"])


def test_symlinked_file_inside_output_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    base = tmp_path / "out"
    (base / "matrioska_artifacts").mkdir(parents=True)
    (base / "matrioska_checkpoints").mkdir(parents=True)
    os.symlink(victim, base / "matrioska_artifacts" / "01_a.md")
    os.symlink(victim, base / "matrioska_checkpoints" / "shared_state.json")
    plan = {"project_name": "p", "goal": "g", "modules": [{"id": "a"}]}
    with MatrioskaOrchestrator(echo_model(), base) as orchestrator:
        orchestrator.run("task", architecture=plan)
    assert victim.read_text() == "precious"
    assert not (base / "matrioska_artifacts" / "01_a.md").is_symlink()
    assert "artifact of 'a'" in (base / "matrioska_artifacts" / "01_a.md").read_text()


def test_symlinked_output_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base = tmp_path / "out"
    base.mkdir()
    os.symlink(elsewhere, base / "matrioska_artifacts")
    with pytest.raises(OutputPathError, match="symbolic link"):
        MatrioskaOrchestrator(echo_model(), base)
    assert list(elsewhere.iterdir()) == []


def test_zip_has_no_escaping_entries_and_skips_links(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    (tmp_path / "secret_dir").mkdir()
    (tmp_path / "secret_dir" / "inner.txt").write_text("nor this")
    base = tmp_path / "out"
    (base / "matrioska_artifacts").mkdir(parents=True)
    os.symlink(secret, base / "matrioska_artifacts" / "zz_link.md")
    os.symlink(tmp_path / "secret_dir", base / "matrioska_artifacts" / "linked_dir")
    with MatrioskaOrchestrator(echo_model(), base) as orchestrator:
        state = orchestrator.run("task", architecture=hostile_plan())
    with zipfile.ZipFile(state["results_zip"]) as archive:
        names = archive.namelist()
        contents = b"".join(archive.read(n) for n in names)
    assert names and all(not n.startswith("/") and ".." not in n.split("/") and "\\" not in n for n in names)
    assert all(n.split("/")[0] in ("matrioska_artifacts", "matrioska_checkpoints", "project") for n in names)
    assert b"do not ship" not in contents and b"nor this" not in contents
