"""The JavaScript kind: `.js` / `.mjs` / `.cjs` files, compiled by Node where Node exists
(nothing runs), their interface (top-level functions and their parameters, classes, globals,
exports, the DOM ids they look up), `package.json` from their package imports, and their tests
run with Node (`matrioska/checking/verify.py`).

The syntax check is one long-lived `node` process per Python process (`_NodeChecker`, started on
the first check): a file costs a JSON line each way instead of starting Node (~60 ms). It decides
like `node --check`: `.mjs` is an ES module, `.cjs` CommonJS (the module wrapper function, so a
top-level `return` is fine), and a `.js` file that fails as CommonJS only for module syntax
(`import`, `export`, top-level `await`) is compiled as an ES module. Where `node --check` accepts
a `.js` file with `import`/`export` without compiling it as a module, this check reports the
module's syntax error. If the process dies or hangs it is restarted once, then each file falls
back to its own `node --check`."""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..base import CheckContext, Kind
from .checks import node_checks
from .source import id_lookups, strip_comments

_LIST_ITEMS = 40


_JS_FUNC = re.compile(
    r"^(export\s+(?:default\s+)?)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(([^)]*)\)", re.M
)
_JS_ARROW = re.compile(
    r"^(export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?"
    r"(?:function\b[^(]*\(([^)]*)\)|\(([^)]*)\)\s*=>|([A-Za-z_$][\w$]*)\s*=>)",
    re.M,
)
_JS_CLASS = re.compile(r"^(export\s+(?:default\s+)?)?class\s+([A-Za-z_$][\w$]*)", re.M)
_JS_VAR = re.compile(r"^(export\s+)?(const|let|var)\s+([A-Za-z_$][\w$]*)", re.M)
_JS_WINDOW = re.compile(r"^\s*(?:window|globalThis)\.([A-Za-z_$][\w$]*)\s*=", re.M)
_JS_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}", re.M)
_CJS_OBJECT = re.compile(r"module\.exports\s*=\s*\{([^}]*)\}")
_CJS_NAME = re.compile(r"(?:module\.)?exports\.([A-Za-z_$][\w$]*)\s*=")
_CJS_SINGLE = re.compile(r"module\.exports\s*=\s*([A-Za-z_$][\w$]*)\s*;?\s*$", re.M)
_JS_ID_SET = re.compile(
    r"""\.id\s*=\s*["'`]([^"'`]+)["'`]|setAttribute\(\s*["']id["']\s*,\s*["'`]([^"'`]+)["'`]\s*\)"""
)
_HTML_ID = re.compile(r"""\bid\s*=\s*\\?["']([^"'\\]+)\\?["']""", re.I)


def _export_names(clause: str) -> list[str]:
    out = []
    for part in clause.split(","):
        words = part.split()
        if not words:
            continue
        name = words[-1] if len(words) >= 3 and words[-2] == "as" else words[0]
        if re.fullmatch(r"[A-Za-z_$][\w$]*", name):
            out.append(name)
    return out


def _declared_functions(code: str) -> tuple[dict[str, str], list[str]]:
    """Top-level functions (declarations first, then arrow / function expressions bound to a name), each
    with its parameters on one line, and the names of those among them that are exported."""
    functions: dict[str, str] = {}
    exports: list[str] = []
    for match in _JS_FUNC.finditer(code):
        functions.setdefault(match.group(2), " ".join(match.group(3).split()))
        if match.group(1):
            exports.append("default" if "default" in match.group(1) else match.group(2))
    for match in _JS_ARROW.finditer(code):
        params = next((g for g in match.group(3, 4, 5) if g is not None), "")
        functions.setdefault(match.group(2), " ".join(params.split()))
        if match.group(1):
            exports.append(match.group(2))
    return functions, exports


def _declared_names(code: str, functions: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Top-level classes, variables that are no function, and the exported among them."""
    exports: list[str] = []
    classes = []
    for match in _JS_CLASS.finditer(code):
        classes.append(match.group(2))
        if match.group(1):
            exports.append("default" if "default" in match.group(1) else match.group(2))
    variables = []
    for match in _JS_VAR.finditer(code):
        if match.group(3) not in functions:
            variables.append(match.group(3))
        if match.group(1):
            exports.append(match.group(3))
    return classes, variables, exports


def _module_exports(code: str) -> list[str]:
    """What `export { a, b as c }` lists and `export default` adds."""
    exports: list[str] = []
    for match in _JS_EXPORT_LIST.finditer(code):
        exports += _export_names(match.group(1))
    if re.search(r"^export\s+default\b", code, re.M):
        exports.append("default")
    return exports


def _commonjs_exports(code: str) -> tuple[bool, list[str]]:
    """Whether the code exports the CommonJS way (`module.exports`, `exports.x`), and what it exports."""
    commonjs = False
    exports: list[str] = []
    for match in _CJS_OBJECT.finditer(code):
        commonjs = True
        for part in match.group(1).split(","):
            name = part.split(":")[0].strip()
            name = re.sub(r"\(.*", "", name).strip().removeprefix("async ").strip()
            if re.fullmatch(r"[A-Za-z_$][\w$]*", name):
                exports.append(name)
    for name in _CJS_NAME.findall(code):
        commonjs = True
        exports.append(name)
    if _CJS_SINGLE.findall(code):
        commonjs = True
        exports.append("default")
    return commonjs, exports


def javascript_interface(path: str, content: str) -> dict[str, Any]:
    """The interface of a JavaScript file: its top-level functions and their parameters, classes, globals,
    `window.x` globals, exports (None unless it is a module that exports something or exports the
    CommonJS way), and the DOM ids it looks up and sets."""
    code = strip_comments(content)
    functions, function_exports = _declared_functions(code)
    classes, variables, name_exports = _declared_names(code, functions)
    window = sorted(set(_JS_WINDOW.findall(code)))
    commonjs, commonjs_exports = _commonjs_exports(code)
    exports = function_exports + name_exports + _module_exports(code) + commonjs_exports
    module = bool(re.search(r"^\s*(import\s[^(]|export\s)", code, re.M))
    has_exports = module and bool(exports) or commonjs
    return {
        "path": path,
        "kind": "javascript",
        "functions": [{"name": n, "params": p} for n, p in functions.items()],
        "classes": classes,
        "globals": variables[:_LIST_ITEMS],
        "window": window,
        "exports": sorted(set(exports)) if has_exports else None,
        "module": module,
        "ids_used": sorted({name for name, _, _ in id_lookups(code)}),
        "ids_set": sorted({a or b for a, b in _JS_ID_SET.findall(code)} | set(_HTML_ID.findall(code))),
    }


def _npm_dependencies(files: list[Any]) -> list[str]:
    pattern = re.compile(r"""(?:require\(\s*|from\s+|import\s+)['"]([^'"./][^'"]*)['"]""")
    found = {
        m.group(1).split("/")[0] if not m.group(1).startswith("@") else "/".join(m.group(1).split("/")[:2])
        for f in files
        if f.path.endswith((".js", ".mjs", ".ts", ".jsx", ".tsx"))
        for m in pattern.finditer(f.content)
    }
    return sorted(found)


_TIMEOUT = 30.0
"""Seconds one check may take before the checker process is taken for hung."""

# Compiles each request and answers {"error": "SyntaxError: ..." | null, "line": n | null}.
# compileFunction with the CommonJS wrapper's parameters is how Node compiles a CommonJS file.
_CHECKER = r"""
'use strict';
const vm = require('vm');
const WRAPPER = ['exports', 'require', 'module', '__filename', '__dirname'];
const MODULE_SYNTAX = /^(Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module)$/;
const ONLY_IN_COMMONJS = /^(Identifier '(module|exports|require|__filename|__dirname)' has already been declared|await is only valid in async functions and the top level bodies of modules)$/;

function compile(filename, source) {
  if (filename.endsWith('.mjs')) return new vm.SourceTextModule(source, {identifier: filename});
  try {
    vm.compileFunction(source, WRAPPER, {filename});
  } catch (error) {
    const moduleSyntax = MODULE_SYNTAX.test(error.message);
    if (filename.endsWith('.cjs') || !(moduleSyntax || ONLY_IN_COMMONJS.test(error.message))) throw error;
    try {
      new vm.SourceTextModule(source, {identifier: filename});
    } catch (moduleError) {
      throw moduleSyntax ? moduleError : error;
    }
  }
}

function check(filename, source) {
  try {
    compile(filename, source);
    return {error: null, line: null};
  } catch (error) {
    const first = String(error.stack).split('\n', 1)[0];
    const line = first.startsWith(filename + ':') ? Number(first.slice(filename.length + 1)) || null : null;
    return {error: `${error.name}: ${error.message}`, line};
  }
}

require('readline').createInterface({input: process.stdin}).on('line', (request) => {
  const {path, source} = JSON.parse(request);
  process.stdout.write(JSON.stringify(check(path, source)) + '\n');
});
"""


class _NodeChecker:
    """One `node` process that compiles (never runs) the sources sent to it, one at a time."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._broken = False

    def check(self, suffix: str, text: str) -> dict[str, Any] | None:
        """The answer for one file, or None when the checker failed twice (then it stays off)."""
        request = (json.dumps({"path": f"check{suffix}", "source": text}) + "\n").encode()
        with self._lock:
            for _ in range(2):  # a dead or hung process is replaced once
                if self._broken:
                    return None
                try:
                    return self._ask(request)
                except (OSError, ValueError):
                    self.close()
            self._broken = True
            return None

    def _ask(self, request: bytes) -> dict[str, Any]:
        if self._process is None:
            self._process = subprocess.Popen(
                [self.node, "--experimental-vm-modules", "--no-warnings", "-e", _CHECKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        watchdog = threading.Timer(_TIMEOUT, process.kill)  # a hung process is killed: EOF below
        watchdog.daemon = True
        watchdog.start()
        try:
            process.stdin.write(request)
            process.stdin.flush()
            line = process.stdout.readline()
        finally:
            watchdog.cancel()
        if not line:
            raise OSError("the node checker exited")
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise ValueError(f"unexpected answer from the node checker: {line[:200]!r}")
        return answer

    def close(self) -> None:
        """Ends the process (its stdin closed, then killed if it lingers) and reaps it."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


_checker: _NodeChecker | None = None
_checker_lock = threading.Lock()


def _node_checker(node: str) -> _NodeChecker:
    global _checker
    with _checker_lock:
        if _checker is None or _checker.node != node:
            if _checker is not None:
                _checker.close()
            _checker = _NodeChecker(node)
        return _checker


def _close_checker() -> None:
    if _checker is not None:
        _checker.close()


def _forget_checker() -> None:
    """In a forked child: the parent's process and locks are not this process's to use."""
    global _checker, _checker_lock
    _checker, _checker_lock = None, threading.Lock()


atexit.register(_close_checker)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_checker)


def _node_check_file(node: str, suffix: str, text: str) -> dict[str, Any]:
    """The same answer from one `node --check` process on a temporary file (the fallback)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"check{suffix}"
        target.write_text(text, encoding="utf-8")
        result = subprocess.run([node, "--check", str(target)], capture_output=True, text=True, timeout=_TIMEOUT)
    if result.returncode == 0:
        return {"error": None, "line": None}
    errors = [line.strip() for line in result.stderr.splitlines() if "Error" in line]
    where = re.search(r"check(?:\.\w+)?:(\d+)$", result.stderr, re.M)
    return {"error": (errors or ["syntax error"])[0], "line": int(where.group(1)) if where else None}


@functools.lru_cache(maxsize=512)
def _syntax_problems(node: str, suffix: str, text: str) -> tuple[str, ...]:
    """Node's verdict on one source (kept: a module's files are checked again at assembly)."""
    answer = _node_checker(node).check(suffix, text) or _node_check_file(node, suffix, text)
    if not answer.get("error"):
        return ()
    line = f" (line {answer['line']})" if answer.get("line") else ""
    return (f"JavaScript: {answer['error']}{line}",)


class JavaScriptKind(Kind):
    name = "javascript"
    description = "JavaScript (.js): browser scripts for a page, or Node modules"
    suffixes = (".js", ".mjs", ".cjs")
    guide = (
        "JavaScript: look up only element ids the page defines; define the functions a page's "
        "handlers call at the top level of the script."
    )

    def validate(self, path: str, text: str) -> list[str]:
        node = shutil.which("node")
        if node is None:
            return []
        return list(_syntax_problems(node, Path(path).suffix.lower(), text))

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return javascript_interface(path, text)

    def generate(self, project_name: str, files: list[Any]) -> dict[str, str]:
        npm = _npm_dependencies(files)
        if not npm:
            return {}
        package = {
            "name": re.sub(r"[^a-z0-9-]+", "-", project_name.lower()).strip("-") or "project",
            "private": True,
            "dependencies": {name: "*" for name in npm},
        }
        return {"package.json": json.dumps(package, indent=2) + "\n"}

    def check(self, paths: list[str], ctx: CheckContext) -> None:
        """The project's JavaScript tests run in Node (`checks.py`)."""
        node_checks(ctx)
