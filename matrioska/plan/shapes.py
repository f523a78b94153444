"""Project shapes a small model can follow: what kind of project a task asks for, a compact guide
of a good decomposition for it (with one short example plan) for the architect's prompt, and the
repair of a plan that misses a part every project of that kind needs or that took its names
from a guide's example (`todo.py` for a task about ISBN numbers).

Kinds: a web page (HTML with element ids as contracts, CSS, JavaScript), a small HTTP API
(storage, routes, tests), a data report (reader, transform, report, tests) and a Python
command-line tool or library (storage or core, entry point, tests). Detection reads the task's
words in English and Portuguese; a task that matches none gets no guide and no repair.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..kinds.python.source import import_name

__all__ = [
    "Shape",
    "SHAPES",
    "detect_shape",
    "guide_for",
    "repair_shape",
    "rename_examples",
    "ascii_identifier",
    "task_words",
    "same_word",
    "dominant_script",
    "task_title",
]


@dataclass(frozen=True)
class Shape:
    """One kind of project: how to recognise it and how a good plan for it looks."""

    name: str
    words: tuple[str, ...]
    guide: str


_WEB_GUIDE = """PROJECT SHAPE: a web page (static files, opened in a browser, no build step).
Good modules: "page" (index.html: the structure; it publishes the element ids in shared_state \
key element_ids), "styles" (style.css; reads element_ids), "app" (app.js: the behaviour; reads \
element_ids; it looks elements up only by those ids). index.html links style.css and app.js.
An example of the shape only, for ANOTHER task (do not copy its names; name everything after YOUR task):
{"project_name": "Counter", "goal": "A page with a button that counts clicks", "modules": [
 {"id": "page", "files": ["index.html"], "dependencies": [], "shared_state_writes": ["element_ids"]},
 {"id": "styles", "files": ["style.css"], "dependencies": ["page"], "shared_state_reads": ["element_ids"]},
 {"id": "app", "files": ["app.js"], "dependencies": ["page"], "shared_state_reads": ["element_ids"]}]}"""

_API_GUIDE = """PROJECT SHAPE: a small HTTP API in Python (standard library http.server, or Flask).
Good modules: "storage" (storage.py: load and save the data), "routes" (app.py: the endpoints; \
reads storage_functions; runs the server under if __name__ == "__main__"), "tests" \
(tests/test_app.py: pytest tests that call the handlers or storage directly, no network).
An example of the shape only, for ANOTHER task (do not copy its names; name everything after YOUR task):
{"project_name": "Notes API", "goal": "Create and list notes over HTTP", "modules": [
 {"id": "storage", "files": ["storage.py"], "dependencies": [], "shared_state_writes": ["storage_functions"]},
 {"id": "routes", "files": ["app.py"], "dependencies": ["storage"], "shared_state_reads": ["storage_functions"], "shared_state_writes": ["routes"]},
 {"id": "tests", "files": ["tests/test_app.py"], "dependencies": ["storage", "routes"], "shared_state_reads": ["storage_functions", "routes"]}]}"""

_DATA_GUIDE = """PROJECT SHAPE: a data report in Python (standard library csv and statistics first).
Good modules: "reader" (reader.py: reads the input file into a list of dicts), "transform" \
(transform.py: the computations; reads reader_functions), "report" (report.py: prints or writes \
the report; entry point with argparse and if __name__ == "__main__"), "tests" (tests/test_transform.py \
with a small inline sample). The data file path is a command-line argument.
An example of the shape only, for ANOTHER task (do not copy its names; name everything after YOUR task):
{"project_name": "Sales Report", "goal": "Totals per product from a CSV file", "modules": [
 {"id": "reader", "files": ["reader.py"], "dependencies": [], "shared_state_writes": ["reader_functions"]},
 {"id": "transform", "files": ["transform.py"], "dependencies": ["reader"], "shared_state_reads": ["reader_functions"], "shared_state_writes": ["transform_functions"]},
 {"id": "report", "files": ["report.py"], "dependencies": ["reader", "transform"], "shared_state_reads": ["reader_functions", "transform_functions"]},
 {"id": "tests", "files": ["tests/test_transform.py"], "dependencies": ["transform"], "shared_state_reads": ["transform_functions"]}]}"""

_PYTHON_GUIDE = """PROJECT SHAPE: a Python command-line tool or library (standard library first).
Good modules: "storage" or "core" (the data and logic, in a file named after YOUR task's subject, \
e.g. todo.py for a todo list; publishes its function names in shared_state key api_functions), \
"cli" (main.py: argparse sub-commands calling the core; if __name__ == "__main__"), "tests" \
(tests/test_core.py: pytest tests of the core). One module per layer, not one per command.
An example of the shape only, for ANOTHER task (do not copy its names; name everything after YOUR task):
{"project_name": "Todo CLI", "goal": "Add, list and complete todo items from the command line", "modules": [
 {"id": "core", "files": ["todo.py"], "dependencies": [], "shared_state_writes": ["api_functions"]},
 {"id": "cli", "files": ["main.py"], "dependencies": ["core"], "shared_state_reads": ["api_functions"]},
 {"id": "tests", "files": ["tests/test_todo.py"], "dependencies": ["core"], "shared_state_reads": ["api_functions"]}]}"""

SHAPES: dict[str, Shape] = {
    "web": Shape(
        "web page",
        (
            "html",
            "web page",
            "webpage",
            "website",
            "web site",
            "page",
            "dashboard",
            "frontend",
            "front-end",
            "css",
            "javascript",
            "browser",
            "pagina",
            "site",
            "navegador",
            "painel",
        ),
        _WEB_GUIDE,
    ),
    "api": Shape(
        "HTTP API",
        ("api", "http", "rest", "endpoint", "endpoints", "flask", "fastapi", "web server", "servidor", "microservice"),
        _API_GUIDE,
    ),
    "data": Shape(
        "data report",
        (
            "csv",
            "report",
            "data",
            "dataset",
            "spreadsheet",
            "excel",
            "statistics",
            "relatorio",
            "dados",
            "planilha",
            "estatisticas",
            "vendas",
            "sales",
        ),
        _DATA_GUIDE,
    ),
    "python": Shape(
        "Python command-line tool or library",
        (
            "python",
            "cli",
            "command-line",
            "command line",
            "terminal",
            "library",
            "script",
            "pytest",
            "package",
            "linha de comando",
            "biblioteca",
            "pacote",
            "testes",
        ),
        _PYTHON_GUIDE,
    ),
}


def _plain(text: str) -> str:
    """Lower case without accents (so "página" and "relatório" match their plain spellings)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def detect_shape(task: str) -> str | None:
    """The kind of project `task` asks for, or None: the kind whose words it uses most (ties go
    to the more specific kind: api, data, web, python)."""
    text = _plain(task)
    best, best_score = None, 0
    for name in ("api", "data", "web", "python"):
        score = sum(1 for word in SHAPES[name].words if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text))
        if score > best_score:
            best, best_score = name, score
    return best


def guide_for(task: str) -> str:
    """The architect's guide for the task's kind of project ("" when none is recognised)."""
    name = detect_shape(task)
    return SHAPES[name].guide if name else ""


# The words of the guides' example plans that belong to their example task (a todo list, a click
# counter, notes, sales), and the calculator small models fall back on: a file the repair adds is
# never named after one unless the task uses it.
_EXAMPLE_WORDS = frozenset({"todo", "todos", "counter", "notes", "note", "sales", "calculator"})

# Words that say nothing about a task's subject, for telling whether a plan is about its task:
# English and Portuguese function words (three letters or more; shorter words are never counted),
# the words of a request itself ("create a simple app") and the names of the formats and parts
# every project of a kind has (a web page for a library and one for a bakery share "page").
_STOP_WORDS = frozenset(
    """
    the and for with that this these those from into onto over under about after before your you yours our
    their its are was were will would should shall can could may might must has have had not but nor all
    any each every some more most less than then them they there here what which who whom whose when where
    how why also only just very like please want need needs let lets get gets via per one two three
    use uses using used make makes making build builds building create creates creating write writes
    writing implement implements develop develops design designs generate generates code coding
    simple small basic little tiny new complete full working
    app apps application applications program programs project projects tool tools system systems
    software script scripts module modules file files function functions page pages web website site
    html css javascript python frontend backend
    uma umas uns com para por pelo pela pelos pelas que dos das nos nas num numa ele ela eles elas seu sua
    seus suas meu minha este esta estes estas isso isto esse essa esses essas aquele aquela como mais
    muito muita sem sobre entre tambem ser ter fazer faca crie criar construa construir escreva escrever
    desenvolva desenvolver implemente implementar gere gerar quero preciso usando simples pequeno pequena
    novo nova completo completa aplicativo aplicacao programa projeto sistema ferramenta pagina arquivo
    arquivos modulo modulos funcao funcoes
    """.split()
)
# Words a title taken from a task does not start with ("Create a simple ...", "Crie um ...").
_LEADING = frozenset(
    """
    a an the i we me please could can would you just create build make write develop implement design
    generate code program simple small basic little tiny new want need um uma o os as eu quero preciso
    por favor crie criar construa construir faca fazer escreva escrever desenvolva desenvolver
    implemente implementar gere gerar simples pequeno pequena novo nova
    """.split()
)
# Words that end a title's phrase ("Library management system with a dashboard").
_BREAKS = frozenset(
    """
    with that which where who using for to in on from by via so and or but while a an the
    com que onde usando para em no na nos nas pelo pela e ou mas o os as um uma
    """.split()
)
_TITLE_WORDS = 5
_TITLE_CUT = re.compile(r"[:;,.!?()\[\]{}\n\u2013\u2014]|\s-\s")


def task_words(text: str) -> list[str]:
    """The content words of a text: lower case, accents dropped, camelCase and snake_case split,
    words of three letters or more that are not in the stop-word list (English and Portuguese)."""
    spaced = re.sub(r"(?i)\b(java|type)script\b", " ", text)  # not "java" + "script"
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", spaced)
    return [w for w in re.findall(r"[^\W\d_]{3,}", _plain(spaced)) if w not in _STOP_WORDS]


def same_word(a: str, b: str) -> bool:
    """Two content words are the same word, give or take an ending: equal, sharing their first five
    letters ("library" / "libraries", "biblioteca" / "bibliotecas"), or one of four letters or
    more starting the other with at most two letters more ("book" / "books")."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 5 and short[:5] == long[:5]:
        return True
    return len(short) >= 4 and long.startswith(short) and len(long) - len(short) <= 2


def dominant_script(text: str) -> str | None:
    """The Unicode script most of a text's letters are written in ("LATIN", "CJK", "CYRILLIC",
    "ARABIC", ...), or None when it has no letters."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            if any(tag in name for tag in ("CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPH")):
                script = "CJK"
            elif "LATIN" in name:
                script = "LATIN"  # fullwidth Latin letters included
            else:
                script = name.split(" ", 1)[0] or "OTHER"
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def task_title(task: str) -> str:
    """A short project name from a task: its first phrase ("Create a library management system with
    a dashboard: ..." -> "Library management system"), at most five words, without the request's
    own words in front; its first clause when that phrase names no subject ("Página web com um
    contador"); the task's first content words when neither does; "Project" when nothing is left."""
    words = _TITLE_CUT.split(task.strip(), maxsplit=1)[0].split()
    while words and _plain(words[0]) in _LEADING:
        words = words[1:]
    phrase: list[str] = []
    for word in words:
        if phrase and _plain(word) in _BREAKS:
            break
        phrase.append(word)
    phrase = phrase[:_TITLE_WORDS]
    if not task_words(" ".join(phrase)):  # "Página web com um contador": the clause, not the phrase
        phrase = words[:_TITLE_WORDS]
        while len(phrase) > 1 and _plain(phrase[-1]) in _BREAKS:
            phrase = phrase[:-1]
    if not task_words(" ".join(phrase)):
        phrase = [w for w in re.findall(r"[^\W\d_][\w'-]*", task) if task_words(w)][:3] or phrase
    title = " ".join(phrase).strip(" -'\"")
    return title[:1].upper() + title[1:] if title else "Project"


def ascii_identifier(text: str, fallback: str = "module") -> str:
    """A lower-case ASCII identifier from any text ("Relatório de vendas" -> "relatorio_de_vendas")."""
    slug = re.sub(r"[^a-z0-9]+", "_", _plain(text)).strip("_")
    if slug and slug[0].isdigit():
        slug = f"m_{slug}"
    return slug[:40] or fallback


def _files(modules: list[Any]) -> list[str]:
    return [f for m in modules for f in m.files]


def _is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", ".test.js", ".spec.js"))
        or "tests" in PurePosixPath(path).parts
    )


def _python_modules(modules: list[Any]) -> list[Any]:
    return [m for m in modules if any(f.endswith(".py") for f in m.files)]


_ENTRY_NAMES = ("__main__.py", "main.py", "cli.py", "app.py", "run.py", "report.py", "server.py")


def _import_name(path: str) -> str:
    """The last part of a Python file's import name, as an identifier ("isbn.py" -> "isbn",
    "isbn/__init__.py" -> "isbn"): what a tests file for it is named after."""
    name = import_name(path)
    parts = PurePosixPath(path)
    return ascii_identifier(name.rsplit(".", 1)[-1] if name else parts.stem, "")


def _tested_name(core: list[Any], task: str) -> str:
    """What an added tests file is named after: the import name of the project's core Python file
    (the first that is not an entry point: `tests/test_isbn.py` for isbn.py), else the task's
    subject. Never a word of the guides' example plans (a core file a small model named todo.py,
    copying the example, for a task about anything but todos): the task's subject then."""
    sources = [f for m in core for f in m.files if f.endswith(".py")]
    library = [f for f in sources if PurePosixPath(f).name not in _ENTRY_NAMES]
    name = _import_name((library or sources or [""])[0])
    said = _said(task)
    copied = [w for w in name.split("_") if w in _EXAMPLE_WORDS and not any(same_word(w, t) for t in said)]
    if name and not copied:
        return name
    return _subject(task) or name or "project"


def _said(task: str) -> list[str]:
    """The task's content words, hyphenated words also joined ("to-do" -> "todo"), and the "to do"
    of a "to do list" as one word (not the one of "a tool to do ...")."""
    joined = re.sub(r"(?i)\bto\s+do(?=s?\s+(?:lists?|items?|apps?|tasks?)\b)", "todo", task)
    joined = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", "", joined)
    return task_words(task) + task_words(joined.lower())  # lower: "To-Do" is not camelCase


def _subject(task: str) -> str:
    """The task's subject as an identifier: its title's first two content words, else the task's
    ("A Python library that validates ISBN numbers" -> "library"); "" when it has none."""
    subject = task_words(task_title(task)) or task_words(task)
    return ascii_identifier("_".join(subject[:2]), "project") if subject else ""


# A guide's example word standing alone in a name: "todo.py", "tests/test_todo.py", "todo-app",
# "Todo CLI" ("todolist" and "TodoList" are left alone).
_EXAMPLE_NAME = re.compile(
    r"(?i)(?<![a-z0-9])(" + "|".join(sorted(_EXAMPLE_WORDS, key=len, reverse=True)) + r")(?![a-z0-9])"
)


def rename_examples(architecture: Any, task: str) -> tuple[Any, list[str]]:
    """Rename what a plan took from the guides' example plans for a task that does not use those
    words (`_EXAMPLE_WORDS`: todo.py, tests/test_todo.py, a module id "todo", the project name
    "Todo CLI" for a task about ISBN numbers) after the task's subject (`_subject`, the name the
    repair gives its own files), each rename reported. The plan stays consistent: the files, the
    module ids and the dependencies on them, and every mention of an old path, file name, import
    name or id in the modules' texts, the goal and the integration rules ("import todo" ->
    "import library" for "A Python library that validates ISBN numbers").
    The project name becomes the task's title. A task that uses the word keeps it (a todo app
    keeps todo.py, a "to-do list" too); the guides' generic names (main.py, app.py, index.html,
    core, tests), files of prose (.md, .txt) and shared_state keys stay. A subject that is a
    standard-library module's name gets "_core" (calendar_core.py, never calendar.py)."""
    subject = _subject(task) or "project"
    if subject in sys.stdlib_module_names:  # calendar.py would shadow the module its code imports
        subject = f"{subject}_core"
    renaming = _Renaming(_said(task), subject)
    modules = list(architecture.modules)
    notes: list[str] = []
    paths = _renamed_files(renaming, modules, notes)
    renamed_ids = _renamed_ids(renaming, modules, notes)
    project_renamed = renaming.rename(architecture.project_name) != architecture.project_name
    if not notes and not project_renamed:
        return architecture, []
    text = renaming.rewriter()
    update: dict[str, Any] = {
        "modules": [_renamed_module(spec, renaming, paths, renamed_ids, text) for spec in modules],
        "goal": text(architecture.goal),
        "integration_rules": text(architecture.integration_rules),
    }
    if project_renamed:
        update["project_name"] = task_title(task)
        notes.append(
            f"the plan named the project {architecture.project_name!r} after the guides' example, not the task; "
            f"renamed {update['project_name']!r}"
        )
    return architecture.model_copy(update=update), notes


@dataclass
class _Renaming:
    """How `rename_examples` renames: a guide's example word the task never said becomes the
    task's subject; and every old name it renamed (path, file name, import name, module id) with
    its new one, to rewrite where the plan's texts mention them."""

    said: list[str]
    subject: str
    mentions: dict[str, str | None] = field(default_factory=dict)  # old -> new, None where two renames disagree

    def copied(self, word: str) -> bool:
        """Whether a guide's example word is copied: the task never says it."""
        return not any(same_word(word.lower(), t) for t in self.said)

    def rename(self, text: str, spaced: bool = False) -> str:
        """`text` with each copied example word replaced by the subject (its capital kept;
        `spaced`: words apart, for a name people read)."""

        def one(match: re.Match[str]) -> str:
            word = match.group(1)
            if not self.copied(word):
                return word
            new = self.subject.replace("_", " ") if spaced else self.subject
            return new[:1].upper() + new[1:] if word[:1].isupper() else new

        return _EXAMPLE_NAME.sub(one, text)

    def mention(self, old: str, new: str) -> None:
        """Remember that `old` became `new` (two renames that disagree forget it)."""
        if old != new:
            self.mentions[old] = new if self.mentions.get(old, new) == new else None

    def mention_path(self, path: str, new: str) -> None:
        """A renamed file: its path, its file name and each part's stem (the import names)."""
        old_parts, new_parts = PurePosixPath(path).parts, PurePosixPath(new).parts
        self.mention(path, new)
        self.mention(old_parts[-1], new_parts[-1])
        for old_part, new_part in zip(old_parts, new_parts, strict=False):
            self.mention(PurePosixPath(old_part).stem, PurePosixPath(new_part).stem)

    def rewriter(self) -> Callable[[str], str]:
        """A function that rewrites every remembered mention in a text (longest names first)."""
        mentions = self.mentions
        keys = sorted((k for k, v in mentions.items() if v is not None), key=len, reverse=True)
        pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, keys)) + r")(?![\w-])") if keys else None

        def text(value: str) -> str:
            return pattern.sub(lambda m: mentions[m.group(1)] or m.group(1), value) if pattern else value

        return text


def _free_path(new: str, taken: set[str]) -> str:
    """`new`, or `new` with _2, _3, ... before its suffix while another file has that path."""
    stem, suffix = PurePosixPath(new).stem, PurePosixPath(new).suffix
    parent = str(PurePosixPath(new).parent)
    n = 2
    while new in taken:
        new = str(PurePosixPath(parent) / f"{stem}_{n}{suffix}") if parent != "." else f"{stem}_{n}{suffix}"
        n += 1
    return new


def _renamed_files(renaming: _Renaming, modules: list[Any], notes: list[str]) -> dict[str, str]:
    """Old path -> new path of each file named after a guide's example (files of prose keep
    theirs); a new path another file has gets a number. One note per rename."""
    taken = set(_files(modules))
    paths: dict[str, str] = {}
    for path in _files(modules):
        new = path if path.lower().endswith(_PROSE) else renaming.rename(path)
        if new == path or path in paths:
            continue
        taken.discard(path)
        new = _free_path(new, taken)
        taken.add(new)
        paths[path] = new
        renaming.mention_path(path, new)
        notes.append(f"the plan named file {path!r} after the guides' example, not the task; renamed {new!r}")
    return paths


def _renamed_ids(renaming: _Renaming, modules: list[Any], notes: list[str]) -> dict[str, str]:
    """Old id -> new id of each module named after a guide's example; a new id another module
    has gets a number. One note per rename."""
    ids = {m.id for m in modules}
    renamed_ids: dict[str, str] = {}
    for spec in modules:
        new, base, n = renaming.rename(spec.id), renaming.rename(spec.id), 2
        if new == spec.id:
            continue
        while new in ids:
            new, n = f"{base}_{n}", n + 1
        ids.add(new)
        renamed_ids[spec.id] = new
        renaming.mention(spec.id, new)
        notes.append(f"the plan named module {spec.id!r} after the guides' example, not the task; renamed {new!r}")
    return renamed_ids


def _renamed_module(
    spec: Any, renaming: _Renaming, paths: dict[str, str], renamed_ids: dict[str, str], text: Callable[[str], str]
) -> Any:
    """One module with the renames applied: its id, name, files, dependencies and the mentions
    in its texts."""
    update: dict[str, Any] = {name: text(getattr(spec, name)) for name in _MENTION_FIELDS}
    update.update(
        id=renamed_ids.get(spec.id, spec.id),
        name=renaming.rename(spec.name, spaced=True),
        files=[paths.get(f, f) for f in spec.files],
        dependencies=[renamed_ids.get(d, d) for d in spec.dependencies],
    )
    return spec.model_copy(update=update)


# Files of prose keep their names (release notes are no copied example).
_PROSE = (".md", ".txt", ".rst")
# The texts of a module that may mention a renamed file, import name or module id.
_MENTION_FIELDS = ("description", "inputs", "outputs", "rules", "manual")


def repair_shape(architecture: Any, task: str) -> tuple[Any, list[str]]:
    """Rename what the plan copied from the guides' examples (`rename_examples`), then add what
    the task's kind of project needs and the plan lacks (each rename and addition reported):
    a Python, data or API plan gets a tests module and an entry point; a web plan gets a page.
    Only a plan with a file plan is judged (without one nothing says what is missing)."""
    from ..state import ModuleSpec

    architecture, notes = rename_examples(architecture, task)
    shape = detect_shape(task)
    modules = list(architecture.modules)
    if not any(m.files for m in modules):
        return architecture, notes  # a plan without a file plan says nothing about what is missing
    ids = {m.id for m in modules}

    def unique(base: str) -> str:
        name, n = base, 2
        while name in ids:
            name, n = f"{base}_{n}", n + 1
        ids.add(name)
        return name

    files = _files(modules)
    if shape == "web" and not any(f.lower().endswith((".html", ".htm")) for f in files):
        page = ModuleSpec(
            id=unique("page"),
            name="Page",
            description="The HTML page: structure and element ids",
            files=["index.html"],  # no HTML file is planned, so the name is free
            shared_state_writes=["page_element_ids"],
            manual="Write index.html. Give every element the scripts use an id; publish them in page_element_ids. "
            "Link every .css file in <head> and every .js file at the end of <body>: "
            + ", ".join(f for f in files if f.endswith((".css", ".js"))),
        )
        modules.insert(0, page)
        notes.append(f"the web plan had no HTML page; added module {page.id!r} ({page.files[0]})")
    if shape in ("python", "data", "api"):
        python = _python_modules(modules)
        added_tests = False
        core = [m for m in python if not any(_is_test_file(f) for f in m.files)]
        if python and not any(_is_test_file(f) for f in files):
            target = core[0] if core else python[0]
            tests = ModuleSpec(
                id=unique("tests"),
                name="Tests",
                description=f"pytest tests of {', '.join(m.id for m in core) or target.id}",
                dependencies=[m.id for m in core] or [target.id],
                files=[f"tests/test_{_tested_name(core or [target], task)}.py"],
                shared_state_reads=[k for m in core for k in m.shared_state_writes][:6],
                manual="Write pytest tests (plain assert) that import the project's modules and check their behaviour; "
                "no network, no files outside a tmp_path.",
            )
            modules.append(tests)
            added_tests = True
            notes.append(f"the {SHAPES[shape].name} plan had no tests; added module {tests.id!r} ({tests.files[0]})")
        if core and not any(PurePosixPath(f).name in _ENTRY_NAMES for f in files):
            entry = ModuleSpec(
                id=unique("cli"),
                name="Entry point",
                description="The command-line entry point",
                dependencies=[m.id for m in core],
                files=["main.py"],
                shared_state_reads=[k for m in core for k in m.shared_state_writes][:6],
                manual="Write main.py: argparse with --help, calling the other modules' functions; "
                'run it under if __name__ == "__main__":.',
            )
            modules.insert(len(modules) - 1 if added_tests else len(modules), entry)  # before the added tests
            notes.append(f"the {SHAPES[shape].name} plan had no entry point; added module {entry.id!r} (main.py)")
    if not notes:
        return architecture, []
    return architecture.model_copy(update={"modules": modules}), notes
