"""Regenerates the corpus of bad model replies (python tests/corpus/make_corpus.py).

File names say what each reply should end in: `arch-<outcome>-*.txt` are architect replies,
`exec-<outcome>-*.txt` executor replies (declared writes: element_ids, score). Outcomes:
ok (valid as is), repaired (valid after repair, repairs reported), error (a typed error).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def M(i, deps=(), r=(), w=()):
    return {
        "id": i,
        "name": i.upper(),
        "dependencies": list(deps),
        "shared_state_reads": list(r),
        "shared_state_writes": list(w),
    }


GOOD = {
    "project_name": "Lib",
    "goal": "Library app",
    "modules": [M("html", w=["element_ids"]), M("js", ["html"], ["element_ids"], ["score"])],
}
G = json.dumps(GOOD)
SEED = json.dumps(
    {
        "project_name": "Lib",
        "general_manual": {"goal": "g", "modules": GOOD["modules"], "integration_rules": "r"},
        "specific_manuals": [{"module_id": "html", "manual_text": "do it"}],
    }
)

arch = {
    "ok-flat": G,
    "ok-seed-shape": SEED,
    "repaired-prose-before-after": "Sure, here is the plan you asked for:\n" + G + "\nLet me know if you need changes!",
    "repaired-fence": "```json\n" + SEED + "\n```",
    "repaired-fence-no-lang": "Plan:\n```\n" + G + "\n```",
    "repaired-trailing-commas": G.replace("]}", "],}").replace('"Lib",', '"Lib",,'),
    "repaired-single-quotes": G.replace('"', "'"),
    "repaired-comments": G.replace('"goal"', '// the goal\n"goal"').replace('"modules"', '/* list */ "modules"'),
    "repaired-unquoted-keys": G.replace('"project_name"', "project_name").replace('"goal"', "goal"),
    "repaired-truncated-mid-object": G[: G.index('"js"') + 20],
    "repaired-code-expression-values": G.replace('"Library app"', "config.goal + suffix"),
    "repaired-python-literals": G.replace("[]", "None").replace('"Lib"', "'Lib'"),
    "repaired-missing-ids": json.dumps(
        {
            "project_name": "P",
            "goal": "g",
            "modules": [{"name": "HTML Page"}, {"name": "Logic", "dependencies": ["html_page"]}],
        }
    ),
    "repaired-missing-goal": json.dumps({"project_name": "P", "modules": [M("a")]}),
    "repaired-wrong-types": json.dumps(
        {
            "project_name": ["Lib", "System"],
            "goal": {"main": "x"},
            "modules": [
                {"id": 1, "name": 5, "dependencies": "", "rules": ["r1", "r2"], "shared_state_writes": "a, b"},
                {"id": "2", "shared_state_reads": "a", "dependencies": "1"},
            ],
        }
    ),
    "repaired-duplicate-identical-module": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a"), M("a"), M("b", ["a"])]}
    ),
    "repaired-unknown-dependency": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", ["ghost"]), M("b", ["a"])]}
    ),
    "repaired-dependency-by-name": json.dumps({"project_name": "P", "goal": "g", "modules": [M("a"), M("b", ["A"])]}),
    "repaired-self-dependency": json.dumps({"project_name": "P", "goal": "g", "modules": [M("a", ["a"])]}),
    "repaired-read-never-written": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", w=["x"]), M("b", ["a"], ["x", "nobody"])]}
    ),
    "repaired-read-without-dependency": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", w=["x"]), M("b", r=["x"])]}
    ),
    "repaired-two-writers-one-key": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", w=["x"]), M("b", ["a"], w=["x"])]}
    ),
    "repaired-modules-as-object": json.dumps(
        {
            "project_name": "P",
            "goal": "g",
            "modules": {"html": {"name": "HTML"}, "css": {"name": "CSS", "dependencies": ["html"]}},
        }
    ),
    "repaired-other-language": "Claro! Aqui está o plano do projeto:\n```json\n"
    + json.dumps(
        {
            "project_name": "Sistema de Biblioteca",
            "goal": "Gerenciar livros",
            "modules": [
                M("estrutura_html", w=["ids_elementos"]),
                M("estilo_css", ["estrutura_html"], ["ids_elementos"]),
            ],
        },
        ensure_ascii=False,
    )
    + "\n```\nEspero que ajude.",
    "ok-non-ascii-names": json.dumps(
        {
            "project_name": "Библиотека 図書館",
            "goal": "Gérer les livres ✓",
            "modules": [M("módulo_ñ", w=["clé"]), M("модуль", ["módulo_ñ"], ["clé"])],
        },
        ensure_ascii=False,
    ),
    "ok-200-modules": json.dumps(
        {
            "project_name": "Big",
            "goal": "g",
            "modules": [
                M(f"m{i}", [f"m{i - 1}"] if i else [], [f"k{i - 1}"] if i else [], [f"k{i}"]) for i in range(200)
            ],
        }
    ),
    "repaired-1mb-reply": "Here you go.\n"
    + json.dumps({"project_name": "Huge", "goal": "x" * 1_000_000, "modules": [M("a")]})
    + "\nDone.",
    "error-empty": "",
    "error-whitespace": "   \n\n  ",
    "error-prose-only": "I would split this into an HTML module, a CSS module and a JavaScript module.",
    "error-no-modules": json.dumps({"project_name": "P", "goal": "g", "modules": []}),
    "error-modules-are-strings": json.dumps({"project_name": "P", "goal": "g", "modules": ["html", "css"]}),
    "error-duplicate-ids-different": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a"), M("a", w=["x"])]}
    ),
    "error-cycle": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", ["c"]), M("b", ["a"]), M("c", ["b"])]}
    ),
    "error-cycle-through-reads": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M("a", ["b"], w=["x"]), M("b", r=["x"])]}
    ),
    "error-json-array": json.dumps([M("a"), M("b")]),
    "error-too-many-modules": json.dumps(
        {"project_name": "P", "goal": "g", "modules": [M(f"m{i}") for i in range(501)]}
    ),
}

execs = {
    "ok-marker": 'index.html\n```html\n<div id="score"></div>\n```\nSHARED_STATE_UPDATE: {"element_ids": ["#score"], "score": 0}',
    "repaired-json-fence-no-marker": '```js\nlet s = 0;\n```\n```json\n{"element_ids": ["#a"], "score": 1}\n```',
    "repaired-marker-then-fence": 'code\nSHARED_STATE_UPDATE:\n```json\n{"element_ids": ["#a"], "score": 2}\n```',
    "repaired-code-expression": 'code\nSHARED_STATE_UPDATE: {"element_ids": ["#a"], "score": gameState.score}',
    "repaired-trailing-comma-single-quotes": "code\nSHARED_STATE_UPDATE: {'element_ids': ['#a',], 'score': 3,}",
    "repaired-truncated-update": 'code\nSHARED_STATE_UPDATE: {"element_ids": ["#a", "#b',
    "repaired-undeclared-keys": 'code\nSHARED_STATE_UPDATE: {"element_ids": ["#a"], "score": 1, "api_key": "x", "theme": "dark"}',
    "repaired-missing-declared-key": 'code\nSHARED_STATE_UPDATE: {"element_ids": ["#a"]}',
    "repaired-prose-after-update": 'code\nSHARED_STATE_UPDATE: {"element_ids": ["#a"], "score": 1}\nThis JSON lists the ids.',
    "error-no-update": "function f() { return 1; }",
    "error-empty": "",
    "error-unreadable-update": "code\nSHARED_STATE_UPDATE: the ids are #a and #b",
}

for old in HERE.glob("*.txt"):
    old.unlink()
for name, text in arch.items():
    (HERE / f"arch-{name}.txt").write_text(text, encoding="utf-8")
for name, text in execs.items():
    (HERE / f"exec-{name}.txt").write_text(text, encoding="utf-8")
print(len(arch), "architect replies,", len(execs), "executor replies")
