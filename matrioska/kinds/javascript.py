"""The JavaScript kind: `.js` / `.mjs` / `.cjs` files, checked with `node --check` where Node
exists (nothing runs), their interface (top-level functions and their parameters, classes,
globals, exports, the DOM ids they look up), `package.json` from their package imports, and
their tests run with Node (`matrioska/verify.py`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .base import Kind

_LIST_ITEMS = 40


_JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\'\"\w])//[^\n]*", re.DOTALL)
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
_JS_ID_USE = re.compile(
    r"""getElementById\(\s*["'`]([^"'`$]+)["'`]\s*\)|querySelector(?:All)?\(\s*["'`]#([\w-]+)["'`]\s*\)"""
)
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


def _javascript(path: str, content: str) -> dict[str, Any]:
    code = _JS_COMMENT.sub("", content)
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
    window = sorted(set(_JS_WINDOW.findall(code)))
    for match in _JS_EXPORT_LIST.finditer(code):
        exports += _export_names(match.group(1))
    if re.search(r"^export\s+default\b", code, re.M):
        exports.append("default")
    commonjs = False
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
    single = _CJS_SINGLE.findall(code)
    if single:
        commonjs = True
        exports.append("default")
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
        "ids_used": sorted({a or b for a, b in _JS_ID_USE.findall(code)}),
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
        suffix = Path(path).suffix.lower()
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"check{suffix}"
            target.write_text(text, encoding="utf-8")
            result = subprocess.run([node, "--check", str(target)], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if "Error" in line]
            return [f"JavaScript: {(lines or ['syntax error'])[0].strip()}"]
        return []

    def interface(self, path: str, text: str) -> dict[str, Any] | None:
        return _javascript(path, text)

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
