"""The Python harness of a function trial, and the choice both trials share (issue 35).

This file is two things. Run as a script inside the sandbox (`python harness.py input.json`),
it runs every candidate of a module's functions against their examples: one process for the
whole module, each call under a timer, each example in a fresh empty working folder with its
files written first and its printed text captured. It writes one JSON line per event to the
results file (`start` before a candidate runs, `run` after, `done` at the end), flushed as it
goes, so a candidate that kills the process loses nothing the others did: the caller reruns the
rest without it. Imported (by `trial`), it gives the rules that read the results: `choose`
(the first candidate passing every checked example, else the one passing the most) and
`agreement` (CodeT: an example every candidate fails while most of those that returned agree
on one other value is suspect). The harness applies the same rules while it runs, to know which
sibling to define when it judges the next function.

It imports nothing but the standard library: inside the sandbox Matrioska is not importable.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import importlib
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "choose",
    "agreement",
    "behaviour",
    "groups",
    "consensus",
    "contradicted",
    "decide",
    "same",
    "TIMEOUT",
    "IGNORED_TIMEOUT",
]

TIMEOUT = "timeout"
"""A result's error when the call ran past its time."""
IGNORED_TIMEOUT = 70
"""The harness's exit status when a call kept running well past its timeout (it caught the timer's
exception): the candidate that was running is left out and the rest run again."""
_OUTPUT = 20_000  # characters of printed text kept per call
_SHOWN = 1_000  # characters of printed text reported
_GOT = 2_000  # characters of a returned value reported (longer: its repr, trimmed)
_DATETIME_MODULE = {"datetime", "date", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR"}


# --------------------------------------------------------------------------- the shared rules


def same(got: Any, expected: Any) -> bool:
    """Whether a returned value (after its JSON round trip) is the expected JSON value: numbers
    within a relative 1e-6 (absolute 1e-9), a bool only equal to a bool."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and got == expected
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9) or got == expected
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        return set(got) == set(expected) and all(same(got[k], expected[k]) for k in expected)
    return type(got) is type(expected) and bool(got == expected)


def choose(runs: list[dict[str, Any]], checked: list[int]) -> int:
    """The index of the candidate kept: the one passing the most checked examples (`checked`:
    their indexes), ties going to the largest group of candidates that behave alike (`groups`),
    then to the lowest number; with no checked example, the largest group's first. One that does
    not even define the function only when no other does. -1 when there is none."""
    if not runs:
        return -1
    scores = [_score(run, checked) for run in runs]
    size = {i: len(group) for group in groups(runs) for i in group}
    pool = [i for i, run in enumerate(runs) if not run.get("error")] or list(range(len(runs)))
    return max(pool, key=lambda i: (scores[i], size.get(i, 0), -i))


def _score(run: dict[str, Any], checked: list[int]) -> int:
    results = run.get("results") or []
    return sum(1 for i in checked if i < len(results) and results[i].get("ok"))


def behaviour(result: dict[str, Any]) -> str:
    """What one call did, as a key two candidates share when they behave alike: the returned
    value's key, or the exception's type, and the printed text."""
    error = str(result.get("error") or "")
    done = "!" + error.split(":", 1)[0] if error else str(result.get("key"))
    return done + "|" + _normal(str(result.get("stdout") or ""))[:200]


def groups(runs: list[dict[str, Any]]) -> list[list[int]]:
    """The candidates that define the function, grouped by what they did on every example and
    every probe input (FunCoder's functional consensus): the largest group first, ties by its
    lowest number."""
    found: dict[tuple[str, ...], list[int]] = {}
    for index, run in enumerate(runs):
        if run.get("error"):
            continue
        signature = tuple(behaviour(r) for r in run.get("results") or []) + tuple(run.get("probes") or [])
        found.setdefault(signature, []).append(index)
    return sorted(found.values(), key=lambda g: (-len(g), g[0]))


def consensus(runs: list[dict[str, Any]]) -> list[int]:
    """The group most candidates share when it is a strict majority of those defining the
    function and holds at least two different sources (a run's `sample`: the model giving one
    text twice is one opinion); else none: there is no consensus to trust over an example."""
    found = groups(runs)
    defined = sum(len(g) for g in found)
    if not found or len(found[0]) * 2 <= defined:
        return []
    distinct = {runs[i].get("sample", i) for i in found[0]}
    return found[0] if len(distinct) >= 2 else []


def agreement(runs: list[dict[str, Any]], examples: list[dict[str, Any]]) -> dict[int, tuple[str, int, int]]:
    """The examples put in doubt by the candidates' agreement (CodeT): index -> (the agreed
    value's key, how many returned it, how many candidates there are). An example is in doubt when
    every candidate fails it and at least two, a majority of those that returned without an
    exception, returned the same value, which is not the expected one (two different texts: the
    model giving one text twice is one opinion). Examples already in doubt
    and those checking no value are left alone."""
    out: dict[int, tuple[str, int, int]] = {}
    if len(runs) < 2:
        return out
    for index, example in enumerate(examples):
        if example.get("suspect") or not example.get("value", True):
            continue
        results = [(run.get("results") or [])[index : index + 1] for run in runs]
        if any(r and r[0].get("ok") for r in results):
            continue
        keys = [
            (r[0]["key"], run.get("sample", i))
            for i, (run, r) in enumerate(zip(runs, results, strict=True))
            if r and not r[0].get("error") and r[0].get("key") is not None
        ]
        if not keys:
            continue
        key, count = Counter(k for k, _ in keys).most_common(1)[0]
        if len({sample for k, sample in keys if k == key}) < 2:
            continue  # one text given twice is one opinion
        if count < 2 or count * 2 <= len(keys):
            continue
        if not key.startswith("repr:") and same(json.loads(key), example.get("expected")):
            continue  # they return the expected value: what fails is the printed text
        out[index] = (key, count, len(runs))
    return out


def contradicted(runs: list[dict[str, Any]], examples: list[dict[str, Any]]) -> dict[int, tuple[str, int, int]]:
    """The examples the consensus group (`consensus`) contradicts as a whole: each of its
    candidates returned, without an exception, one value that is not the expected one (they
    behave alike, so it is the same value). Same form as `agreement`."""
    group = consensus(runs)
    out: dict[int, tuple[str, int, int]] = {}
    if not group:
        return out
    for index, example in enumerate(examples):
        if example.get("suspect") or not example.get("value", True):
            continue
        results = (runs[group[0]].get("results") or [])[index : index + 1]
        if not results or results[0].get("ok") or results[0].get("error") or results[0].get("key") is None:
            continue
        key = str(results[0]["key"])
        if not key.startswith("repr:") and same(json.loads(key), example.get("expected")):
            continue  # the value is the expected one: what fails is the printed text
        out[index] = (key, len(group), len(runs))
    return out


def decide(runs: list[dict[str, Any]], examples: list[dict[str, Any]]) -> tuple[int, dict[int, tuple[str, int, int]]]:
    """The kept candidate's index and the examples put in doubt, by the candidates' agreement
    (CodeT) or by the consensus group (FunCoder); chosen again without them."""
    doubted = {**contradicted(runs, examples), **agreement(runs, examples)}
    checked = [i for i, e in enumerate(examples) if not e.get("suspect") and i not in doubted]
    return choose(runs, checked), doubted


# --------------------------------------------------------------------------- running (the script)


class _Timeout(BaseException):
    """Raised in a call past its time (a BaseException: `except Exception` does not catch it)."""


class _Clock:
    armed = False
    deadline = 0.0


def _alarm(signum: int, frame: Any) -> None:
    if _Clock.armed:
        raise _Timeout()


def _watchdog(grace: float) -> None:
    """A call that swallows the timer's exception again and again ends the process (the caller
    then reruns the rest without that candidate)."""
    while True:
        time.sleep(0.2)
        if _Clock.armed and time.monotonic() > _Clock.deadline + grace:
            os._exit(IGNORED_TIMEOUT)


@contextlib.contextmanager
def _timer(seconds: float) -> Iterator[None]:
    _Clock.deadline = time.monotonic() + seconds
    _Clock.armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)  # fires again until disarmed
    try:
        yield
    finally:
        _Clock.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


class _Capped(io.StringIO):
    def write(self, text: str) -> int:
        room = _OUTPUT - self.tell()
        if room > 0:
            super().write(str(text)[:room])
        return len(text)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Timeout):
        return TIMEOUT
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a candidate's exception may not even print
        text = ""
    if isinstance(exc, SyntaxError) and exc.lineno:
        text = f"{exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {text}"[:500]


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _plain(value: Any) -> tuple[Any, str, bool]:
    """The value after a JSON round trip, its key (canonical JSON, or `repr:` and its repr when it
    has no JSON form), and whether it has one."""
    try:
        text = json.dumps(value, default=_default, sort_keys=True)
        return json.loads(text), text, True
    except Exception:  # noqa: BLE001 - whatever a candidate returned
        try:
            shown = repr(value)
        except Exception:  # noqa: BLE001
            shown = f"<{type(value).__name__}>"
        return shown[:300], "repr:" + shown[:300], False


def _normal(text: str) -> str:
    return " ".join(text.split())


class Harness:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.root = Path(spec["root"])
        self.timeout = float(spec["call_timeout"])
        self.out = open(spec["out"], "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        self.imported: dict[tuple[str, str], Any] = {}
        self.base: dict[str, Any] = {}

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, default=repr) + "\n")
        self.out.flush()

    def prepare(self) -> None:
        for folder in reversed(self.spec.get("paths") or []):
            sys.path.insert(0, str(self.root / folder))
        signal.signal(signal.SIGALRM, _alarm)
        threading.Thread(target=_watchdog, args=(self.timeout + 3.0,), daemon=True).start()
        for name in self.spec.get("modules") or []:
            with contextlib.suppress(Exception):
                self.base[name] = importlib.import_module(name)
        for name, module in (self.spec.get("names") or {}).items():
            with contextlib.suppress(Exception):
                self.base[name] = getattr(importlib.import_module(module), name)
        for function in self.spec["functions"]:
            for module, name in function.get("imports") or []:
                self._import(module, name)

    def _import(self, module: str, name: str) -> None:
        if (module, name) in self.imported:
            return
        self.imported[(module, name)] = None
        try:
            with _timer(self.timeout * 2), contextlib.redirect_stdout(_Capped()):
                loaded = importlib.import_module(module)
            self.imported[(module, name)] = (loaded, getattr(loaded, name))
        except BaseException:  # noqa: BLE001 - a dependency that does not import is left out
            pass

    def namespace(self, function: dict[str, Any], source: str) -> dict[str, Any]:
        space: dict[str, Any] = {"__name__": "__trial__", "__builtins__": builtins, **self.base}
        if "datetime" in space and _wants_datetime_module(source):
            space["datetime"] = sys.modules.get("datetime", space["datetime"])
        for other in self.spec["functions"]:
            for module, name in other.get("imports") or []:
                found = self.imported.get((module, name))
                if found:
                    space.setdefault(module.rsplit(".", 1)[-1], found[0])
                    space[name] = found[1]
        for line in self.spec.get("constants") or []:
            self.define(space, line, "<constant>")
        return space

    def define(self, space: dict[str, Any], source: str, where: str) -> str:
        try:
            code = compile(source, where, "exec")
            with _timer(self.timeout), contextlib.redirect_stdout(_Capped()):
                exec(code, space)  # noqa: S102 - inside the sandbox: this is what it is for
        except BaseException as exc:  # noqa: BLE001 - whatever a candidate does
            return _describe(exc)
        return ""

    def run(self, index: int, source: str, siblings: list[str | None]) -> dict[str, Any]:
        function = self.spec["functions"][index]
        name = function["name"]
        space = self.namespace(function, source)
        for sibling in siblings:
            if sibling:
                self.define(space, sibling, "<sibling>")
        error = self.define(space, source, f"<{name}>")
        if not error and not callable(space.get(name)):
            error = f"NameError: the candidate does not define {name}"
        if error:
            failed = {"ok": False, "got": None, "error": error, "stdout": "", "key": None}
            return {"error": error, "results": [dict(failed) for _ in function["examples"]], "probes": []}
        results = [self.call(space, name, e) for e in function["examples"]]
        probes: list[str] = []
        for probe in function.get("probes") or []:
            if probes and probes[-1].startswith("!" + TIMEOUT):  # one loop is enough to know
                probes.append(probes[-1])
                continue
            probes.append(behaviour(self.call(space, name, {**probe, "value": False})))
        return {"error": "", "results": results, "probes": probes}

    def call(self, space: dict[str, Any], name: str, example: dict[str, Any]) -> dict[str, Any]:
        folder = Path(tempfile.mkdtemp(prefix="example-"))
        for relative, text in (example.get("files") or {}).items():
            target = (folder / relative).resolve()
            if target.is_relative_to(folder.resolve()):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(str(text), encoding="utf-8")
        printed = _Capped()
        value, error = None, ""
        try:
            os.chdir(folder)
            with contextlib.redirect_stdout(printed), _timer(self.timeout):
                value = space[name](*copy.deepcopy(example["args"]))
        except BaseException as exc:  # noqa: BLE001 - whatever a candidate does
            error = _describe(exc)
        finally:
            os.chdir(self.root)
            shutil.rmtree(folder, ignore_errors=True)
        text = printed.getvalue()
        got, key, plain = _plain(value) if not error else (None, None, False)
        ok = not error
        if ok and example.get("value", True):
            ok = plain and same(got, example["expected"])
        if ok and example.get("stdout") is not None:
            ok = _normal(str(example["stdout"])) in _normal(text)
        if key is not None and len(key) > _GOT:
            got = key[:_GOT] + "..."
        return {"ok": bool(ok), "got": got, "error": error, "stdout": text[:_SHOWN], "key": key}

    def main(self) -> None:
        self.prepare()
        functions = self.spec["functions"]
        given = self.spec.get("given") or {}
        kept: dict[str, str | None] = {}
        for index, function in enumerate(functions):
            name = function["name"]
            siblings = [
                kept.get(f["name"]) if j < index else (f["candidates"] or [None])[0]
                for j, f in enumerate(functions)
                if j != index
            ]
            runs: list[dict[str, Any]] = []
            for number, source in enumerate(function["candidates"], 1):
                run = (given.get(name) or {}).get(str(number))
                if run is None:
                    self.write({"start": [name, number]})
                    run = self.run(index, source, siblings)
                    self.write({"run": {"function": name, "number": number, **run}})
                runs.append(run)
            chosen, _ = decide(runs, function["examples"])
            kept[name] = function["candidates"][chosen] if chosen >= 0 else None
        self.write({"done": True})
        self.out.close()


def _wants_datetime_module(source: str) -> bool:
    """Whether a body uses `datetime.timedelta(...)` (the module) rather than `datetime.now()`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "datetime"
        and node.attr in _DATETIME_MODULE
        for node in ast.walk(tree)
    )


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        Harness(json.load(handle)).main()
    sys.stdout.flush()
    os._exit(0)  # threads a candidate left running do not keep the process alive
