"""Which of a generated project's requirements may be installed: nothing on a guess.

A model invents names: it lists its own modules as packages (`report`, `transform`) and
imports packages that do not exist; anybody may register such a name on the package index, and
installing it runs their code (slopsquatting). So verification installs a third-party
requirement only when it is

- declared by the project (its `requirements.txt` or `pyproject.toml` dependencies),
- not the name of one of the project's own modules, files or module ids, and
- known: in the list of well-known distributions shipped with Matrioska
  (`data/known_distributions.txt`, refreshed by `scripts/refresh_known_distributions.py`),
  or allowed by the user (`--allow-install NAME,...`, `allow_install=`).

Anything else is a failed check naming the requirement and why. The assembler's generated
`requirements.txt` follows the same rule: it lists only known names, maps import names to their
distributions (`bs4` -> `beautifulsoup4`), and writes the rest as `# not listed:` lines.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath

from ..base import CheckContext

__all__ = [
    "normalize",
    "known_distributions",
    "is_known",
    "allowed_names",
    "own_names",
    "install_decision",
    "distribution_for_import",
    "imports_of",
    "parse_requirement",
    "UNLISTED_PREFIX",
    "IMPORT_TO_DISTRIBUTION",
    "Requirement",
    "requirement_name",
    "declared_requirements",
    "prepare_dependencies",
    "pip_install",
]

# The marker of a generated requirements.txt line naming an import that was not listed.
UNLISTED_PREFIX = "# not listed: "

# Import names whose distribution is named otherwise (the common ones a model writes); dotted
# keys match an import and its submodules (`google.cloud.storage.blob`).
IMPORT_TO_DISTRIBUTION: dict[str, str] = {
    "Bio": "biopython",
    "Box2D": "box2d-py",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "Levenshtein": "levenshtein",
    "MySQLdb": "mysqlclient",
    "OpenGL": "pyopengl",
    "OpenSSL": "pyopenssl",
    "PIL": "pillow",
    "RPi": "rpi-gpio",
    "Xlib": "python-xlib",
    "apiclient": "google-api-python-client",
    "argon2": "argon2-cffi",
    "attr": "attrs",
    "azure.identity": "azure-identity",
    "azure.storage.blob": "azure-storage-blob",
    "bluetooth": "pybluez",
    "bs4": "beautifulsoup4",
    "bson": "pymongo",
    "cairo": "pycairo",
    "can": "python-can",
    "cassandra": "cassandra-driver",
    "clickhouse_driver": "clickhouse-driver",
    "corsheaders": "django-cors-headers",
    "cv2": "opencv-python",
    "cx_Oracle": "cx-oracle",
    "dateutil": "python-dateutil",
    "debug_toolbar": "django-debug-toolbar",
    "decouple": "python-decouple",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "engineio": "python-engineio",
    "faiss": "faiss-cpu",
    "fitz": "pymupdf",
    "fpdf": "fpdf2",
    "frontmatter": "python-frontmatter",
    "gi": "pygobject",
    "git": "gitpython",
    "github": "pygithub",
    "google.auth": "google-auth",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.cloud.storage": "google-cloud-storage",
    "google.generativeai": "google-generativeai",
    "google.oauth2": "google-auth",
    "google.protobuf": "protobuf",
    "googleapiclient": "google-api-python-client",
    "grpc": "grpcio",
    "hydra": "hydra-core",
    "jose": "python-jose",
    "jwt": "pyjwt",
    "kafka": "kafka-python",
    "ldap": "python-ldap",
    "magic": "python-magic",
    "mpl_toolkits": "matplotlib",
    "multipart": "python-multipart",
    "nacl": "pynacl",
    "nmap": "python-nmap",
    "osgeo": "gdal",
    "paho": "paho-mqtt",
    "pdfminer": "pdfminer-six",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "psycopg2": "psycopg2-binary",
    "pylab": "matplotlib",
    "readability": "readability-lxml",
    "rest_framework": "djangorestframework",
    "ruamel": "ruamel-yaml",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "snappy": "python-snappy",
    "snowflake.connector": "snowflake-connector-python",
    "socketio": "python-socketio",
    "speech_recognition": "speechrecognition",
    "telegram": "python-telegram-bot",
    "umap": "umap-learn",
    "usb": "pyusb",
    "websocket": "websocket-client",
    "whois": "python-whois",
    "wx": "wxpython",
    "yaml": "pyyaml",
    "zmq": "pyzmq",
}

_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def normalize(name: str) -> str:
    """A distribution name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


@lru_cache(maxsize=1)
def known_distributions() -> frozenset[str]:
    """The well-known distribution names shipped with Matrioska (normalised)."""
    text = resources.files("matrioska").joinpath("data/known_distributions.txt").read_text(encoding="utf-8")
    return frozenset(
        normalize(line) for raw in text.splitlines() if (line := raw.split("#", 1)[0].strip()) and _NAME.match(line)
    )


def is_known(name: str) -> bool:
    return normalize(name) in known_distributions()


def allowed_names(allowed: str | Iterable[str] | None) -> frozenset[str]:
    """The user's allowed names (a list, or a comma-separated string), normalised."""
    if not allowed:
        return frozenset()
    items = allowed.split(",") if isinstance(allowed, str) else [p for a in allowed for p in str(a).split(",")]
    return frozenset(normalize(item) for item in items if item.strip())


def own_names(paths: Iterable[str], module_ids: Iterable[str] = ()) -> dict[str, str]:
    """Normalised name -> what of the project it names: module ids, the stems of its Python
    files and the folders (packages) holding them. A requirement by one of these names is never
    installed: it is the project's own code, whatever the package index holds by that name."""
    names: dict[str, str] = {}
    for module_id in module_ids:
        if module_id and module_id != "assembler":
            names.setdefault(normalize(module_id), f"the name of the project's own module {module_id!r}")
    for path in paths:
        pure = PurePosixPath(path)
        if pure.suffix not in (".py", ".pyi"):
            continue
        if pure.stem not in ("__init__", "__main__"):
            names.setdefault(normalize(pure.stem), f"the name of the project's own file {path!r}")
        for folder in pure.parts[:-1]:
            if folder.isidentifier() and folder != "src":
                names.setdefault(normalize(folder), f"the name of the project's own package {folder!r} ({path})")
    return names


def parse_requirement(line: str) -> tuple[str, str | None]:
    """(name, problem) of a requirement line: `Flask>=3; python_version>'3'` -> ("Flask", None).
    A direct reference (`name @ URL`), a URL or a path has a problem: it is never installed."""
    text = line.split(" #", 1)[0].strip()
    match = _NAME.match(text)
    if not match:
        return text, f"{text!r} is not a requirement by name (a URL or a path); not installed"
    name = match.group(1)
    rest = text[match.end() :].split(";", 1)[0]
    if "@" in rest or "://" in text or rest.strip().startswith(("/", ".")):
        return name, f"{text!r} is a direct reference (a URL or a path, not the package index); not installed"
    if rest.strip() and not re.match(r"^\s*(\[[\w\s,.-]*\])?\s*\(?\s*([<>=!~]=?|===|$)", rest):
        return name, f"{text!r} is not a valid requirement; not installed"
    return name, None


def install_decision(
    name: str, *, own_names: dict[str, str] | Iterable[str], allowed: Iterable[str]
) -> tuple[bool, str]:
    """Whether a declared requirement may be installed, and why (a sentence for the verdict).

    `own_names`: the project's own names (normalised name -> what it names, or just names);
    `allowed`: the names the user allowed. Only a name that is not the project's own and is
    well known or allowed passes.
    """
    requirement, problem = parse_requirement(name)
    if problem:
        return False, problem
    key = normalize(requirement)
    own = own_names if isinstance(own_names, dict) else {normalize(n): "" for n in own_names}
    if key in own:
        what = own[key] or "the name of one of the project's own modules or files"
        return False, f"{requirement!r} is {what}; not installed (import the project's own code by its file names)"
    if key in allowed_names(allowed):
        return True, f"{requirement!r} is allowed by the user"
    if key in known_distributions():
        return True, f"{requirement!r} is a well-known distribution"
    return False, (
        f"{requirement!r} is not a well-known distribution; not installed "
        f"(allow it with --allow-install {key}, or use the standard library)"
    )


def distribution_for_import(module: str) -> str:
    """The distribution an import most likely comes from: `yaml` -> `pyyaml`, `requests` -> `requests`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = IMPORT_TO_DISTRIBUTION.get(".".join(parts[:end]))
        if found:
            return found
    return parts[0]


def imports_of(distribution: str) -> set[str]:
    """The top-level import names a distribution is likely imported by (its name, mapped ones)."""
    key = normalize(distribution)
    names = {key.replace("-", "_")}
    names |= {imported.split(".")[0] for imported, dist in IMPORT_TO_DISTRIBUTION.items() if dist == key}
    return names


# -- installing them for the checks ------------------------------------------------------------


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirements line ("Flask>=3; python_version>'3'" -> "Flask")."""
    return re.split(r"[<>=!~\[; @]", requirement.strip(), maxsplit=1)[0]


@dataclass
class Requirement:
    """One requirement: its line, the file declaring it, and whether the project declared it
    (pytest, for the generated tests, is Matrioska's own need)."""

    line: str
    source: str
    declared: bool = True


def _requirements_txt(text: str, generated: bool) -> list[Requirement]:
    """The lines of `requirements.txt` (and, in the assembler's generated one, the imports it did
    not list: still the project's requirements, judged like the others; the user may allow them)."""
    found: list[Requirement] = []
    for raw in text.splitlines():
        if generated and raw.startswith(UNLISTED_PREFIX):
            words = raw[len(UNLISTED_PREFIX) :].split()
            if words:
                found.append(Requirement(words[0], "requirements.txt"))
            continue
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.append(Requirement(line, "requirements.txt"))
    return found


def _pyproject_dependencies(text: str) -> list[Requirement]:
    """The `[project] dependencies` of a `pyproject.toml` (none when it does not parse)."""
    import tomllib

    try:
        dependencies = tomllib.loads(text).get("project", {}).get("dependencies", [])
    except (tomllib.TOMLDecodeError, AttributeError):
        dependencies = []
    items = dependencies if isinstance(dependencies, list) else []
    return [Requirement(item.strip(), "pyproject.toml") for item in items if isinstance(item, str) and item.strip()]


def declared_requirements(files: dict[str, str], owners: dict[str, str], with_tests: bool) -> list[Requirement]:
    """The project's declared requirements, one per distribution: `requirements.txt` lines,
    `pyproject.toml` dependencies; then pytest when the project has tests."""
    generated = owners.get("requirements.txt") == "assembler"
    found = _requirements_txt(files.get("requirements.txt", ""), generated)
    if files.get("pyproject.toml", ""):
        found += _pyproject_dependencies(files["pyproject.toml"])
    unique: dict[str, Requirement] = {}
    for requirement in found:
        unique.setdefault(normalize(requirement_name(requirement.line)), requirement)
    if with_tests and "pytest" not in unique:
        unique["pytest"] = Requirement("pytest", "the generated tests", declared=False)
    return list(unique.values())


def _available(requirement: str) -> bool:
    """Whether the interpreter that runs the checks already has it (then nothing is installed)."""
    name = requirement_name(requirement)
    if not name:
        return True
    try:
        importlib.metadata.distribution(name)
        return True
    except (importlib.metadata.PackageNotFoundError, ValueError):
        pass
    module = name.replace("-", "_")
    if not module.isidentifier():
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _requirement_owners(ctx: CheckContext, source: str, requirements: list[str]) -> list[str]:
    """Who a requirement that cannot be had goes to: the module that wrote the file declaring
    it; for the assembler's generated file, the modules importing it."""
    owner = ctx.owners.get(source)
    if owner is not None and owner != "assembler":
        return [owner]
    # the assembler listed what the modules import: send it to the modules importing it
    wanted = {name for r in requirements for name in imports_of(requirement_name(r))}
    wanted |= {requirement_name(r).replace("-", "_") for r in requirements}
    return sorted(
        {
            ctx.owners[p]
            for p, t in ctx.files.items()
            if p.endswith(".py")
            and ctx.owners.get(p)
            and ctx.owners[p] != "assembler"
            and any(re.search(rf"^\s*(import|from)\s+{re.escape(w)}\b", t, re.M) for w in wanted)
        }
    )


def _refuse(ctx: CheckContext, requirement: Requirement, reason: str) -> None:
    """A requirement that is not installed by the rule: a failed check that names it and why,
    sent to the module that declared it."""
    shown = f"install {requirement_name(requirement.line) or requirement.line} ({requirement.source})"
    ctx.emit("check_started", kind="python-deps", command=shown)
    output = (
        f"{requirement.source} names {requirement.line!r}: {reason}. Only declared, well-known (or allowed) "
        "requirements that are not the project's own modules are installed"
    )
    check = ctx.record("python-deps", shown, False, output, 0.0, requirement=requirement.line)
    modules = _requirement_owners(ctx, requirement.source, [requirement.line])
    for module in modules:
        ctx.failure(module, "python-deps", shown, output)
    check.modules = modules


def prepare_dependencies(ctx: CheckContext, with_tests: bool) -> None:
    """Install what the project requires and this interpreter lacks, and only what the rule
    allows (declared, not the project's own name, well known or allowed by the user): wheels
    only, into the run's own folder (one folder per requirement, reused across rounds), added to
    the checks' `PYTHONPATH`. A requirement refused or that cannot be had is a failed check with
    that reason; the other checks still run (an import of it then fails where it is used, which
    is the evidence its module needs)."""
    wanted = [r for r in declared_requirements(ctx.files, ctx.owners, with_tests) if not _available(r.line)]
    if not wanted:
        return
    own = own_names(ctx.files, [*ctx.owners.values(), *ctx.module_ids])
    sources: dict[str, str] = {}  # the requirements to install -> the file declaring each
    for item in wanted:
        if item.declared:
            ok, reason = install_decision(item.line, own_names=own, allowed=ctx.allow_install)
            if not ok:
                _refuse(ctx, item, reason)
                continue
        sources[item.line] = item.source
    if sources:
        _install(ctx, sources)


def _install(ctx: CheckContext, sources: dict[str, str]) -> None:
    """The allowed requirements installed (or found installed by an earlier round): one check."""
    shown = "pip install --only-binary=:all: " + " ".join(sources)
    ctx.emit("check_started", kind="python-deps", command=shown)
    started = time.monotonic()
    failed: dict[str, str] = {}
    for requirement in sources:
        target = ctx.deps_root / hashlib.sha256(requirement.encode()).hexdigest()[:16]
        if not (target / ".complete").exists():
            error = pip_install(requirement, target, max(60.0, ctx.timeout * 2))
            if error is not None:
                failed[requirement] = error
                continue
        ctx.env["PYTHONPATH"] = os.pathsep.join(filter(None, [ctx.env.get("PYTHONPATH", ""), str(target)]))
        ctx.readable.append(str(target))
    if not failed:
        ctx.record("python-deps", shown, True, "installed", time.monotonic() - started)
        return
    output = (
        f"the project's requirements could not be installed as wheels ({', '.join(failed)}): offline, no "
        "such package, or no wheel for this platform; use the standard library instead where you can, and "
        "import the project's own modules by their file names\n" + "\n".join(failed.values())
    )
    check = ctx.record("python-deps", shown, False, output, time.monotonic() - started)
    modules = sorted({m for r in failed for m in _requirement_owners(ctx, sources.get(r, "requirements.txt"), [r])})
    for module in modules:
        ctx.failure(module, "python-deps", shown, output)
    check.modules = modules


def pip_install(requirement: str, target: Path, timeout: float) -> str | None:
    """One requirement as wheels into `target` (no package's build code runs); the error text,
    or None when installed."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--target",
        str(target),
        requirement,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        error = f"{requirement}: pip did not finish within {timeout:g} s (no network?)"
    else:
        if done.returncode == 0:
            (target / ".complete").write_text(requirement, encoding="utf-8")
            return None
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        error = f"{requirement}: " + " ".join(lines[-2:])[:400]
    shutil.rmtree(target, ignore_errors=True)
    return error
