"""Reading a Python test file for strength: which of its tests can fail at all (an `assert`, a
`raise`, a failing call such as `pytest.raises`), and which swallow the exception they should
report. The verify step's pytest check uses it to call a pass that proves nothing inconclusive."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

# calls that make a test able to fail: pytest.raises / fail / warns, self.assert*, mock's assert_*
_FAILING_CALL = re.compile(r"^(raises|fail|warns|deprecated_call|assert\w*)$")


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _can_fail(nodes: Iterable[ast.AST]) -> bool:
    """Whether these statements hold an `assert`, a `raise` or a failing call (see `_FAILING_CALL`)."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Assert, ast.Raise)):
                return True
            if isinstance(sub, ast.Call) and _FAILING_CALL.match(_call_name(sub)):
                return True
    return False


def _caught(handler: ast.ExceptHandler) -> str:
    return ast.unparse(handler.type) if handler.type is not None else "everything"


def _judge_test(body: list[ast.stmt]) -> tuple[bool, list[str]]:
    """(whether the test can fail, the exceptions it swallows): an `assert` inside a `try` whose
    handler neither re-raises nor fails does not count (the exception it should report is eaten)."""
    swallowed: list[str] = []
    counted: list[ast.stmt] = []

    def visit(statements: list[ast.stmt]) -> None:
        for stmt in statements:
            if isinstance(stmt, ast.Try | ast.TryStar):
                eaters = [h for h in stmt.handlers if not _can_fail(h.body)]
                if eaters:
                    swallowed.extend(_caught(h) for h in eaters)
                else:
                    visit(stmt.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
                for handler in stmt.handlers:
                    visit(handler.body)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                if any(
                    isinstance(i.context_expr, ast.Call) and _FAILING_CALL.match(_call_name(i.context_expr))
                    for i in stmt.items
                ):
                    counted.append(stmt)
                visit(stmt.body)
            elif isinstance(stmt, ast.If | ast.For | ast.AsyncFor | ast.While):
                counted.append(ast.Expr(stmt.test) if isinstance(stmt, ast.If | ast.While) else ast.Expr(stmt.iter))
                visit(stmt.body)
                visit(stmt.orelse)
            else:
                counted.append(stmt)

    visit(body)
    return _can_fail(counted), swallowed


def test_strength(path: str, text: str) -> list[dict[str, Any]]:
    """Each test function pytest would collect from a test file (`test_*` at the top level or in a
    `Test*` class): `{"test", "file", "asserts", "swallows"}`. `asserts` is False for a test that
    cannot fail: no `assert`, `pytest.raises`, `self.assert*` or `raise` outside a `try` that eats
    the exception; `swallows` names what such a `try` catches. A file that does not parse gives []
    (pytest reports it)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    found: list[dict[str, Any]] = []

    def add(node: ast.stmt, prefix: str = "") -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            asserts, swallows = _judge_test(node.body)
            found.append({"test": prefix + node.name, "file": path, "asserts": asserts, "swallows": swallows})

    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for inner in node.body:
                add(inner, node.name + ".")
        else:
            add(node)
    return found


def weak_tests(rows: list[dict[str, Any]]) -> list[str]:
    """One phrase per test that cannot fail ("test_x (tests/test_a.py) asserts nothing")."""
    out = []
    for row in rows:
        if row["asserts"]:
            continue
        if row["swallows"]:
            caught = ", ".join(dict.fromkeys(row["swallows"]))
            out.append(f"{row['test']} ({row['file']}) swallows every exception (try/except {caught}, never re-raised)")
        else:
            out.append(f"{row['test']} ({row['file']}) asserts nothing")
    return out
