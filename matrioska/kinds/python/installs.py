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

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath

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
