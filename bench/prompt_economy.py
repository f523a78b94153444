"""Prompt economy, the hyperfocus claim: Matrioska's module prompts against a single-context baseline.

For plans of 10, 50 and 200 modules with realistic artifacts (about 4 KB of code each) and
shared-state values (a few hundred bytes), it counts the prompt tokens (tiny test tokenizer,
trained offline) of:
- hyperfocus: each module's real prompt (`build_module_messages`: goal, own spec and manual,
  only the shared-state keys it reads);
- baseline: the same module prompt plus every earlier artifact, which is what generators that
  keep one growing context send.
Prints the total ratio and the largest single prompt of each.

    python bench/prompt_economy.py [--sizes 10 50 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from langchain_core.messages import HumanMessage  # noqa: E402
from tinymodel import build_tiny_mistral  # noqa: E402

from matrioska.generation.prompt import build_module_messages  # noqa: E402
from matrioska.plan.parsing import architecture_from_dict  # noqa: E402

CODE_LINE = "    document.getElementById('bookList').appendChild(renderBook(book));  // keep ids in sync\n"


def plan(n: int) -> dict:
    ids = [f"module_{i:03d}" for i in range(n)]
    modules = []
    for i, mid in enumerate(ids):
        deps = sorted({j for j in (i - 1, i - 3) if j >= 0})
        modules.append(
            {
                "id": mid,
                "name": f"Module {i}",
                "description": f"Builds feature {i} of the library system",
                "dependencies": [ids[j] for j in deps],
                "shared_state_reads": [f"api_{j}" for j in deps],
                "shared_state_writes": [f"api_{i}"],
                "manual": "Write one file with the feature; export the functions named in your key. " * 3,
            }
        )
    return {"project_name": "Library", "goal": "A library management system with a dashboard", "modules": modules}


def artifact(i: int) -> str:
    return f"feature_{i}.js\n```javascript\n" + CODE_LINE * 48 + "```\n"


def value(i: int) -> dict:
    return {
        "functions": [f"feature{i}Init()", f"feature{i}Render(list)"],
        "element_ids": [f"#feature{i}", f"#feature{i}List"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(build_tiny_mistral(Path(tmp) / "tiny"))

    def tokens(messages: list) -> int:
        return sum(len(tokenizer.encode(str(m.content), add_special_tokens=False)) for m in messages)

    print(f"{'modules':>8}{'hyperfocus':>12}{'baseline':>12}{'ratio':>8}{'largest hf':>12}{'largest base':>14}")
    for n in args.sizes:
        architecture, _ = architecture_from_dict(plan(n))
        shared: dict = {}
        artifacts: list[str] = []
        hyper_total = base_total = hyper_max = base_max = 0
        for i, spec in enumerate(architecture.modules):
            messages, _ = build_module_messages(architecture, spec, shared)
            hyper = tokens(messages)
            base = hyper + tokens([HumanMessage("EARLIER ARTIFACTS:\n" + "\n".join(artifacts))]) if artifacts else hyper
            hyper_total, base_total = hyper_total + hyper, base_total + base
            hyper_max, base_max = max(hyper_max, hyper), max(base_max, base)
            artifacts.append(artifact(i))
            shared[f"api_{i}"] = value(i)
        print(f"{n:>8}{hyper_total:>12}{base_total:>12}{base_total / hyper_total:>8.1f}{hyper_max:>12}{base_max:>14}")


if __name__ == "__main__":
    main()
