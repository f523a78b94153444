"""The Python kind: `.py` files, checked by compiling them (nothing runs), their interface
(`source.py`), `requirements.txt` from their third-party imports, and the checks that run them
(imports, pytest, the entry point: `checks.py`)."""

from __future__ import annotations

from typing import Any

from ..base import CheckContext, Kind
from .checks import python_checks
from .source import python_interface, python_requirements


class PythonKind(Kind):
    name = "python"
    description = "Python modules (.py): a library, a command-line tool, a small server"
    suffixes = (".py",)
    guide = (
        "Python: importing a module must not run it (put the entry point under "
        '`if __name__ == "__main__":`); prefer the standard library.'
    )

    def validate(self, path: str, text: str) -> list[str]:
        try:
            compile(text, path, "exec", dont_inherit=True)  # parses (like py_compile); runs nothing
        except (SyntaxError, ValueError) as exc:
            return [f"Python syntax error line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)}"]
        return []

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return python_interface(path, text)

    def generate(self, project_name: str, files: list[Any]) -> dict[str, str]:
        requirements = python_requirements(files)
        return {"requirements.txt": "\n".join(requirements) + "\n"} if requirements else {}

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        """The project's requirements installed, its modules imported, its tests and entry points run."""
        python_checks(ctx)
