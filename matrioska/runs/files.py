"""The seed's files under `base_path`, kept current as a run progresses (the ContextManager).

```
base_path/matrioska_artifacts/<NN>_<module_id>.md      one file per module artifact
base_path/matrioska_checkpoints/architecture.json      the plan
base_path/matrioska_checkpoints/shared_state.json      the whiteboard
base_path/matrioska_checkpoints/checkpoints.sqlite     LangGraph's checkpoints (resume)
base_path/matrioska_checkpoints/final_result.md        the integrated result
base_path/matrioska_checkpoints/run_report.json        plan repairs, module reports, contracts
base_path/matrioska_checkpoints/consistency_report.json one row per contract: held or broken, where
base_path/matrioska_checkpoints/manifest.json          provenance of every file and shared-state key
base_path/matrioska_checkpoints/verification.json      the verdict of running the project, its checks
base_path/matrioska_checkpoints/pyenv/                 the project's requirements as wheels (not zipped)
base_path/project/                                     the generated project tree (a git repo with --git)
base_path/matrioska_results.zip                        all of the above, for download
```
Every write goes to a temporary file first and is renamed into place, so a crash never leaves
a half-written JSON file behind. The files are derived from the checkpointed state: rewriting
them from a resumed state is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..errors import MatrioskaError, OutputPathError

__all__ = ["ContextManager"]

ARTIFACTS_DIR = "matrioska_artifacts"
CHECKPOINTS_DIR = "matrioska_checkpoints"
RESULTS_ZIP = "matrioska_results.zip"
PROJECT_DIR = "project"
MANIFEST = "manifest.json"
CONSISTENCY = "consistency_report.json"
VERIFICATION = "verification.json"
PYTHON_ENV = "pyenv"
DATABASE = "checkpoints.sqlite"


def _safe_name(text: str) -> str:
    """A file name made from model text: ASCII letters, digits, `_.-`, no leading dots, <= 80 chars.

    Separators, `..`, drive letters, NUL bytes and other characters cannot survive, so the
    name can never leave its folder. A name that had to change gets a short hash of the
    original, so two ids that sanitise alike (or differ only by case) still get distinct files.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:60] or "module"
    if name != text:
        name += "-" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return name


def json_text(value: Any) -> str:
    """`value` as indented JSON text (what `json.dumps(value, ensure_ascii=False, indent=2,
    default=str)` gives), through orjson: the run's summaries hold every module's report and are
    written again while the run goes on; the standard library's indenting encoder is pure Python
    and cost a share of each module."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits, say
        return json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n"


class ContextManager:
    """Files of one output folder; raises `OutputPathError` when it cannot be written."""

    def __init__(self, base_path: str | os.PathLike[str]) -> None:
        self.base_path = Path(base_path).expanduser().resolve()
        self.artifacts_dir = self.base_path / ARTIFACTS_DIR
        self.checkpoints_dir = self.base_path / CHECKPOINTS_DIR
        self.project_dir = self.base_path / PROJECT_DIR
        self.database = self.checkpoints_dir / DATABASE
        self.results_zip = self.base_path / RESULTS_ZIP
        self.python_env_dir = self.checkpoints_dir / PYTHON_ENV
        self._written: dict[Path, str] = {}
        # module id -> (index, path, path relative to base_path, sanitising note)
        self._artifact_files: dict[str, tuple[int, Path, str, str]] = {}
        self.summary_interval = 1.0
        self.git = False  # the orchestrator's --git: the project tree as a repository
        self._summaries_at = float("-inf")
        for folder in (self.artifacts_dir, self.checkpoints_dir, self.project_dir):
            if folder.is_symlink():
                raise OutputPathError(
                    f"{str(folder)!r} is a symbolic link; Matrioska writes only inside {str(self.base_path)!r}. "
                    "Remove the link or choose another output folder"
                )
        try:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
            probe = self.checkpoints_dir / ".write-test"
            probe.write_text("ok", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            raise OutputPathError(
                f"cannot write to output folder {str(self.base_path)!r}: {exc.strerror or exc}; "
                "choose a folder you can write to (base_path / --out)"
            ) from None

    def _write(self, path: Path, text: str) -> None:
        if not os.path.lexists(path):  # a new file: made in place, refused if one appeared meanwhile
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                pass
            else:
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        handle.write(text)
                except BaseException:
                    path.unlink(missing_ok=True)
                    raise
                return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write_json(self, path: Path, value: Any) -> None:
        self._write(path, json_text(value))

    def artifact_path(self, index: int, module_id: str) -> Path:
        """Where module number `index` (1-based, execution order) keeps its artifact."""
        path = self.artifacts_dir / f"{index:02d}_{_safe_name(module_id)}.md"
        if path.parent != self.artifacts_dir:  # _safe_name makes this impossible; keep it so
            raise OutputPathError(f"refusing to write outside {str(self.artifacts_dir)!r}: {module_id!r}")
        return path

    def sync(self, state: dict[str, Any], *, thread_id: str | None = None, final: bool = True) -> None:
        """Bring the files in line with a (partial) run state; unchanged files are not rewritten.

        Artifacts are always brought up to date (each is written once, when it appears or
        changes). The JSON summaries hold the whole plan and whiteboard, so rewriting them after
        every module would cost time growing with the plan: with `final=False` (during a run)
        they are rewritten at most every `summary_interval` seconds; the orchestrator syncs
        with `final=True` when a run ends or stops.
        """
        positions = {module_id: i for i, module_id in enumerate(state.get("execution_order") or [], 1)}
        for module_id, text in (state.get("artifacts") or {}).items():
            index = positions.get(module_id, 0)
            entry = self._artifact_files.get(module_id)
            if entry is not None and entry[0] == index and self._written.get(entry[1]) is text:
                continue  # this very text was written there already: no disk access
            if entry is None or entry[0] != index:
                path = self.artifact_path(index, module_id)
                note = (
                    f"module id {module_id!r} sanitised to file name {path.name!r}"
                    if _safe_name(module_id) != module_id
                    else ""
                )
                entry = self._artifact_files[module_id] = (
                    index,
                    path,
                    path.relative_to(self.base_path).as_posix(),
                    note,
                )
            self._write_text_if_changed(entry[1], text)
        now = time.monotonic()
        if not final and now - self._summaries_at < self.summary_interval:
            return
        self._summaries_at = now
        if state.get("architecture"):
            self._write_if_changed(self.checkpoints_dir / "architecture.json", state["architecture"])
        self._write_if_changed(self.checkpoints_dir / "shared_state.json", state.get("shared_state") or {})
        if state.get("final_result"):
            self._write_text_if_changed(self.checkpoints_dir / "final_result.md", state["final_result"])
        artifacts = state.get("artifacts") or {}
        report = {
            "thread_id": thread_id,
            "task": state.get("task"),
            "completed": state.get("completed") or [],
            "plan_report": state.get("plan_report") or [],
            "rejected_plans": state.get("rejected_plans") or [],
            "module_reports": state.get("module_reports") or {},
            "integration_report": state.get("integration_report") or {},
            "usage": state.get("usage") or {},
            "files": {mid: self._artifact_files[mid][2] for mid in artifacts if mid in self._artifact_files},
            "file_notes": [
                self._artifact_files[mid][3] for mid in artifacts if self._artifact_files.get(mid, (0, 0, 0, ""))[3]
            ],
        }
        if state.get("verification"):
            report["verification"] = state["verification"]
            self._write_if_changed(self.checkpoints_dir / VERIFICATION, state["verification"])
        self._write_if_changed(self.checkpoints_dir / "run_report.json", report)
        if final and state.get("final_result"):
            self._write_project(state)

    # -- the generated project --------------------------------------------------------------

    def project_files(self, state: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(path, content, module id or "assembler") for every file of the project, in order."""
        from ..generation.project import project_files

        return [(f.path, f.content, f.module) for f in project_files(state)]

    def _project_path(self, relative: str) -> Path:
        path = (self.project_dir / relative).resolve()
        if not path.is_relative_to(self.project_dir.resolve()) or path == self.project_dir.resolve():
            raise OutputPathError(f"refusing to write outside {str(self.project_dir)!r}: {relative!r}")
        for parent in reversed(path.relative_to(self.project_dir.resolve()).parents):
            folder = self.project_dir / parent
            if folder.is_symlink():
                raise OutputPathError(f"{str(folder)!r} is a symbolic link; refusing to write through it")
        return path

    def write_project_file(self, relative: str, text: str) -> Path:
        path = self._project_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_text_if_changed(path, text)
        return path

    def _write_project(self, state: dict[str, Any]) -> None:
        files = self.project_files(state)
        if not self.git:
            for relative, text, _ in files:
                self.write_project_file(relative, text)
        else:
            self._write_git(state, files)
        report = state.get("integration_report") or {}
        self._write_if_changed(self.checkpoints_dir / CONSISTENCY, report.get("consistency") or [])
        self._write_if_changed(self.checkpoints_dir / MANIFEST, manifest(state, files))

    def _write_git(self, state: dict[str, Any], files: list[tuple[str, str, str]]) -> None:
        """The project as a git repository: one commit per module (its name and the keys it wrote)."""
        import shutil
        import subprocess

        git = shutil.which("git")
        if git is None:
            raise OutputPathError("--git needs the git command; install git or run without --git")
        self.project_dir.mkdir(parents=True, exist_ok=True)

        def run(*args: str) -> str:
            command = [
                git,
                "-c",
                "user.name=Matrioska",
                "-c",
                "user.email=matrioska@localhost",
                "-c",
                "commit.gpgsign=false",
                *args,
            ]
            done = subprocess.run(command, cwd=self.project_dir, capture_output=True, text=True)
            if done.returncode != 0:
                raise OutputPathError(f"git {args[0]} failed in {str(self.project_dir)!r}: {done.stderr.strip()[:300]}")
            return done.stdout

        if not (self.project_dir / ".git").exists():
            run("init", "-q")
        reports = state.get("module_reports") or {}
        architecture = state.get("architecture") or {}
        names = {m.get("id"): m.get("name") or m.get("id") for m in architecture.get("modules") or []}
        groups: dict[str, list[tuple[str, str]]] = {}
        for relative, text, module_id in files:
            groups.setdefault(module_id, []).append((relative, text))
        for module_id in [*(state.get("execution_order") or []), "assembler"]:
            for relative, text in groups.get(module_id, []):
                self.write_project_file(relative, text)
            run("add", "-A")
            if not run("status", "--porcelain").strip():
                continue  # nothing new (a resumed run already committed this module)
            if module_id == "assembler":
                message = "assembler: " + ", ".join(path for path, _ in groups.get("assembler", []))
            else:
                written = (reports.get(module_id) or {}).get("written") or []
                message = f"{names.get(module_id, module_id)} ({module_id}): wrote {', '.join(written) or 'no keys'}"
            run("commit", "-q", "-m", message)

    def lock_path(self, thread_id: str) -> Path:
        return self.checkpoints_dir / "locks" / f"{_safe_name(thread_id)}.lock"

    @contextlib.contextmanager
    def run_lock(self, thread_id: str) -> Iterator[None]:
        """Held while this process drives `thread_id`: a second driver is refused, and the monitor
        tells a running run from a stopped one (the OS drops the lock when a process dies, even
        on SIGKILL)."""
        import fcntl

        path = self.lock_path(thread_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise MatrioskaError(f"run {thread_id!r} is already running in another process") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def is_running(self, thread_id: str) -> bool | None:
        """Whether some process holds the run's lock (None: no lock file, nothing known)."""
        import fcntl

        path = self.lock_path(thread_id)
        if not path.exists():
            return None
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def _write_if_changed(self, path: Path, value: Any) -> None:
        self._write_text_if_changed(path, json_text(value))

    def _write_text_if_changed(self, path: Path, text: str) -> None:
        """Write unless the file already holds `text`.

        What this object wrote is remembered, so a sync after every module does not read every
        earlier artifact back from disk. A symlink planted at `path` is always replaced by a
        regular file (os.replace never follows it).
        """
        if not path.is_symlink() and path.exists():
            known = self._written.get(path)
            if known is None:
                known = path.read_text(encoding="utf-8")
            if known == text:
                self._written[path] = text
                return
        self._write(path, text)
        self._written[path] = text

    def write_zip(self) -> Path:
        """Zip both folders (the SQLite database included) into `matrioska_results.zip`."""
        fd, tmp = tempfile.mkstemp(dir=self.base_path, prefix=".results.", suffix=".zip")
        os.close(fd)
        try:
            # level 1: a third of the default level's time, for a few percent more bytes
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for folder in (self.artifacts_dir, self.checkpoints_dir, self.project_dir):
                    if not folder.is_dir():
                        continue
                    for path in sorted(folder.rglob("*")):
                        parts = path.relative_to(folder).parts
                        if ".git" in parts or (folder == self.checkpoints_dir and parts[0] == PYTHON_ENV):
                            continue
                        # links are skipped: a link could pull a file from outside into the zip
                        if path.is_symlink() or not path.is_file() or path.name.startswith("."):
                            continue
                        if not path.resolve().is_relative_to(folder.resolve()):
                            continue  # reached through a linked folder
                        archive.write(path, path.relative_to(self.base_path).as_posix())
            os.replace(tmp, self.results_zip)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.results_zip


def manifest(state: dict[str, Any], files: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Provenance: for each file and shared-state key, the module, model, prompt hash, checks."""
    reports = state.get("module_reports") or {}

    def origin(module_id: str) -> dict[str, Any]:
        report = reports.get(module_id) or {}
        return {
            "module": module_id,
            "model": report.get("model"),
            "prompt_sha256": report.get("prompt_sha256"),
            "attempts": report.get("attempts"),
        }

    entries = {}
    for relative, text, module_id in files:
        checks = {c["path"]: c for c in (reports.get(module_id) or {}).get("files") or []}
        check = checks.get(relative) or {}
        entries[relative] = {
            **origin(module_id),
            "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            "bytes": len(text.encode("utf-8", "surrogatepass")),
            "valid": check.get("valid", True),
            "problems": check.get("problems", []),
        }
    keys = {
        key: origin(module_id) if module_id != "contract" else {"module": None, "step": "contract"}
        for key, module_id in (state.get("shared_state_writers") or {}).items()
    }
    verification = state.get("verification") or {}
    verdict = (
        {
            "works": verification.get("works"),
            "reason": verification.get("reason"),
            "rounds": verification.get("rounds", 0),
            "checks": [
                {k: c.get(k) for k in ("kind", "command", "ok", "modules")} for c in verification.get("checks") or []
            ],
        }
        if verification
        else None
    )
    written = {relative for relative, _, _ in files}
    planned = {
        m.get("id"): [{"path": p, "written": p in written} for p in m.get("files") or []]
        for m in (state.get("architecture") or {}).get("modules") or []
    }
    from ..checking.interfaces import render_interface

    interfaces = {
        module_id: {"text": render_interface(face), "problems": face.get("problems") or []}
        for module_id, face in (state.get("interfaces") or {}).items()
    }
    results = {s.get("name"): s for s in verification.get("acceptance") or []}
    acceptance = [
        {
            **scenario,
            "result": (
                None
                if scenario.get("name") not in results
                else {k: results[scenario["name"]].get(k) for k in ("ok", "problems", "seconds", "modules")}
            ),
        }
        for scenario in state.get("acceptance") or []
    ]
    return {
        "thread_task": state.get("task"),
        "planned_tree": planned,
        "acceptance": acceptance,
        "contract": state.get("contract") or {},
        "files": entries,
        "shared_state": keys,
        "interfaces": interfaces,
        "verification": verdict,
    }
