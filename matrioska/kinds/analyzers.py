"""The field's own analyzers over generated code (issue 34): ruff for Python (the pyflakes rules and
syntax errors, file by file), ty for a Python project (names, imports, attributes and call
arguments across its modules) and oxlint for JavaScript (undefined names with the browser's and
Node's globals, unused variables).

They are the wheels' binaries (package dependencies, no node, nothing fetched): each run reads a
temporary copy of the files and prints JSON or one line per finding, which becomes a `Finding`
(file, line, rule code, message, the name it is about). A finding is an *error* when the code
fails where it runs (an undefined name, a call with the wrong arguments, a syntax error) and a
*warning* otherwise (an unused import or variable): errors are module problems, warnings only
count. Where a binary is missing (an unusual platform), `analyze` says so in one note per tool
and returns what the others found; the checks go on with Matrioska's own parsers.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

__all__ = [
    "PYTHON_SUFFIXES",
    "JS_SUFFIXES",
    "Finding",
    "Analysis",
    "Fix",
    "tool_path",
    "ruff",
    "ty",
    "oxlint",
    "analyze",
]

PYTHON_SUFFIXES = (".py",)
JS_SUFFIXES = (".js", ".mjs", ".cjs")
TIMEOUT = 30.0
"""Seconds one analyzer may take over one project (they take milliseconds)."""

_RUFF_ERRORS = {"F821", "F822", "F823", "F701", "F702", "F704", "F706", "F707"}
"""Undefined names (in code, `__all__`, before assignment) and statements where Python refuses them."""
_TY_ERRORS = {
    "unresolved-reference",
    "missing-argument",
    "too-many-positional-arguments",
    "unknown-argument",
    "parameter-already-assigned",
    "invalid-syntax",
}
_MODULE_ATTRIBUTE = re.compile(r"^Module `[\w.]+` has no member `[\w]+`")
"""ty's unresolved attribute of a module (`helper.nothing`), an error; one of a class may be set
at run time (`setattr`, argparse's namespace), so it stays a warning."""
_OXLINT_ERRORS = {"no-undef"}
_NAMED = re.compile(r"[`'\"]([A-Za-z_$][\w$]*)[`'\"]")
_TY_LINE = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<severity>\w+)\[(?P<code>[\w-]+)\] (?P<msg>.*)$"
)
_OXLINT_CONFIG = {
    "env": {"browser": True, "node": True, "es2024": True},
    "rules": {"no-undef": "error", "no-unused-vars": "warn"},
    # test files run under Jest or Mocha (or `node --test`), which give `test`, `expect`, `describe`
    "overrides": [
        {
            "files": ["**/*.test.js", "**/*.spec.js", "**/*.test.mjs", "**/tests/**", "**/test/**", "**/__tests__/**"],
            "env": {"jest": True, "mocha": True},
        }
    ],
}


@dataclass(frozen=True)
class Finding:
    """One analyzer finding in one file of the project."""

    tool: str
    """"ruff", "ty" or "oxlint"."""
    path: str
    line: int
    column: int
    code: str
    """The rule: "F821", "unresolved-reference", "no-undef", "syntax"."""
    message: str
    error: bool
    """The code fails where it runs (a module problem); else a warning, which only counts."""
    name: str | None = None
    """The name the finding is about (an undefined or unused name), when it names one."""

    @property
    def undefined(self) -> bool:
        """A name used and defined nowhere (F821, unresolved-reference, no-undef)."""
        return self.code in ("F821", "unresolved-reference", "no-undef")

    def render(self) -> str:
        """`path:line code message`, as the verdict and the fix prompts show it."""
        return f"{self.path}:{self.line} {self.code} {self.message}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Fix:
    """One change made without the model from an analyzer's finding (an import added, a local
    renamed, a script tag made a module): printed as `~ fixed without the model: ...`."""

    path: str
    line: int
    description: str
    """What changed, in words: "added `import hashlib`"."""
    rule: str
    """Why: the finding's code and name ("F821 hashlib")."""

    def render(self) -> str:
        return f"{self.path}:{self.line} {self.description}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Analysis:
    """What the analyzers found over one set of files, and what they could not do."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line per analyzer that is missing or failed (the checks went on without it)."""
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    def of(self, path: str) -> list[Finding]:
        return [f for f in self.findings if f.path == path]

    def extend(self, other: Analysis) -> None:
        self.findings += other.findings
        self.notes += [n for n in other.notes if n not in self.notes]
        self.seconds.update(other.seconds)


@functools.cache
def tool_path(name: str) -> str | None:
    """The analyzer's binary: the one its wheel put beside this Python, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _missing(name: str) -> Analysis:
    return Analysis(notes=[f"{name} is not installed here: its checks were left to Matrioska's own parsers"])


def _write(root: Path, files: Mapping[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _run(name: str, argv: list[str], root: Path) -> tuple[str | None, float, str | None]:
    """The analyzer's output over the copy in `root`, its seconds, and why it failed (or None)."""
    started = time.perf_counter()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "NO_COLOR": "1", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, time.perf_counter() - started, f"{name} failed: {type(exc).__name__}: {exc}"[:200]
    return done.stdout, time.perf_counter() - started, None


def _relative(root: Path, filename: str) -> str:
    path = Path(filename)
    if not path.is_absolute():  # already relative to the copy the tool ran in
        return PurePosixPath(filename).as_posix().removeprefix("./")
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return PurePosixPath(filename).as_posix().removeprefix("./")


def _name(message: str) -> str | None:
    match = _NAMED.search(message)
    return match.group(1) if match else None


def _select(files: Mapping[str, str], suffixes: tuple[str, ...]) -> dict[str, str]:
    return {p: t for p, t in files.items() if p.lower().endswith(suffixes)}


_CACHE_SIZE = 4096
_CACHE: dict[tuple[str, ...], list[Finding]] = {}  # (tool, setting, path, content hash) -> its findings
_CACHE_LOCK = threading.Lock()


def _key(name: str, setting: str, path: str, text: str) -> tuple[str, ...]:
    return (name, setting, path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def _remember(keys: dict[str, tuple[str, ...]], findings: list[Finding]) -> None:
    by_path: dict[str, list[Finding]] = {path: [] for path in keys}
    for finding in findings:
        if finding.path in by_path:
            by_path[finding.path].append(finding)
    with _CACHE_LOCK:
        for path, key in keys.items():
            _CACHE[key] = by_path[path]
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))


def _over_copy(
    name: str,
    sources: Mapping[str, str],
    argv: list[str],
    read: Callable[[Path, str], list[Finding]],
    extra: Mapping[str, str] | None = None,
    *,
    per_file: str | None = None,
) -> Analysis:
    """Analyzer `name` run with `argv` over a temporary copy of `sources` (and `extra` files, its
    configuration), its output read into findings by `read`. `per_file`: the tool judges each
    file on its own, with this setting (its configuration): a file whose content it judged
    before in this process is not analyzed again (its findings are kept by content hash), and
    when every file was, the tool does not run at all."""
    if not sources:
        return Analysis()
    binary = tool_path(name)
    if binary is None:
        return _missing(name)
    known: list[Finding] = []
    keys: dict[str, tuple[str, ...]] = {}
    if per_file is not None:
        keys = {path: _key(name, per_file, path, text) for path, text in sources.items()}
        with _CACHE_LOCK:
            cached = {path: _CACHE[key] for path, key in keys.items() if key in _CACHE}
        known = [f for found in cached.values() for f in found]
        sources = {p: t for p, t in sources.items() if p not in cached}
        keys = {p: k for p, k in keys.items() if p not in cached}
        if not sources:
            return Analysis(sorted(known, key=_order))
        if "." not in argv:  # the tool names its files: only the ones left
            argv = [a for a in argv if a not in cached]
        found = _group(name, per_file).run(name, binary, sources, argv, read, extra)
        if isinstance(found, str):
            return Analysis(known, notes=[found])
        _remember(keys, found[0])
        return Analysis(sorted([*known, *found[0]], key=_order), seconds={name: found[1]})
    findings, seconds = _over_folder(name, binary, argv, {**sources, **(extra or {})}, read)
    if isinstance(findings, str):
        return Analysis(notes=[findings], seconds={name: seconds})
    return Analysis(sorted(findings, key=_order), seconds={name: seconds})


def _over_folder(
    name: str, binary: str, argv: list[str], files: Mapping[str, str], read: Callable[[Path, str], list[Finding]]
) -> tuple[list[Finding] | str, float]:
    """`files` written to a temporary folder, the tool run there with `argv`, its output read:
    the findings (or why there are none) and the tool's seconds."""
    with tempfile.TemporaryDirectory(prefix=f"matrioska-{name}-") as tmp:
        root = Path(tmp)
        _write(root, files)
        out, seconds, failed = _run(name, [binary, *argv], root)
        if failed or out is None:
            return failed or f"{name} failed", seconds
        try:
            return read(root, out), seconds
        except (ValueError, AttributeError, TypeError, KeyError):  # not the JSON or lines it prints
            return f"{name} printed what Matrioska cannot read", seconds


class _Request:
    def __init__(self, sources: Mapping[str, str], argv: list[str]) -> None:
        self.sources, self.argv = sources, argv
        self.done = threading.Event()
        self.result: tuple[list[Finding], float] | str = "not run"


class _Group:
    """The calls of one analyzer with one setting, judged file by file, made from several threads
    (the modules of a wave): what arrives while the tool runs goes into its next run, one
    process for them all (group commit: a lone call runs at once, it never waits for company).
    Each call's files are copied under a folder of their own, so equal paths never meet."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[_Request] = []
        self.running = False

    def run(
        self,
        name: str,
        binary: str,
        sources: Mapping[str, str],
        argv: list[str],
        read: Callable[[Path, str], list[Finding]],
        extra: Mapping[str, str] | None,
    ) -> tuple[list[Finding], float] | str:
        """The findings of `sources` (paths as given) and the seconds of the run, or why it failed."""
        request = _Request(sources, argv)
        with self.lock:
            self.pending.append(request)
            leader = not self.running
            self.running = True
        if not leader:
            request.done.wait()
            return request.result
        while True:  # the leader runs every batch that gathers meanwhile, then hands over
            with self.lock:
                batch, self.pending = self.pending, []
                if not batch:
                    self.running = False
                    break
            try:
                self._batch(name, binary, batch, read, extra)
            except BaseException:  # never leave the others waiting on a leader that is gone
                with self.lock:
                    left, self.pending, self.running = self.pending, [], False
                for other in left:
                    other.result = f"{name} was not run: the call that ran it failed"
                    other.done.set()
                raise
        return request.result

    def _batch(
        self,
        name: str,
        binary: str,
        batch: list[_Request],
        read: Callable[[Path, str], list[Finding]],
        extra: Mapping[str, str] | None,
    ) -> None:
        files = {f"{i}/{path}": text for i, r in enumerate(batch) for path, text in r.sources.items()}
        argv = [a for a in batch[0].argv if all(a not in r.sources for r in batch)]
        if "." not in argv:
            argv += sorted(files)
        outcome: list[Finding] | str
        seconds = 0.0
        try:
            outcome, seconds = _over_folder(name, binary, argv, {**files, **(extra or {})}, read)
        except OSError as exc:  # the copy could not be written: this batch goes without the tool
            outcome = f"{name} failed: {type(exc).__name__}: {exc}"[:200]
        try:
            for i, request in enumerate(batch):
                if isinstance(outcome, str):
                    request.result = outcome
                else:
                    prefix = f"{i}/"
                    mine = [replace(f, path=f.path[len(prefix) :]) for f in outcome if f.path.startswith(prefix)]
                    request.result = (mine, seconds)
        finally:
            for request in batch:
                request.done.set()


_GROUPS: dict[tuple[str, str], _Group] = {}  # (tool, setting) -> its group; a few hundred at most


def _group(name: str, setting: str) -> _Group:
    if len(_GROUPS) > 512:  # settings that came once (an oxlint config with one page's globals)
        for key in [k for k, g in list(_GROUPS.items()) if not g.running]:
            _GROUPS.pop(key, None)
    return _GROUPS.setdefault((name, setting), _Group())


def ruff(files: Mapping[str, str]) -> Analysis:
    """ruff's pyflakes rules and syntax errors over the Python files, each file on its own."""
    argv = ["check", "--isolated", "--no-cache", "--exit-zero", "--select", "F,E9", "--output-format", "json", "."]
    return _over_copy(
        "ruff",
        _select(files, PYTHON_SUFFIXES),
        argv,
        lambda root, out: [_ruff_finding(root, row) for row in json.loads(out or "[]")],
        per_file=" ".join(argv),
    )


def _ruff_finding(root: Path, row: dict) -> Finding:
    code = row.get("code") or "syntax"
    message = str(row.get("message") or "")
    location = row.get("location") or {}
    error = code in _RUFF_ERRORS or code == "syntax" or code.startswith("E9")
    return Finding(
        "ruff",
        _relative(root, str(row.get("filename") or "")),
        int(location.get("row") or 0),
        int(location.get("column") or 0),
        code,
        message.removeprefix("SyntaxError: "),
        error,
        _name(message),
    )


def ty(files: Mapping[str, str]) -> Analysis:
    """ty over the Python project as a whole: what one module calls or imports of another."""
    argv = ["check", "--output-format", "concise", "--exit-zero", "--color", "never", "."]
    return _over_copy(
        "ty",
        _select(files, PYTHON_SUFFIXES),
        argv,
        lambda root, out: [f for line in out.splitlines() if (f := _ty_finding(root, line)) is not None],
    )


def _ty_finding(root: Path, line: str) -> Finding | None:
    match = _TY_LINE.match(line.strip())
    if match is None:
        return None
    code, message = match.group("code"), match.group("msg")
    error = code in _TY_ERRORS or (code == "unresolved-attribute" and bool(_MODULE_ATTRIBUTE.match(message)))
    return Finding(
        "ty",
        _relative(root, match.group("path")),
        int(match.group("line")),
        int(match.group("col")),
        code,
        message,
        error and match.group("severity") == "error",
        _name(message),
    )


def oxlint(files: Mapping[str, str], globals_: Iterable[str] = ()) -> Analysis:
    """oxlint over the JavaScript files, with the browser's and Node's globals and `globals_`
    (the names the project's other scripts declare: a page's scripts share one global scope)."""
    sources = _select(files, JS_SUFFIXES)
    config = {**_OXLINT_CONFIG, "globals": {name: "readonly" for name in sorted(set(globals_))}}
    return _over_copy(
        "oxlint",
        sources,
        ["-c", ".oxlintrc.json", "--format", "json", *sorted(sources)],
        lambda root, out: [_oxlint_finding(root, row) for row in json.loads(out or "{}").get("diagnostics") or []],
        extra={".oxlintrc.json": json.dumps(config)},
        per_file=json.dumps(config, sort_keys=True),
    )


def _oxlint_finding(root: Path, row: dict) -> Finding:
    raw = str(row.get("code") or "")
    code = re.sub(r"^[\w-]+\((.+)\)$", r"\1", raw) or "syntax"
    span = ((row.get("labels") or [{}])[0] or {}).get("span") or {}
    message = str(row.get("message") or "")
    error = code in _OXLINT_ERRORS or (not raw and row.get("severity") == "error")
    return Finding(
        "oxlint",
        _relative(root, str(row.get("filename") or "")),
        int(span.get("line") or 0),
        int(span.get("column") or 0),
        code,
        message,
        error,
        _name(message),
    )


def analyze(files: Mapping[str, str], *, project: bool = False, globals_: Iterable[str] = ()) -> Analysis:
    """Every analyzer that applies to `files`: ruff and oxlint always, ty too for a whole
    `project` (it reads one module's calls into another)."""
    result = ruff(files)
    if project:
        seen = {(f.path, f.line, f.name) for f in result.findings if f.undefined}
        more = ty(files)
        more.findings = [f for f in more.findings if not (f.undefined and (f.path, f.line, f.name) in seen)]
        result.extend(more)
    result.extend(oxlint(files, globals_))
    return result


def _order(finding: Finding) -> tuple[str, int, int, str]:
    return finding.path, finding.line, finding.column, finding.code
