"""From artifacts to a project: files in replies, validation by kind, identifier contracts.

- `extract_files`: a module's reply may hold several files, one fenced block each, the path in
  the fence's info string (```` ```js src/app.js ````) or on the line before the block
  (`index.html`, `**index.html**`, `File: index.html`, `` `index.html` ``). Paths are relative
  to the project folder and sanitised: never absolute, never `..`, no drive letters, no NUL.
- `validate_file`: the problems the kinds that claim a file find in it (`matrioska.kinds`: Python
  compiles, JSON parses, HTML holds elements, balanced, without duplicate ids, JavaScript passes
  `node --check`, CSS braces balance, a test file holds a test, plugins). Nothing is executed.
- `identifier_contracts`: values published in shared_state as identifiers (element ids,
  function names, routes, CSS classes, storage keys) must occur in the files of the module
  that wrote them and of every module that reads them.
- `generated_files`: a README, and what the kinds add (an `index.html` linking the CSS and JS in
  dependency order for a web project, `requirements.txt` / `package.json` from the imports).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import kinds
from ..plan.parsing import safe_relpath

__all__ = [
    "ProjectFile",
    "extract_files",
    "safe_relpath",
    "validate_file",
    "identifier_contracts",
    "module_problems",
    "generated_files",
    "project_files",
]

_EXTENSIONS = {
    "python": "py",
    "py": "py",
    "javascript": "js",
    "js": "js",
    "html": "html",
    "css": "css",
    "json": "json",
    "typescript": "ts",
    "ts": "ts",
    "bash": "sh",
    "sh": "sh",
    "yaml": "yaml",
    "yml": "yaml",
    "markdown": "md",
    "md": "md",
    "sql": "sql",
    "jsx": "jsx",
    "tsx": "tsx",
    "text": "txt",
    "": "txt",
}
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_PATH_TOKEN = re.compile(r"[\w][\w./-]*\.[A-Za-z0-9]{1,8}")


@dataclass
class ProjectFile:
    """One file of the generated project."""

    path: str
    content: str
    module: str
    notes: list[str] = field(default_factory=list)


def _path_from(text: str) -> str | None:
    match = _PATH_TOKEN.search(text)
    return match.group(0) if match else None


def extract_files(
    artifact: str, module_id: str, declared: list[str] | None = None, dropped: list[str] | None = None
) -> list[ProjectFile]:
    """The files of one module's reply (see the module docstring).

    A block with no usable file name takes the module's next declared file (`declared`, from
    the plan) whose extension fits its language; when none fits it is dropped, said in
    `dropped` (a module that declared its files never gets an invented `core_2.py`); a module
    that declared none gets a name from its id and the block's language. A language
    label on the block's first line (``javascript``, ``css_styling:``) is not kept in the file.
    A reply cut off inside a block (the token budget ran out) keeps that block to its end. An
    empty block whose path the module did not declare is dropped (nobody planned it and it holds
    nothing); a declared file is kept even when empty, for `module_problems` to report.
    """
    files: list[ProjectFile] = []
    seen: set[str] = set()
    text = artifact or ""
    cut = len(re.findall(r"^```", text, re.MULTILINE)) % 2 == 1
    if cut:
        text = text.rstrip("\n") + "\n```"
    artifact = text
    last = kept = 0  # the last block read, the last block kept as a file
    for number, match in enumerate(_FENCE.finditer(text), 1):
        info, body = match.group(1).strip(), match.group(2)
        words = info.split()
        language = words[0].lower() if words and "." not in words[0] and "/" not in words[0] else ""
        if not info:
            body, language = _strip_label(body)
        candidate = _block_name(words, artifact, match.start(), declared or [])
        notes: list[str] = []
        path = safe_relpath(candidate) if candidate else None
        if candidate and path != candidate.strip().strip("`*\"'"):
            notes.append(f"path {candidate!r} sanitised to {path!r}")
        if path is None:
            if language == "json" and number > 1 and not any(d.endswith(".json") for d in declared or []):
                continue  # a trailing json block without a name is the shared-state update
            path = _declared_for(language, declared or [], seen)
            if path is not None:
                notes.append(f"block {number} had no file name; saved as the declared file {path!r}")
            elif declared:
                # A name is never invented for a module that declared its files (`core_2.py`).
                if dropped is not None:
                    dropped.append(
                        f"block {number} ({language or 'no language'}) had no file name and fits none of the declared files left; dropped"
                    )
                continue
            else:
                path = f"{module_id}_{number}.{_EXTENSIONS.get(language, 'txt')}"
                notes.append(f"block {number} had no file name; saved as {path!r}")
        if path.lower() in seen:
            path = f"{Path(path).stem}_{module_id}{Path(path).suffix}"
            notes.append(f"a file of this module already had that name; saved as {path!r}")
        last = number
        if not body.strip() and not _is_declared(path, declared or []):
            continue  # an empty block nobody planned (a stray `index_2.txt`) is no file
        seen.add(path.lower())
        files.append(ProjectFile(path, body, module_id, notes))
        kept = number
    if cut and files and kept == last:
        files[-1].notes.append("the reply ended inside this block (cut off at the token budget?); kept to its end")
    if not files and declared and len(declared) == 1 and (artifact or "").strip() and "```" not in artifact:
        # No fence at all, one file owned: the reply is that file (checked like any other).
        text = artifact.strip("\n") + "\n"
        files.append(
            ProjectFile(declared[0], text, module_id, ["no fenced block; the whole reply saved as the declared file"])
        )
    return files


def _block_name(words: list[str], artifact: str, start: int, declared: list[str]) -> str | None:
    """The file name a block at `start` was given: a path-like word of its fence's info string,
    else, from the line before the block (one of at most 120 characters), a declared path as
    written (even one without an extension, as a reply grammar writes the plan's names), else a
    path-like token in it; None when it has none."""
    candidate = next((w.split("=", 1)[-1] for w in words if "." in w or "/" in w), None)
    if candidate is None:
        before = artifact[:start].rstrip("\n").rsplit("\n", 1)[-1]
        if len(before) <= 120:
            exact = before.strip().strip("`*\"':")
            candidate = exact if _is_declared(exact, declared) else _path_from(before)
    return candidate


_LABEL = re.compile(r"^\s*([A-Za-z][\w+-]{0,20})\s*:?\s*\n")


def _strip_label(body: str) -> tuple[str, str]:
    """A stray language label on a block's first line (``javascript``, ``css_styling:``): the
    body without it, and the language it names ("" when the first line is code)."""
    match = _LABEL.match(body)
    if not match:
        return body, ""
    word = match.group(1).lower()
    language = next((name for name in _EXTENSIONS if name and (word == name or word.startswith(name + "_"))), "")
    return (body[match.end() :], language) if language else (body, "")


def _is_declared(path: str, declared: list[str]) -> bool:
    """Whether `path` is one of the module's declared files (one declared without its extension,
    "app", is satisfied by "app.js", as in `module_problems`)."""
    wanted = {d.lower() for d in declared}
    bare = {d for d in wanted if not PurePosixPath(d).suffix}
    lower = PurePosixPath(path.lower())
    return str(lower) in wanted or (bool(lower.suffix) and str(lower.with_suffix("")) in bare)


def _declared_for(language: str, declared: list[str], seen: set[str]) -> str | None:
    """The next declared file not yet written whose extension fits `language` (any, when the
    language is unknown and exactly one declared file is left)."""
    left = [d for d in declared if d.lower() not in seen]
    extension = _EXTENSIONS.get(language, "") if language else ""
    if extension:
        fitting = [
            d
            for d in left
            if Path(d).suffix.lower().lstrip(".") in (extension, "htm" if extension == "html" else extension)
        ]
        if fitting:
            return fitting[0]
        bare = [d for d in left if not Path(d).suffix]  # the plan named it without an extension
        return f"{bare[0]}.{extension}" if bare else None
    return left[0] if len(left) == 1 else None


def validate_file(path: str, content: str) -> list[str]:
    """Problems found in one file by the kinds that claim it (empty when it looks valid); see
    `matrioska.kinds`. Nothing is executed."""
    return kinds.validate(path, content)


# Which shared-state keys hold identifiers, by the words in the key's name.
_KINDS = (
    ("element id", re.compile(r"(^|_)(element|dom|html)?_?ids?($|_)|element", re.I)),
    ("function name", re.compile(r"func|function|api|method|handler", re.I)),
    ("route", re.compile(r"route|endpoint|path|url", re.I)),
    ("CSS class", re.compile(r"class", re.I)),
    ("storage key", re.compile(r"storage|local_?storage|session|cache", re.I)),
)
_IDENT = re.compile(r"^[A-Za-z_$][\w$-]*$")


def identifier_kind(key: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(key.replace("-", "_")):
            return kind
    return None


def identifiers(value: Any) -> list[str]:
    """The identifiers in a shared-state value: `#id` -> id, `.cls` -> cls, `f(a, b)` -> f, `/route`."""
    items: list[Any] = value if isinstance(value, list) else list(value.keys()) if isinstance(value, dict) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        text = item.strip()
        if text.startswith("/"):
            token = text.split()[0]
        else:
            if re.search(r"\s", re.sub(r"\(.*$", "", text).strip()):
                continue  # words, not an identifier
            token = re.sub(r"\(.*$", "", text).strip().lstrip("#.") if text else ""
            if "." in token:
                token = token.rsplit(".", 1)[-1]
            if not _IDENT.match(token or ""):
                continue
        if len(token) >= 2 and token not in out:
            out.append(token)
    return out


def _occurs(token: str, texts: list[str]) -> bool:
    pattern = re.compile(rf"(?<![\w$-]){re.escape(token)}(?![\w$-])")
    return any(pattern.search(text) for text in texts)


def identifier_contracts(
    architecture: Any, shared_state: dict[str, Any], writers: dict[str, str], files: dict[str, list[ProjectFile]]
) -> list[dict[str, Any]]:
    """One row per (key, identifier, module that must use it): held or broken, and where."""
    rows: list[dict[str, Any]] = []
    readers: dict[str, list[str]] = {}
    for spec in architecture.modules:
        for key in spec.shared_state_reads:
            readers.setdefault(key, []).append(spec.id)
    for key, value in shared_state.items():
        kind = identifier_kind(key)
        if kind is None:
            continue
        writer = writers.get(key)
        for token in identifiers(value):
            for module, role in [(writer, "writer"), *[(r, "reader") for r in readers.get(key, [])]]:
                if not module or not files.get(module):  # no code to check (a docs-only answer)
                    continue
                module_files = files[module]
                held = _occurs(token, [f.content for f in module_files])
                rows.append(
                    {
                        "contract": f"{kind} {token!r} ({key})",
                        "key": key,
                        "identifier": token,
                        "kind": kind,
                        "module": module,
                        "role": role,
                        "status": "held" if held else "broken",
                        "where": ", ".join(f.path for f in module_files) or "(no files)",
                    }
                )
    return rows


def module_problems(
    spec: Any,
    files: list[ProjectFile],
    update: dict[str, Any],
    read_values: dict[str, Any],
    *,
    prompt: str = "",
    declared: Collection[str] = (),
) -> tuple[list[str], list[dict[str, Any]]]:
    """What is wrong with one module's answer, and its file checks.

    It has files (not none, not an echo of its prompt) and every file it declared in the plan;
    its files pass their checks by kind; every key it declared it writes is present and
    non-empty; the identifiers it publishes occur in its own files. An identifier it reads need
    occur in its files only when the contract declares it for this module (`declared`, issue 40):
    a style sheet need not style every element id it reads.
    """
    problems: list[str] = []
    checks = []
    if not files:
        problems.append(
            "your answer contains no file: write your module's code, one fenced block per file "
            "(```), the file's path on the line before each block"
        )
    elif prompt and all(is_echo(f.content, prompt) for f in files):
        problems.append(
            "your files only repeat the task and instructions you were given: write the module's code itself"
        )
    written = {f.path.lower() for f in files}
    stems = {str(PurePosixPath(p).with_suffix("")) for p in written}
    for path in getattr(spec, "files", None) or []:
        # a plan that named a file without its extension ("app") is satisfied by "app.js"
        bare = not PurePosixPath(path).suffix and path.lower() in stems
        if path.lower() not in written and not bare:
            problems.append(
                f"the file {path!r} your module owns is missing: write it in its own fenced block, "
                f"its path {path} on the line before the block"
            )
    for f in files:
        found = validate_file(f.path, f.content)
        if f.path.endswith((".py", ".js", ".mjs")) and f.content.strip() and not _code_lines(f.content):
            found = [*found, "the file holds only comments: write the code itself"]
        checks.append({"path": f.path, "valid": not found, "problems": found})
        problems += [f"{f.path}: {p}" for p in found]
    for key in spec.shared_state_writes:
        if update.get(key) in (None, "", [], {}):
            problems.append(f"shared_state key {key!r} must be published with a non-empty value")
    if files:
        texts = [f.content for f in files]
        for key, value, role in [
            *((k, v, "publish") for k, v in update.items()),
            *((k, v, "read") for k, v in read_values.items()),
        ]:
            kind = identifier_kind(key)
            if kind is None:
                continue
            for token in identifiers(value):
                if role == "read" and token not in declared:
                    continue
                if not _occurs(token, texts):
                    problems.append(
                        f"the {kind} {token!r} you {role} in shared_state key {key!r} does not occur in your files"
                    )
    return problems, checks


def _code_lines(content: str) -> list[str]:
    """The lines of a Python or JavaScript file that are not blank and not comments."""
    return [line for line in content.splitlines() if line.strip() and not re.match(r"\s*(#|//|/\*|\*)", line)]


# An echo is measured in shared word sequences, not lines: a small model that gives its prompt
# back often reflows it (lines joined or split), changes the punctuation or a few words, so no
# line of it is found verbatim. Both texts become lower-case word tokens; a file word counts as
# an echo word when it lies inside a run of _ECHO_N consecutive words that also occurs in the
# prompt. Four words: a code file shares identifiers and short phrases with the prompt that asked
# for it ("def add_book title" when the manual shows `def add_book(title, ...)`), but prose runs
# of four words rarely survive in code, while a paraphrase keeps most of them (one word changed
# in ten still leaves nine words in ten covered). A file is an echo when at least _ECHO_SHARE of
# its words are covered: a file of code with a sentence of the manual copied into a comment stays
# well below, a reworded prompt stays well above.
_ECHO_N = 4
_ECHO_SHARE = 0.6
_WORDS = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def is_echo(content: str, prompt: str) -> bool:
    """Whether a file is only (a part of) the prompt given back, maybe reflowed or reworded: most
    of its words lie in runs of words the prompt also holds (see _ECHO_N). Empty files count as
    echoes too (they carry nothing)."""
    words = _words(content)
    if not words:
        return not content.strip()
    said = _words(prompt)
    n = _ECHO_N
    if len(words) < n:  # too short for a run: an echo only when the prompt holds all of it
        return f" {' '.join(words)} " in f" {' '.join(said)} "
    runs = set(zip(*(said[i:] for i in range(n)), strict=False))
    hits = [run in runs for run in zip(*(words[i:] for i in range(n)), strict=False)]
    if sum(hits) * n < _ECHO_SHARE * len(words):  # too few runs to cover enough, even apart
        return False
    covered = [False] * len(words)
    for i, hit in enumerate(hits):
        if hit:
            covered[i : i + n] = [True] * n
    return sum(covered) >= _ECHO_SHARE * len(words)


def generated_files(architecture: Any, order: list[str], files: list[ProjectFile]) -> dict[str, str]:
    """Files the assembler adds: entry point, README, dependency manifests (only when needed)."""
    paths = {f.path for f in files}
    out, _ = kinds.generated(architecture.project_name, files, paths)
    if "README.md" not in paths:
        lines = [f"# {architecture.project_name}", "", architecture.goal or "", "", "## Files", ""]
        by_module: dict[str, list[str]] = {}
        for f in files:
            by_module.setdefault(f.module, []).append(f.path)
        for module_id in order:
            spec = architecture.module(module_id)
            written = by_module.get(module_id, [])
            listed = [f"`{p}`" for p in written] + [f"`{p}` (planned, missing)" for p in spec.files if p not in written]
            lines.append(f"- **{spec.label}** ({module_id}): {', '.join(listed) or '(no files)'}")
        for path in out:
            lines.append(f"- `{path}`: generated by Matrioska's assembler")
        lines += [
            "",
            "Generated by Matrioska; see `matrioska_checkpoints/manifest.json` in the results zip for provenance.",
            "",
        ]
        out["README.md"] = "\n".join(lines)
    return out


def project_files(state: Mapping[str, Any]) -> list[ProjectFile]:
    """Every file of the project a state describes, in order: the modules' files in execution
    order, then what the assembler added (module "assembler")."""
    artifacts = state.get("artifacts") or {}
    out: list[ProjectFile] = []
    declared = {m.get("id"): m.get("files") or [] for m in (state.get("architecture") or {}).get("modules") or []}
    for module_id in state.get("execution_order") or list(artifacts):
        out += extract_files(artifacts.get(module_id) or "", module_id, declared.get(module_id))
    out += [ProjectFile(path, text, "assembler") for path, text in (state.get("generated_files") or {}).items()]
    return out
