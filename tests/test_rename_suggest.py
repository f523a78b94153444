"""The rename Python suggests (issue 41, item 6): an undefined name beside exactly one close unused
local in its function is renamed to it when Python's own NameError names it ("Did you mean:
'groups_info'?"), when difflib scores the two at least 0.7, or when the near-miss rule finds them
close; two close unused locals leave it alone, and `fix_python`'s notes say so."""

from __future__ import annotations

import difflib
import sys

import pytest

from matrioska.kinds.analyzers import analyze
from matrioska.kinds.nearmiss import choose
from matrioska.kinds.python.fixes import fix_python, python_suggestion


def fixed(files: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]]:
    """The files after `fix_python` over ruff's findings, each fix as `path:line description`, and
    the notes of what it left alone."""
    notes: list[str] = []
    new, fixes = fix_python(files, analyze(files).findings, {}, notes=notes)
    return new, [f.render() for f in fixes], notes


def errors(files: dict[str, str]) -> list[str]:
    return [f.render() for f in analyze(files).errors]


SUMMARY = "def summary(groups):\n    groups_info = {g: len(g) for g in groups}\n    return groups_items\n"


def test_python_suggests_the_local_that_neither_difflib_nor_the_near_miss_rule_finds() -> None:
    assert python_suggestion("groups_items", ["groups_info"]) == "groups_info"
    # the case of the issue: difflib scores it just under 0.7, the near-miss rule finds it too far
    assert difflib.SequenceMatcher(None, "groups_items", "groups_info").ratio() < 0.7
    assert choose("groups_items", ["groups_info"]).chosen is None


def test_python_suggests_nothing_for_a_far_name_or_a_name_that_is_no_identifier() -> None:
    assert python_suggestion("total", ["xyz"]) is None
    assert python_suggestion("total", []) is None
    assert python_suggestion("1 + 1", ["total"]) is None
    assert python_suggestion("total", ["not a name", "class"]) is None
    assert python_suggestion("len", ["lens"]) == "lens"  # the builtins are not among the candidates


def test_asking_python_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    stderr = sys.stderr
    python_suggestion("groups_items", ["groups_info"])
    assert sys.stderr is stderr  # given back
    assert capsys.readouterr() == ("", "")


def test_the_local_python_suggests_is_the_one_the_use_is_renamed_to() -> None:
    new, fixes, notes = fixed({"stats.py": SUMMARY})
    assert fixes == ["stats.py:3 renamed `groups_items` to the local `groups_info`"]
    assert new["stats.py"] == SUMMARY.replace("return groups_items", "return groups_info")
    assert notes == []
    assert errors(new) == []


def test_the_local_difflib_finds_close_enough_is_renamed_to() -> None:
    code = "def summary(groups):\n    groups_list = sorted(groups)\n    return groups_items\n"
    assert python_suggestion("groups_items", ["groups_list"]) is None
    assert difflib.get_close_matches("groups_items", ["groups_list"], n=1, cutoff=0.7) == ["groups_list"]
    new, fixes, notes = fixed({"stats.py": code})
    assert fixes == ["stats.py:3 renamed `groups_items` to the local `groups_list`"]
    assert "    return groups_list\n" in new["stats.py"] and notes == []


def test_two_close_unused_locals_leave_the_name_alone_and_the_notes_say_so() -> None:
    code = (
        "def summary(groups):\n    groups_info = {g: len(g) for g in groups}\n    groups_list = sorted(groups)\n"
        "    return groups_items\n"
    )
    files = {"stats.py": code}
    new, fixes, notes = fixed(files)
    assert fixes == [] and new == files
    assert notes == ["stats.py:4 groups_items left undefined: two close unused locals (groups_info, groups_list)"]


def test_a_far_unused_local_is_not_renamed_to() -> None:
    files = {"calc.py": "def f(x):\n    xyz = x * 2\n    return total\n"}
    new, fixes, notes = fixed(files)
    assert fixes == [] and new == files and notes == []
    assert errors(new) == ["calc.py:3 F821 Undefined name `total`"]


def test_a_close_local_assigned_after_the_use_is_not_renamed_to_and_the_notes_say_so() -> None:
    files = {"stats.py": "def summary(groups):\n    print(groups_items)\n    groups_info = len(groups)\n"}
    new, fixes, notes = fixed(files)
    assert fixes == [] and new == files
    assert notes == ["stats.py:2 groups_items left undefined: its close unused local groups_info is assigned after it"]


def test_a_local_equal_up_to_case_and_separators_comes_first() -> None:
    # `addBooks` is close by difflib too, but `add_book` is the same name written another way
    code = "def f(x):\n    add_book = x\n    addBooks = [x]\n    return addBook\n"
    new, fixes, notes = fixed({"a.py": code})
    assert fixes == ["a.py:4 renamed `addBook` to the local `add_book`"] and notes == []
    assert "    return add_book\n" in new["a.py"]


def test_the_notes_are_optional_and_the_fixes_the_same_without_them() -> None:
    files = {"stats.py": SUMMARY}
    notes: list[str] = []
    with_notes = fix_python(files, analyze(files).findings, {}, notes=notes)
    assert fix_python(files, analyze(files).findings, {}) == with_notes
