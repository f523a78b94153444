"""Plan parsing, validation with repair, and module-reply parsing."""

from __future__ import annotations

import json

import pytest
from scripted import THREE_MODULE_PLAN

from matrioska.errors import PlanError
from matrioska.plan.parsing import (
    architecture_from_dict,
    execution_order,
    extract_json_object,
    parse_architecture,
    parse_module_reply,
    validate_architecture,
)
from matrioska.state import Architecture


def mod(
    mid: str, deps: list[str] | None = None, reads: list[str] | None = None, writes: list[str] | None = None
) -> dict:
    return {
        "id": mid,
        "name": mid.upper(),
        "dependencies": deps or [],
        "shared_state_reads": reads or [],
        "shared_state_writes": writes or [],
    }


def flat(*modules: dict) -> dict:
    return {"project_name": "P", "goal": "G", "modules": list(modules)}


def test_seed_shape_with_prose_and_fence_and_manuals() -> None:
    text = "Sure! Here is the architecture:\n```json\n" + json.dumps(THREE_MODULE_PLAN) + "\n```\nGood luck {with it}."
    plan, notes = parse_architecture(text)
    assert plan.project_name == "Library Management System"
    assert plan.goal.startswith("A library")
    assert [m.id for m in plan.modules] == ["html", "css", "auth"]
    assert plan.module("css").manual == "Style every element id."
    assert plan.integration_rules.startswith("index.html")
    assert any("fence" in n for n in notes)


def test_flat_shape_with_prose_around() -> None:
    text = "The plan: " + json.dumps(flat(mod("a", writes=["k"]), mod("b", ["a"], ["k"]))) + " -- end"
    plan, notes = parse_architecture(text)
    assert [m.id for m in plan.modules] == ["a", "b"]
    assert any("prose" in n for n in notes)


def test_broken_json_is_repaired_and_reported() -> None:
    text = "{'project_name': 'P', goal: 'G', // comment\n 'modules': [{'id': 'a', 'name': 'A',},],}"
    plan, notes = parse_architecture(text)
    assert plan.modules[0].id == "a"
    assert any("repaired" in n for n in notes)


def test_type_slips_are_coerced() -> None:
    plan, _ = architecture_from_dict(
        {
            "project_name": "P",
            "goal": ["line 1", "line 2"],
            "modules": [
                {"id": 7, "name": "N", "dependencies": "", "rules": ["r1", "r2"], "shared_state_writes": "a, b"}
            ],
        }
    )
    spec = plan.modules[0]
    assert plan.goal == "line 1\nline 2"
    assert spec.id == "7" and spec.rules == "r1\nr2" and spec.shared_state_writes == ["a", "b"]


def test_identical_duplicate_dropped_different_duplicate_is_an_error() -> None:
    plan, notes = architecture_from_dict(flat(mod("a"), mod("a")))
    assert len(plan.modules) == 1 and any("duplicate" in n for n in notes)
    with pytest.raises(PlanError, match="duplicate module id 'a'"):
        architecture_from_dict(flat(mod("a"), mod("a", writes=["x"])))


def test_dependency_repairs() -> None:
    plan, notes = architecture_from_dict(flat(mod("a"), mod("b", ["A", "ghost", "b"])))
    assert plan.module("b").dependencies == ["a"]
    joined = "\n".join(notes)
    assert "'A' read as module id 'a'" in joined
    assert "unknown module 'ghost' dropped" in joined
    assert "self-dependency dropped" in joined


def test_a_dependency_cycle_is_repaired_keeping_the_edge_that_points_back_in_the_list() -> None:
    plan, notes = architecture_from_dict(flat(mod("dashboard", ["book_list"]), mod("book_list", ["dashboard"])))
    assert plan.module("book_list").dependencies == ["dashboard"] and plan.module("dashboard").dependencies == []
    assert "module 'dashboard': dependency on 'book_list' dropped (closes a cycle)" in notes
    assert execution_order(plan) == ["dashboard", "book_list"]


def test_read_without_writer_is_dropped_and_missing_dependency_added() -> None:
    plan, notes = architecture_from_dict(
        flat(mod("a", writes=["element_ids"]), mod("b", reads=["element_ids", "nobody_writes", "elementIds"]))
    )
    b = plan.module("b")
    assert b.shared_state_reads == ["element_ids"]
    assert b.dependencies == ["a"]
    joined = "\n".join(notes)
    assert "'nobody_writes', which no module writes" in joined
    assert "added dependency on its writer 'a'" in joined
    assert "'elementIds' matched to written key 'element_ids'" in joined


def test_a_dependency_against_the_data_flow_is_dropped() -> None:
    plan, notes = architecture_from_dict(flat(mod("a", ["b"], writes=["x"]), mod("b", reads=["x"])))
    assert plan.module("a").dependencies == [] and plan.module("b").dependencies == ["a"]
    assert "module 'a': dependency on 'b' dropped (contradicts the data flow)" in notes


def test_a_true_data_cycle_is_named_or_broken_at_one_read() -> None:
    cyclic = flat(mod("a", writes=["x"], reads=["y"]), mod("b", writes=["y"], reads=["x"]))
    with pytest.raises(PlanError, match="data cycle: 'a' reads 'y' written by 'b'"):
        validate_architecture(Architecture.model_validate(cyclic), break_data_cycles=False)
    plan, notes = architecture_from_dict(cyclic)  # the default breaks it
    assert plan.module("a").shared_state_reads == [] and plan.module("b").shared_state_reads == ["x"]
    assert plan.module("b").dependencies == ["a"]
    assert "not available to you" in plan.module("a").rules and "'y'" in plan.module("a").rules
    assert any("broken: 'a' no longer reads 'y'" in n for n in notes)
    assert execution_order(plan) == ["a", "b"]


def test_files_are_sanitised_and_owned_by_one_module() -> None:
    a = {**mod("a"), "files": ["index.html", "/etc/passwd", "../up.js", "app.js"]}
    b = {**mod("b"), "files": "app.js, style.css"}
    plan, notes = architecture_from_dict(flat(a, b))
    assert plan.module("a").files == ["index.html", "etc/passwd", "up.js", "app.js"]
    assert plan.module("b").files == ["style.css"]
    assert "module 'b': file 'app.js' is owned by 'a'; dropped from 'b'" in notes
    assert any("'/etc/passwd' sanitised to 'etc/passwd'" in n for n in notes)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("I cannot help with that.", "no JSON object"),
        ('{"project_name": "P", "modules": []}', "no modules"),
        ('{"project_name": "P", "modules": ["html", "css"]}', "modules.0"),
    ],
)
def test_unusable_plans_raise_plan_error(text: str, match: str) -> None:
    with pytest.raises(PlanError, match=match):
        parse_architecture(text)


def test_execution_order_respects_dependencies_and_keeps_plan_order() -> None:
    plan, _ = architecture_from_dict(flat(mod("c", ["b"]), mod("a"), mod("b", ["a"]), mod("d")))
    assert execution_order(plan) == ["a", "d", "b", "c"]


def test_extract_prefers_the_fenced_object() -> None:
    obj, _ = extract_json_object('Use {braces} like this:\n```json\n{"a": 1}\n```')
    assert obj == {"a": 1}


def test_module_reply_with_marker_filters_undeclared_keys() -> None:
    reply = parse_module_reply('code here\nSHARED_STATE_UPDATE: {"x": 1, "rogue": 2}', ["x", "y"])
    assert reply.artifact == "code here"
    assert reply.update == {"x": 1}
    assert reply.dropped_keys == ["rogue"]
    assert reply.missing_keys == ["y"]


def test_module_reply_with_final_json_fence() -> None:
    reply = parse_module_reply('```js\nlet a = {b: 1};\n```\n```json\n{"x": [1]}\n```', ["x"])
    assert reply.update == {"x": [1]}
    assert "let a" in reply.artifact and '"x"' not in reply.artifact


def test_module_reply_without_update_keeps_everything_as_artifact() -> None:
    reply = parse_module_reply("just code", ["x"])
    assert reply.artifact == "just code" and reply.update == {} and reply.missing_keys == ["x"]
    assert reply.notes


def test_module_reply_with_unreadable_update_is_reported() -> None:
    reply = parse_module_reply("code\nSHARED_STATE_UPDATE: nothing useful", ["x"])
    assert reply.artifact == "code" and reply.update == {}
    assert any("unreadable" in n for n in reply.notes)


def test_a_marker_written_as_a_comment_inside_the_code_does_not_cut_the_code() -> None:
    """Qwen2.5-Coder-0.5B, greedy, on the ISBN task: the marker as the code's second comment line,
    the update as a final ```json block. Splitting at the marker kept 41 characters of code."""
    reply = (
        "```python\n# artifact: isbn_validator.py\n# SHARED_STATE_UPDATE: api_functions\n\n"
        "def validate_isbn(isbn):\n    return is_valid_isbn_10(isbn)\n\n\ndef is_valid_isbn_10(isbn):\n"
        "    return len(isbn) == 10\n```\n\n"
        '```json\n{\n  "api_functions": [\n    "validate_isbn",\n    "is_valid_isbn_10"\n  ]\n}\n```'
    )
    parsed = parse_module_reply(reply, ["api_functions"])
    assert "def is_valid_isbn_10(isbn):" in parsed.artifact and "api_functions" not in parsed.artifact.split("\n\n")[-1]
    assert parsed.update == {"api_functions": ["validate_isbn", "is_valid_isbn_10"]}
    assert parsed.missing_keys == []
    # the marker inside a json block, followed by the object, still is the update
    inside = 'code\n```json\nSHARED_STATE_UPDATE: {"api_functions": ["f"]}\n```'
    assert parse_module_reply(inside, ["api_functions"]).update == {"api_functions": ["f"]}
