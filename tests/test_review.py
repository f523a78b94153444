"""Plan review (human in the loop): approve, edit (valid and invalid), re-plan with a comment."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from scripted import THREE_MODULE_PLAN, ScriptedChatModel, default_responder, is_architect

from matrioska import MatrioskaError, MatrioskaOrchestrator

TASK = "Create a library management system"


def orchestrator(tmp_path: Path, model: ScriptedChatModel) -> MatrioskaOrchestrator:
    return MatrioskaOrchestrator(model, tmp_path, interrupt_after_architect=True)


def test_run_stops_after_the_plan_and_approve_continues(tmp_path: Path) -> None:
    model = ScriptedChatModel(respond=default_responder())
    with orchestrator(tmp_path, model) as o:
        waiting = o.run(TASK, thread_id="r")
        assert waiting["pending_review"]["kind"] == "plan_review"
        assert [m["id"] for m in waiting["pending_review"]["plan"]["modules"]] == ["html", "css", "auth"]
        assert len(model.calls) == 1 and not waiting.get("completed")
        assert o.run(TASK, thread_id="r")["pending_review"]  # still waiting, nothing re-planned
        assert len(model.calls) == 1
        done = o.review("r", "approve")
    assert done["completed"] == ["html", "css", "auth"] and done["review"]["status"] == "approved"
    with pytest.raises(MatrioskaError, match="not waiting for a plan review"):
        with orchestrator(tmp_path, model) as o:
            o.review("r", "approve")


def test_an_edited_plan_is_validated_and_used(tmp_path: Path) -> None:
    model = ScriptedChatModel(respond=default_responder())
    with orchestrator(tmp_path, model) as o:
        o.run(TASK, thread_id="e")
        bad = copy.deepcopy(THREE_MODULE_PLAN["general_manual"])
        bad["modules"][1]["id"] = "html"  # two different modules with one id: no repair possible
        rejected = o.review("e", "edit", plan=json.dumps(bad))
        error = rejected["pending_review"]["error"]
        assert "edited plan rejected" in error and "duplicate module id 'html'" in error
        edited = copy.deepcopy(THREE_MODULE_PLAN["general_manual"])
        edited["modules"] = edited["modules"][:2]  # drop the auth module
        done = o.review("e", "edit", plan=edited)
    assert done["completed"] == ["html", "css"] and done["review"]["status"] == "edited"
    assert "plan edited at review" in done["plan_report"]
    assert len([c for c in model.calls if is_architect(c)]) == 1


def test_replan_sends_the_comment_to_the_architect(tmp_path: Path) -> None:
    model = ScriptedChatModel(respond=default_responder())
    with orchestrator(tmp_path, model) as o:
        o.run(TASK, thread_id="p")
        again = o.review("p", "replan", comment="add a reports module")
        assert again["pending_review"]["plan"]["modules"]
        architect_calls = [c for c in model.calls if is_architect(c)]
        assert len(architect_calls) == 2 and "add a reports module" in str(architect_calls[1][1].content)
        done = o.review("p", "approve")
    assert done["completed"] == ["html", "css", "auth"]


def test_cli_review_approves_from_the_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from matrioska import cli

    monkeypatch.setattr(
        "matrioska.cli.commands.load_model", lambda args: (ScriptedChatModel(respond=default_responder()), {})
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n"))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["run", TASK, "--out", str(tmp_path), "--review"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "PLAN REVIEW" in out.getvalue() and "FINAL RESULT" in out.getvalue()


def test_cli_review_edits_the_plan_in_the_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from matrioska import cli

    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys\n"
        "path = sys.argv[1]\n"
        "plan = json.load(open(path))\n"
        "plan['modules'] = [m for m in plan['modules'] if m['id'] != 'auth']\n"
        "json.dump(plan, open(path, 'w'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.setattr(
        "matrioska.cli.commands.load_model", lambda args: (ScriptedChatModel(respond=default_responder()), {})
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("e\n"))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["run", TASK, "--out", str(tmp_path / "out"), "--review"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    report = json.loads((tmp_path / "out" / "matrioska_checkpoints" / "run_report.json").read_text())
    assert report["completed"] == ["html", "css"] and "plan edited at review" in report["plan_report"]
