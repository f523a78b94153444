"""The base every built-in kind extends; a plugin may extend it too, or be any object with the
same attributes (`name`, `description`, `matches`, `validate` required, the rest optional)."""

from __future__ import annotations

from typing import Any


class Kind:
    """One kind of module output. Subclasses set `name`, `description` and `suffixes` (or
    override `matches`), and override what they know more of."""

    name: str = ""
    description: str = ""
    suffixes: tuple[str, ...] = ()
    guide: str = ""
    """Guidance added to the prompt of a module of this kind."""

    def matches(self, path: str) -> bool:
        """Whether this file is one of this kind's."""
        return bool(self.suffixes) and path.lower().endswith(self.suffixes)

    def validate(self, path: str, text: str) -> list[str]:
        """The problems of one file (empty when valid). Nothing is executed."""
        return []

    def interface(self, path: str, text: str) -> dict[str, Any] | str | None:
        """What the file offers other modules (a dict of the built-in shapes, or a short text);
        None when the file does not parse."""
        return {"path": path, "kind": self.name}

    def generate(self, project_name: str, files: list[Any]) -> dict[str, str]:
        """Files the assembler adds for this kind (path -> text); paths a module wrote win."""
        return {}

    def commands(self, paths: list[str]) -> list[list[str]]:
        """Commands that run this kind's files (argv lists, run in the sandbox in a copy of the
        project, the project folder as the working directory); a non-zero exit is a failure of
        the module that owns the file the output points into."""
        return []
