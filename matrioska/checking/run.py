"""One verification's running: a fresh copy of the project per check, commands run in the
`Sandbox`, checks and failures recorded, and who owns each failure.

Every failure is attributed to the module that owns the file it points into (the innermost frame
of a traceback inside the project, the script a browser error comes from), so the graph can send
the evidence back to exactly that module.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..kinds.base import Check, Failure
from .sandbox import CommandResult, Sandbox

__all__ = ["ProjectRun", "attribute", "headline", "trim", "OUTPUT_LIMIT", "EVIDENCE_LIMIT"]

OUTPUT_LIMIT = 4000  # characters of a check's output kept in the verdict
EVIDENCE_LIMIT = 3000  # characters of a failure's evidence kept for its module
_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line \d+|^(?P<short>[\w./\\-]+\.py):\d+:', re.M)
_JS_FRAME = re.compile(r"(?:https?://127\.0\.0\.1:\d+/|file://)?(?P<path>[\w./-]+\.(?:m?js|cjs|html?)):\d+(?::\d+)?")
_PYTEST_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$", re.M)


def attribute(text: str, owners: dict[str, str], root: str, default: str | None = None) -> str | None:
    """The module owning the innermost frame of `text` that points into the project.

    Python tracebacks list the innermost frame last; JavaScript stacks list it first (a test
    runner's `location:` line, which names the test, counts only when nothing else does).
    """
    prefix = root.rstrip("/") + "/"

    def project_path(raw: str) -> str | None:
        raw = raw.replace("\\", "/")
        raw = raw[len(prefix) :] if raw.startswith(prefix) else raw
        raw = raw.removeprefix("./")
        return raw if raw in owners else None

    python = [p for m in _PY_FRAME.finditer(text) if (p := project_path(m.group("path") or m.group("short") or ""))]
    if python:
        return owners[python[-1]]
    located: list[str] = []
    stack: list[str] = []
    for line in text.splitlines():
        for match in _JS_FRAME.finditer(line):
            path = project_path(match.group("path"))
            if path:
                (located if line.strip().startswith("location:") else stack).append(path)
    found = stack or located
    return owners[found[0]] if found else default


_HEADLINES = (r"^E\s+\S", r"^\w*(Error|Exception)\b", r"^\[(killed|stopped)", r"^FAILED ", r"(?i)\b(error|failed)\b")


def headline(output: str) -> str:
    """The one line of a check's output that says most about why it failed."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for pattern in _HEADLINES:
        found = [line for line in lines if re.search(pattern, line)]
        if found:
            return found[-1][:300]
    return lines[-1][:300] if lines else "failed (no output)"


def trim(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """`text` within `limit` characters: its head and its (longer) tail, the middle left out."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-(limit - head) :]}"


def _split_sections(output: str) -> list[str]:
    """pytest's output, one piece per failing test or collection error (or the whole of it)."""
    starts = [m.start() for m in _PYTEST_SECTION.finditer(output)]
    if not starts:
        return [output]
    pieces = [output[a:b] for a, b in zip(starts, [*starts[1:], len(output)], strict=True)]
    return [
        piece for piece in pieces if not piece.lstrip("_ ").startswith(("warnings summary", "short test summary"))
    ] or [output]


class ProjectRun:
    """One verification: a fresh copy of the project per check, events, results. It is the
    `CheckContext` the kinds' checks are given (`matrioska.kinds.base`)."""

    def __init__(
        self,
        files: dict[str, str],
        owners: dict[str, str],
        sandbox: Sandbox,
        deps_root: Path,
        emit: Callable[..., None],
    ) -> None:
        self.files, self.owners, self.sandbox, self.deps_root = files, owners, sandbox, deps_root
        self._emit = emit
        self.scratch = Path(tempfile.mkdtemp(prefix="matrioska-verify-"))
        os.chmod(self.scratch, 0o755)
        self.checks: list[Check] = []
        self.failures: list[Failure] = []
        self.notes: list[str] = []
        self.env: dict[str, str] = {}
        self.readable: list[str] = []
        # what may be installed besides the well-known distributions, and the plan's module ids
        self.allow_install: list[str] = []
        self.module_ids: list[str] = []
        # the paths whose checks run (one module's files: `module_check`); None: every file's
        self.only: set[str] | None = None
        # the acceptance scenarios a kind's `run_scenarios` is running
        self.scenarios: list[dict[str, Any]] = []

    @property
    def root(self) -> Path:
        return self.scratch / "project"

    @property
    def timeout(self) -> float:
        return self.sandbox.timeout

    def fresh_copy(self) -> Path:
        """The project written anew (a check never sees what an earlier one left behind)."""
        root = self.root
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        for relative, text in self.files.items():
            target = (root / relative).resolve()
            if not target.is_relative_to(root.resolve()):
                continue  # paths are sanitised already; stay safe anyway
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return root

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def emit(self, event: str, **data: Any) -> None:
        self._emit(event, **data)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def record(self, kind: str, command: str, ok: bool | None, output: str, seconds: float, **extra: Any) -> Check:
        check = Check(kind, command, ok, trim(output), round(seconds, 2), extra)
        self.checks.append(check)
        announced = {k: v for k, v in check.to_dict().items() if k != "output"}
        self.emit("check_finished", **announced, output=check.output[-600:])
        return check

    def run(self, kind: str, argv: list[str], display: str, *, timeout: float | None = None) -> CommandResult:
        self.emit("check_started", kind=kind, command=display)
        root = self.fresh_copy()
        return self.sandbox.run(argv, root, env=self.env, readable=self.readable, timeout=timeout, display=display)

    def failure(self, module: str, kind: str, command: str, evidence: str) -> None:
        self.failures.append(
            Failure(module=module, kind=kind, command=command, evidence=trim(evidence, EVIDENCE_LIMIT))
        )

    def fail(self, kind: str, command: str, text: str, default: str | None) -> list[str]:
        """Attribute a failure's text (per pytest section when there are several)."""
        sections = _split_sections(text) if kind == "pytest" else [text]
        modules: list[str] = []
        for section in sections:
            owner = attribute(section, self.owners, str(self.root), default)
            if owner is None:
                continue
            modules.append(owner)
            self.failure(owner, kind, command, section)
        return sorted(set(modules))
