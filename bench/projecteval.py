"""ProjectEval (ACL 2025 Findings, RyanLoil/ProjectEval) through Matrioska: each project built from its
level-1 prompt by `matrioska run`, its tests' parameters answered from the run's contract and project,
the benchmark's own test functions run unchanged, and the pass rate beside the leaderboard's.

    python bench/projecteval.py --projecteval DIR --model MODEL [--base-url URL] [--projects 1,3,14]
                                [--attempts K] [--out OUT] [--json PATH] [--max-new-tokens N]
                                [--test-timeout S] [--build-timeout S] [--matrioska-args "..."]

DIR is a checkout of ProjectEval that you fetched (GPL-3.0, not vendored here): the bench reads
`data/project_eval_project.json` (prompts and test code), `data/material/` (the files console and batch
projects read), `utils.py` and `config.ini` (its test helpers and threshold) and `docs/execution.csv`
(the leaderboard) from there. Its helpers import OpenCV, python-Levenshtein and Selenium:
`pip install selenium opencv-python-headless Levenshtein openpyxl pandas`, and Debian's `chromium` and
`chromium-driver` for the websites.

- Building: websites as static pages served from 127.0.0.1 (the tests need a URL, not a framework);
  console and batch projects as Python programs, the project's material files copied in.
- Answering: `test_url` is the served start page; an element id is the contract's (or the pages') id
  whose words are closest to the parameter's; `entry` is the contract's entry point (or the program's
  main file). What those do not know is asked in one model call per project that sees the project's
  interface (its files, ids, entry point), as the benchmark's own protocol asks the agent.
- Testing: each test function exactly as the benchmark has it, in the namespace its judge gives
  (`By`, `utils`, `threshold`, `_subprocess`, ...): websites through Selenium 4 and headless Chromium
  (requests off 127.0.0.1 refused), programs inside Matrioska's sandbox (bubblewrap: no network, a
  copy of the project), one process per project, each test with a timeout.
- Reporting: tests passed out of the total per project, the overall pass rate (tests passed / tests),
  the leaderboard's `Direct-Level1` rows beside it, and a JSON file. `--attempts K` builds each project
  K times: a test passes when it passes in any of them (Pass@K), and the table says which K.

Bad input (no DIR, no data file, no chromedriver for a website project) is one line and exit 2.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path("data") / "project_eval_project.json"
RUNNER = Path(__file__).with_name("projecteval_runner.py")
LEADERBOARD_SHOWN = 8  # rows of the leaderboard printed beside the figure (Mistral's always)

WEBSITE_FRAME = (
    "\n\nBuild it as static web pages (HTML, CSS and JavaScript files, no server code, no external "
    "libraries or CDNs): the start page is index.html, every element a user works with has an id."
)
PROGRAM_FRAME = (
    "\n\nBuild it as a Python 3 program run from the command line (python main.py) in the folder that "
    "holds its data files; it prints its results and its error messages."
)


class BenchError(Exception):
    """Bad input: printed as one line, exit 2."""


# --------------------------------------------------------------------------------- the benchmark


@dataclass
class Test:
    page: str
    function: str
    code: str
    parameters: list[dict[str, str]]


@dataclass
class Project:
    id: str
    type: str  # "website", "console", "batch"
    prompt: str
    tests: list[Test]
    stack: str = ""  # its framework_technical_stack: "None" is a console the judge talks to

    @property
    def website(self) -> bool:
        return self.type == "website"

    @property
    def console(self) -> bool:
        """A program the judge starts once and types into (its `ConsoleManager`, for the stack
        "None"); the others (Openpyxl, Statsmodels, Matplotlib) are run by the tests themselves."""
        return not self.website and self.stack == "None"


def load_projects(folder: Path, wanted: list[str] | None) -> list[Project]:
    if not folder.is_dir():
        raise BenchError(f"--projecteval: {folder} is not a folder (fetch RyanLoil/ProjectEval there)")
    path = folder / DATA
    if not path.is_file():
        raise BenchError(f"--projecteval: {folder} has no {DATA} (is it a checkout of ProjectEval?)")
    for helper in ("utils.py", "config.ini"):
        if not (folder / helper).is_file():
            raise BenchError(f"--projecteval: {folder} has no {helper} (its test helpers)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        projects = [
            Project(
                str(p["project_id"]),
                str(p["project_type"]),
                str(p["nl_prompt"]),
                [
                    Test(page["page"], f["function"], f["test"], list(f.get("parameter") or []))
                    for page in p.get("testcode") or []
                    for f in page.get("function") or []
                ],
                str(((p.get("framework_technical_stack") or [{}])[0] or {}).get("technical_stack", "")),
            )
            for p in raw
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"--projecteval: {path} is not in ProjectEval's format ({exc})") from None
    if wanted:
        known = {p.id for p in projects}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise BenchError(
                f"--projects: no project {', '.join(unknown)} in {path} (it has {', '.join(sorted(known, key=int))})"
            )
        projects = [p for p in projects if p.id in wanted]
    return projects


def threshold_of(folder: Path) -> float:
    match = re.search(r"^\s*STRING_SIMILARITY_THRESHOLD\s*=\s*([\d.]+)", (folder / "config.ini").read_text(), re.M)
    return float(match.group(1)) if match else 0.65


def leaderboard(folder: Path) -> list[tuple[str, float, float | None]]:
    """(model, Direct-Level1, All-Avg or None) of the benchmark's own leaderboard, best first (a row
    without a Direct-Level1 figure is left out; OpenHands has no All-Avg)."""
    path = folder / "docs" / "execution.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                direct = float(row["Direct-Level1"])
            except (KeyError, TypeError, ValueError):
                continue
            try:
                average: float | None = float(row.get("All-Avg") or "")
            except ValueError:
                average = None
            rows.append((str(row.get("Model") or "").strip(), direct, average))
    return sorted(rows, key=lambda r: -r[1])


def chromedriver() -> str | None:
    return shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).exists()), None
    )


# --------------------------------------------------------------------------------- building


@dataclass
class Build:
    out: Path
    returncode: int | None
    seconds: float
    verdict: str = ""
    contract: dict[str, Any] = field(default_factory=dict)
    interfaces: dict[str, Any] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        return self.out / "project"


def build(project: Project, out: Path, args: argparse.Namespace) -> Build:
    """`matrioska run` on the project's level-1 prompt, as a user runs it."""
    task = project.prompt + (WEBSITE_FRAME if project.website else PROGRAM_FRAME)
    command = [sys.executable, "-m", "matrioska", "run", "--out", str(out), "--model", args.model]
    if args.base_url:
        command += ["--base-url", args.base_url]
    if args.max_new_tokens:
        command += ["--max-new-tokens", str(args.max_new_tokens)]
    command += [*shlex.split(args.matrioska_args), task]
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (out / "matrioska_run.log").open("w", encoding="utf-8") as log:
        try:
            code: int | None = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=args.build_timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
    done = Build(out, code, time.monotonic() - started)
    manifest = out / "matrioska_checkpoints" / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        done.contract = data.get("contract") or {}
        done.interfaces = data.get("interfaces") or {}
        verdict = data.get("verification") or {}
        done.verdict = str(verdict.get("status") or verdict.get("summary") or "")[:80]
    return done


# --------------------------------------------------------------------------------- answering


def _words(text: str) -> list[str]:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]


def element_ids(built: Build) -> dict[str, str]:
    """Every element id the run decided (its contract) or wrote (its pages), with its words."""
    ids: dict[str, str] = {}
    for contract in built.contract.values():
        for element in (contract or {}).get("elements") or []:
            ids[str(element.get("id"))] = " ".join([str(element.get("id")), str(element.get("label") or "")])
    for face in built.interfaces.values():
        for entry in (face or {}).get("files") or []:
            for name in entry.get("ids") or []:
                ids.setdefault(str(name), str(name))
    return ids


def entry_point(built: Build) -> str:
    for contract in built.contract.values():
        if (contract or {}).get("entry"):
            return str(contract["entry"])
    files = (
        sorted(p.relative_to(built.project).as_posix() for p in built.project.rglob("*.py"))
        if built.project.is_dir()
        else []
    )
    for name in ("main.py", "app.py", "cli.py"):
        if name in files:
            return name
    for name in files:
        if "__main__" in (built.project / name).read_text(encoding="utf-8", errors="replace"):
            return name
    return files[0] if files else "main.py"


def start_page(built: Build) -> str:
    if (built.project / "index.html").is_file():
        return "index.html"
    pages = (
        sorted(p.relative_to(built.project).as_posix() for p in built.project.rglob("*.htm*"))
        if built.project.is_dir()
        else []
    )
    return pages[0] if pages else "index.html"


def closest_id(name: str, description: str, ids: dict[str, str]) -> str | None:
    """The id whose words are closest to the parameter's (`calculate_button_id` -> `calculateBtn`)."""
    wanted = [w for w in _words(name) if w not in {"id", "ids", "element", "xpath"}]
    if not wanted or not ids:
        return None
    target = " ".join(wanted)
    best, score = None, 0.0
    for element, words in ids.items():
        said = " ".join(_words(words))
        ratio = difflib.SequenceMatcher(None, target, said).ratio()
        shared = len(set(wanted) & set(_words(words))) / len(wanted)
        value = max(ratio, shared)
        if value > score:
            best, score = element, value
    return best if score >= 0.5 else None


# parameters that name one element (`name_field`, `save_button_xpath`, `result_element_id`)
ELEMENT_NAMES = ("_id", "_ids", "_field", "_input", "_button", "_element", "_xpath")


def answer_by_rule(test: Test, parameter: dict[str, str], built: Build, url: str) -> tuple[Any, str] | None:
    """(answer, where it came from), or None when neither the contract nor the project knows it."""
    name = parameter.get("name", "")
    if name == "test_url" or name.endswith("_url") and "test" in name:
        return url, "served"
    if name == "entry" or "program file" in parameter.get("description", ""):
        return entry_point(built), "contract" if any(c.get("entry") for c in built.contract.values()) else "project"
    if name.endswith(ELEMENT_NAMES):  # an element: its id, or the XPath that finds it by its id
        found = closest_id(name, parameter.get("description", ""), element_ids(built))
        if found is not None:
            in_contract = any(found == e.get("id") for c in built.contract.values() for e in c.get("elements") or [])
            answer = f"//*[@id='{found}']" if name.endswith("_xpath") else found
            return answer, "contract" if in_contract else "project"
    return None


def interface_text(built: Build, limit: int = 6000) -> str:
    files = (
        sorted(p.relative_to(built.project).as_posix() for p in built.project.rglob("*") if p.is_file())
        if built.project.is_dir()
        else []
    )
    lines = [f"files: {', '.join(files) or '(none)'}", f"entry point: {entry_point(built)}"]
    ids = element_ids(built)
    if ids:
        lines.append("element ids: " + ", ".join(f"{k} ({v})" if v != k else k for k, v in ids.items()))
    for module, contract in built.contract.items():
        commands = (contract or {}).get("commands") or []
        for command in commands:
            lines.append(f"command of {module}: {json.dumps(command)[:300]}")
    for name in files:
        if name.endswith((".py", ".html", ".js")) and sum(len(x) for x in lines) < limit:
            text = (built.project / name).read_text(encoding="utf-8", errors="replace")
            lines.append(f"--- {name}\n{text[: max(0, limit - sum(len(x) for x in lines))]}")
    return "\n".join(lines)[:limit]


def ask_model(
    project: Project, asked: list[tuple[Test, dict[str, str]]], built: Build, model: Any
) -> dict[tuple[str, str, str], Any]:
    """One call: the parameters nothing else answered, from the project's interface."""
    if not asked or model is None:
        return {}
    from json_repair import repair_json
    from langchain_core.messages import HumanMessage, SystemMessage

    wanted = [
        {
            "page": t.page,
            "function": t.function,
            "name": p.get("name", ""),
            "description": p.get("description", ""),
            "test": t.code[:600],
        }
        for t, p in asked
    ]
    system = (
        "You answer the parameters of tests about a project that was built. Answer from the project "
        'itself. Reply with JSON only: {"answers": [{"page": ..., "function": ..., "name": ..., "answer": ...}]}, '
        "one answer for each parameter asked."
    )
    human = f"THE PROJECT\n{interface_text(built)}\n\nTHE PARAMETERS\n{json.dumps(wanted, indent=1)}"
    try:
        reply = model.invoke([SystemMessage(content=system), HumanMessage(content=human)])
        data = json.loads(repair_json(str(reply.content)) or "{}")
    except Exception as exc:  # a model that fails leaves the parameters unanswered, said in the report
        print(f"  project {project.id}: the model's answers failed: {type(exc).__name__}: {str(exc)[:120]}")
        return {}
    answers = data.get("answers") if isinstance(data, dict) else data
    out: dict[tuple[str, str, str], Any] = {}
    for item in answers if isinstance(answers, list) else []:
        if isinstance(item, dict) and "name" in item:
            out[(str(item.get("page", "")), str(item.get("function", "")), str(item["name"]))] = item.get("answer")
    return out


def answer_all(project: Project, built: Build, url: str, model: Any) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Each test's keyword arguments, and how many answers came from where."""
    kwargs: list[dict[str, Any]] = []
    sources: dict[str, int] = {}
    asked: list[tuple[Test, dict[str, str]]] = []
    for test in project.tests:
        values: dict[str, Any] = {}
        for parameter in test.parameters:
            found = answer_by_rule(test, parameter, built, url)
            if found is None:
                asked.append((test, parameter))
                continue
            values[parameter["name"]] = found[0]
            sources[found[1]] = sources.get(found[1], 0) + 1
        kwargs.append(values)
    answered = ask_model(project, asked, built, model)
    for test, values in zip(project.tests, kwargs, strict=True):
        for parameter in test.parameters:
            name = parameter.get("name", "")
            if name in values:
                continue
            key = (test.page, test.function, name)
            loose = next((v for k, v in answered.items() if k[2] == name and k[1] == test.function), None)
            value = answered.get(key, loose)
            values[name] = "" if value is None else value
            where = "model" if value is not None else "unanswered"
            sources[where] = sources.get(where, 0) + 1
    return kwargs, sources


# --------------------------------------------------------------------------------- testing


def run_tests(
    project: Project, built: Build, kwargs: list[dict[str, Any]], folder: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The benchmark's tests of one project, in one process (websites: Selenium; programs: the sandbox)."""
    work = built.out / "projecteval"
    if work.exists():
        shutil.rmtree(work)
    if built.project.is_dir():
        shutil.copytree(built.project, work / "project")
    else:  # the build made no project: the tests run against an empty folder and fail
        (work / "project").mkdir(parents=True)
    if not project.website:
        for material in sorted((folder / "data" / "material").glob(f"{project.id}-*")):
            if material.is_file():
                shutil.copyfile(material, work / "project" / material.name)
    job = {
        "projecteval": str(folder.resolve()),
        "project": str((work / "project").resolve()),
        "website": project.website,
        "console": project.console,
        "entry": entry_point(built),
        "start_page": start_page(built),
        "threshold": threshold_of(folder),
        "timeout": args.test_timeout,
        "chromedriver": chromedriver(),
        "tests": [
            {"code": t.code, "kwargs": k, "function": t.function} for t, k in zip(project.tests, kwargs, strict=True)
        ],
    }
    (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
    shutil.copyfile(RUNNER, work / RUNNER.name)
    limit = args.test_timeout * (len(project.tests) + 2) + 30
    if project.website:  # static files only: the browser runs them, on a loopback-only server
        try:
            subprocess.run(
                [sys.executable, str(work / RUNNER.name), str(work / "job.json")],
                cwd=work,
                timeout=limit,
                capture_output=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pass
    else:  # the generated program runs: inside the sandbox, on the copy
        from matrioska.checking.sandbox import resolve_sandbox

        sandbox, note = resolve_sandbox(args.sandbox, timeout=limit)
        if sandbox is None:
            raise BenchError(note)
        result = sandbox.run(
            [sys.executable, RUNNER.name, "job.json"], work, timeout=limit, readable=[str(folder.resolve()), str(ROOT)]
        )
        if not (work / "results.json").is_file():
            return [
                {
                    "function": t.function,
                    "ok": False,
                    "why": f"the runner did not finish: {result.killed or result.output[-300:]}",
                }
                for t in project.tests
            ]
    path = work / "results.json"
    if not path.is_file():
        return [
            {"function": t.function, "ok": False, "why": "the runner did not finish (timeout)"} for t in project.tests
        ]
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------- the table


def report(rows: list[dict[str, Any]], board: list[tuple[str, float, float | None]], attempts: int) -> str:
    lines = [f"ProjectEval, level 1 (the prompt alone), through Matrioska; Pass@{attempts}", ""]
    lines.append(f"{'project':>8} {'type':<8} {'passed':>7} {'tests':>6} {'rate':>7}  answers from")
    for row in rows:
        sources = ", ".join(f"{k} {v}" for k, v in sorted(row["answers"].items()))
        lines.append(
            f"{row['project']:>8} {row['type']:<8} {row['passed']:>7} {row['tests']:>6} {row['rate']:>6.1%}  {sources}"
        )
    passed, total = sum(r["passed"] for r in rows), sum(r["tests"] for r in rows)
    rate = passed / total if total else 0.0
    lines += ["", f"overall: {passed}/{total} tests passed = {rate:.2%} (over the projects run)"]
    points = passed + sum(1 for r in rows if r.get("ran"))
    judged = total + len(rows)
    lines.append(
        f"the judge's count (a point per project built, as it gives one per project it starts; 284 = 264 tests + 20): "
        f"{points}/{judged} = {points / judged if judged else 0.0:.2%}"
    )
    if board:
        lines += ["", "the leaderboard (docs/execution.csv, all 20 projects), Direct-Level1 and All-Avg:"]
        shown = board[:LEADERBOARD_SHOWN] + [r for r in board[LEADERBOARD_SHOWN:] if "mistral" in r[0].lower()]
        lines += [f"  {m:<28} {d:>7.2%} {'-' if a is None else f'{a:.2%}':>7}" for m, d, a in shown]
        lines.append(f"  {'Matrioska (this run)':<28} {points / judged if judged else 0.0:>7.2%}  (the judge's count)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--projecteval", type=Path, required=True, help="a checkout of RyanLoil/ProjectEval")
    parser.add_argument("--model", required=True, help="a model string, as `matrioska run --model`")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--projects", default="", help="comma-separated project ids (default: all)")
    parser.add_argument("--attempts", type=int, default=1, help="builds per project: Pass@K")
    parser.add_argument("--out", type=Path, default=Path("projecteval-runs"))
    parser.add_argument("--json", dest="json_path", type=Path, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--test-timeout", type=float, default=10.0, help="seconds a test may take")
    parser.add_argument("--build-timeout", type=float, default=7200.0, help="seconds a build may take")
    parser.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "none"])
    parser.add_argument("--matrioska-args", default="", help="more options for `matrioska run`, quoted")
    args = parser.parse_args(argv)
    try:
        if args.attempts < 1:
            raise BenchError("--attempts must be 1 or more")
        wanted = [p.strip() for p in args.projects.split(",") if p.strip()]
        projects = load_projects(args.projecteval, wanted)
        if any(p.website for p in projects) and chromedriver() is None:
            raise BenchError("website projects need chromedriver: apt-get install chromium-driver")
        from matrioska.model.factory import load_chat_model

        model = load_chat_model(args.model, base_url=args.base_url, max_new_tokens=args.max_new_tokens or 1200)
    except BenchError as exc:
        print(f"projecteval: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the model cannot be had: one line too
        print(f"projecteval: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 2
    rows = []
    for project in projects:
        best: list[bool] = [False] * len(project.tests)
        whys: list[str] = [""] * len(project.tests)
        sources: dict[str, int] = {}
        builds = []
        for attempt in range(1, args.attempts + 1):
            print(f"project {project.id} ({project.type}), attempt {attempt}: building ...", flush=True)
            built = build(project, args.out / f"project-{project.id}" / f"attempt-{attempt}", args)
            builds.append(
                {
                    "out": str(built.out),
                    "returncode": built.returncode,
                    "seconds": round(built.seconds, 1),
                    "verdict": built.verdict,
                }
            )
            url = f"http://127.0.0.1:{{port}}/{start_page(built)}"
            kwargs, sources = answer_all(project, built, url, model)
            try:
                results = run_tests(project, built, kwargs, args.projecteval, args)
            except BenchError as exc:
                print(f"projecteval: {exc}", file=sys.stderr)
                return 2
            for i, result in enumerate(results):
                if result.get("ok"):
                    best[i] = True
                elif not best[i]:
                    whys[i] = str(result.get("why", ""))[:300]
            print(
                f"  {sum(r.get('ok', False) for r in results)}/{len(results)} tests passed ({built.seconds:.0f} s to build)",
                flush=True,
            )
        passed = sum(best)
        ran = any(any(Path(b["out"], "project").glob("*")) for b in builds)
        rows.append(
            {
                "project": project.id,
                "type": project.type,
                "passed": passed,
                "tests": len(project.tests),
                "ran": ran,
                "rate": passed / len(project.tests) if project.tests else 0.0,
                "answers": sources,
                "builds": builds,
                "failed": [
                    {"function": t.function, "why": w}
                    for t, ok, w in zip(project.tests, best, whys, strict=True)
                    if not ok
                ],
            }
        )
    board = leaderboard(args.projecteval)
    print(report(rows, board, args.attempts))
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "attempts": args.attempts,
            "model": args.model,
            "projects": rows,
            "leaderboard": [list(r) for r in board],
        }
        args.json_path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
