"""Runs one project's ProjectEval tests as the benchmark's judge does (`openjudge.py`), and writes
`results.json` beside the job: `python projecteval_runner.py job.json` (bench/projecteval.py writes the
job, and runs this inside the sandbox for programs, beside a loopback-only server for websites).

Each test function is executed unchanged in the namespace the judge gives it; it passes when it returns
None within the timeout (the judge's rule). Websites: the project served from 127.0.0.1, Selenium 4 with
headless Chromium, every host but 127.0.0.1 unresolvable. Console projects: the program started once with
its input on a pipe and its output in `output.txt`, read back as the judge's console manager reads it
(until a `>>>` or `$ ` prompt); batch projects: no process, the tests run the entry themselves.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Console:
    """The judge's console manager (`BatchJudge.ConsoleManager`): `read_output()`, `send_command(text)`."""

    def __init__(self, project: Path, entry: str) -> None:
        self.project = project
        self.output = project / "output.txt"
        self.tell = 0
        self.process = subprocess.Popen(
            [sys.executable, entry],
            cwd=project,
            stdin=subprocess.PIPE,
            stdout=self.output.open("a", encoding="utf-8"),
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def read_output(self) -> list[str]:
        lines: list[str] = []
        time.sleep(0.1)
        with self.output.open(encoding="utf-8", errors="replace") as handle:
            position, line, waited = self.tell, "", 0
            while waited <= 100 and not line:  # the first line: up to 10 s
                handle.seek(position)
                line = handle.readline()
                if not line:
                    time.sleep(0.1)
                    waited += 1
            lines.append(line)
            position = handle.tell()
            while True:
                handle.seek(position)
                line = handle.readline()
                if not line:
                    break
                lines.append(line)
                position = handle.tell()
                if ">>>" in line or "$ " in line:
                    break
            self.tell = handle.tell()
        return lines

    def poll(self) -> int | None:
        return self.process.poll()

    def send_command(self, command: str) -> str:
        if self.process.stdin is not None and self.process.poll() is None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        time.sleep(0.1)
        return "".join(self.read_output())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except Exception:
        return None


def _call(test: Any, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> str:
    """'' when the test returned None in time, else why not."""
    outcome: list[str] = []

    def target() -> None:
        try:
            result = test(*args, **kwargs)
            outcome.append("" if result is None else f"returned {result!r}"[:300])
        except AssertionError as exc:
            outcome.append(f"assertion failed: {exc}"[:300] if str(exc) else "assertion failed")
        except Exception as exc:
            outcome.append(f"{type(exc).__name__}: {exc}"[:300])

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"ran past {timeout:g} s"


def _browser(job: dict[str, Any]) -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary:
        options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")  # offline but the project
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=job["chromedriver"]))
    driver.set_page_load_timeout(3)  # the judge's
    return driver


def main(job_path: str) -> None:
    job_file = Path(job_path).resolve()
    job = json.loads(job_file.read_text(encoding="utf-8"))
    project = Path(job["project"])
    if not project.is_dir():  # inside the sandbox the job's folder is the working copy
        project = job_file.parent / "project"
    folder = Path(job["projecteval"])
    scratch = Path(tempfile.mkdtemp())
    shutil.copyfile(folder / "config.ini", scratch / "config.ini")
    os.chdir(scratch)  # its config reads config.ini and makes its folders in the working folder
    sys.path.insert(0, str(folder))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import utils  # the benchmark's own helpers

    results: list[dict[str, Any]] = []
    server = driver = console = None
    namespace: dict[str, Any] = {
        "time": time,
        "string": __import__("string"),
        "os": os,
        "csv": __import__("csv"),
        "utils": utils,
        "datetime": __import__("datetime").datetime,
    }
    for name, alias in (("pyperclip", "pyperclip"), ("calendar", "calendar")):
        if _optional(name) is not None:
            namespace[alias] = _optional(name)
    try:
        if job["website"]:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support import ui

            handler = functools.partial(SimpleHTTPRequestHandler, directory=str(project))
            handler.log_message = lambda *a: None  # type: ignore[attr-defined]
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            driver = _browser(job)
            namespace.update({"By": By(), "ui": ui})
        else:
            for name, alias in (("pandas", "pd"), ("openpyxl", "openpyxl")):
                if _optional(name) is not None:
                    namespace[alias] = _optional(name)
            namespace.update({"runpy": __import__("runpy"), "threshold": job["threshold"]})
            os.chdir(project)
            # `utils.run_entry` runs the entry with runpy, which does not put its folder on sys.path as
            # `python main.py` does: a program of several files could not import its own modules
            sys.path.insert(0, str(project))
            if job.get("console"):
                console = Console(project, job["entry"])
            namespace["_subprocess"] = console
        defaults = set(namespace)
        for test in job["tests"]:
            kwargs = {
                k: v.replace("{port}", str(server.server_address[1])) if server and isinstance(v, str) else v
                for k, v in test["kwargs"].items()
            }
            scope = dict(namespace)
            try:
                exec(test["code"], scope)
                function = next(
                    v for k, v in scope.items() if callable(v) and k not in defaults and not k.startswith("__")
                )
            except Exception as exc:
                results.append(
                    {"function": test["function"], "ok": False, "why": f"the test does not load: {exc}"[:300]}
                )
                continue
            if not job["website"]:
                os.chdir(project)
            why = _call(function, (driver,) if job["website"] else (), kwargs, float(job["timeout"]))
            results.append({"function": test["function"], "ok": not why, "why": why})
    except Exception as exc:  # the browser or the program could not start: every test left fails
        done = {r["function"] for r in results}
        results += [
            {"function": t["function"], "ok": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
            for t in job["tests"]
            if t["function"] not in done
        ]
    finally:
        if console is not None:
            console.stop()
        if driver is not None:
            driver.quit()
        if server is not None:
            server.shutdown()
    (job_file.parent / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
