"""The one place where generated code runs: every command goes through a `Sandbox`.

Generated code is untrusted. With bubblewrap (`bwrap`, what Flatpak and several coding agents
use on Linux) a command sees a read-only system, a writable copy of the project, an empty /tmp,
no network at all (its own network namespace: not even the host's loopback), its own PID, IPC and
UTS namespaces; it dies with its parent, gets a scrubbed environment (no API keys or tokens, HOME
and TMPDIR inside the copy), the user's home hidden behind an empty tmpfs, and, when Matrioska
runs as root, an unprivileged uid (`nobody`) so it cannot read what root can. Rlimits bound CPU
time, address space, processes and file size (which also bounds its output); a wall-clock timeout
kills the whole process group. Output is captured to a file and trimmed (head and tail).

`resolve_sandbox("auto")` picks bubblewrap when it is installed; without it nothing runs and the
reason says how to install it, or that `--sandbox none` runs generated code unsandboxed at the
user's own risk (a warning every time).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sandbox", "CommandResult", "resolve_sandbox", "SANDBOX_MODES", "NO_BWRAP_REASON", "UNSANDBOXED_WARNING"]

SANDBOX_MODES = ("auto", "bwrap", "none")
NO_BWRAP_REASON = (
    "bubblewrap (bwrap) is not installed, so generated code was not executed; install it "
    '(apt-get install bubblewrap / dnf install bubblewrap) or pass --sandbox none (sandbox="none") '
    "to run it unsandboxed at your own risk"
)
UNSANDBOXED_WARNING = (
    "warning: --sandbox none runs generated (untrusted) code WITHOUT a sandbox, with your network, "
    "files and user; only timeouts and rlimits bound it"
)
_NOBODY = 65534
_HEAD, _TAIL = 1500, 4500  # characters of output kept from the start and the end


@dataclass
class CommandResult:
    """What one sandboxed command did."""

    command: str
    """The command as a user would type it (in the project folder)."""
    returncode: int | None
    """Exit status; negative for a signal; None when it never started."""
    output: str
    """stdout and stderr together, trimmed to its head and tail."""
    duration: float
    """Wall-clock seconds."""
    killed: str = ""
    """Why it was stopped, when it was: "timeout", "output limit", "cpu limit", "memory limit"."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed


def _trim(data: bytes, total: int) -> str:
    text = data.decode("utf-8", "replace")
    if total <= _HEAD + _TAIL + 200 and len(text) <= _HEAD + _TAIL + 200:
        return text
    head, tail = text[:_HEAD], text[-_TAIL:]
    return f"{head}\n[... {max(total - _HEAD - _TAIL, 0)} bytes of output left out ...]\n{tail}"


@dataclass
class Sandbox:
    """Runs commands on a writable copy of a project: `bwrap` (isolated) or `none` (unsandboxed)."""

    mode: str = "bwrap"
    """"bwrap" or "none"."""
    timeout: float = 120.0
    """Wall-clock seconds per command; the whole process group is killed past it."""
    memory_mb: int = 2048
    """Address-space limit per process (RLIMIT_AS)."""
    processes: int = 256
    """Processes of the sandbox's user (RLIMIT_NPROC; root outside a sandbox is exempt)."""
    file_mb: int = 32
    """Largest file a command may write, its captured output included (RLIMIT_FSIZE)."""
    bwrap: str = "bwrap"
    """The bubblewrap executable."""

    def describe(self) -> str:
        return "bubblewrap" if self.mode == "bwrap" else "none (unsandboxed)"

    # -- running -------------------------------------------------------------------------------

    def run(
        self,
        argv: list[str],
        workdir: str | os.PathLike[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        readable: list[str] | None = None,
        display: str | None = None,
    ) -> CommandResult:
        """Run `argv` in `workdir` (the project copy, writable); `readable` host folders are
        bound read-only at the same path. Never raises for what the command does."""
        work = Path(workdir).resolve()
        limit = self.timeout if timeout is None else timeout
        shown = display or " ".join(argv)
        home, tmp = work / ".home", work / ".tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        environment = self._environment(home, tmp, env or {})
        if self.mode == "bwrap":
            command = self._bwrap_argv(argv, work, environment, readable or [])
            if os.geteuid() == 0:
                _chown_tree(work, _NOBODY)
        else:
            command = list(argv)
        with tempfile.TemporaryFile() as sink:
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    command,
                    cwd=work,
                    env=environment if self.mode == "none" else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: the timeout kills all of it
                    preexec_fn=self._limits(limit),
                )
            except OSError as exc:
                return CommandResult(shown, None, f"could not start: {exc}", 0.0)
            killed = ""
            try:
                returncode: int | None = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                killed = "timeout"
                _kill_group(process)
                returncode = process.wait()
            duration = time.monotonic() - started
            total = sink.tell()
            sink.seek(0)
            data = sink.read(_HEAD * 4)
            if total > _HEAD * 4:
                sink.seek(max(total - _TAIL * 4, _HEAD * 4))
                data = data[: _HEAD * 4] + b"\n" + sink.read()
        _kill_group(process)  # anything it left behind in its group
        if not killed and returncode is not None and returncode < 0:
            killed = (
                {
                    signal.SIGXCPU: "cpu limit",
                    signal.SIGXFSZ: "output limit",
                    signal.SIGKILL: "killed",
                }.get(signal.Signals(-returncode), "")
                if -returncode in signal.valid_signals()
                else ""
            )
        if not killed and total >= self.file_mb * 1024 * 1024:
            killed = "output limit"
        output = _trim(data, total)
        if killed == "timeout":
            output += f"\n[killed: no exit within {limit:g} s]"
        elif killed:
            output += f"\n[stopped: {killed}]"
        return CommandResult(shown, returncode, output.strip("\n"), duration, killed)

    def _environment(self, home: Path, tmp: Path, extra: dict[str, str]) -> dict[str, str]:
        """A scrubbed environment: nothing of the user's (no keys, tokens or proxies) is passed."""
        path = os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]))
        return {
            "PATH": path,
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "TMP": str(tmp),
            "TEMP": str(tmp),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "NO_COLOR": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the project's own conftest, not the host's plugins
            "CI": "1",
            **extra,
        }

    def _bwrap_argv(self, argv: list[str], work: Path, environment: dict[str, str], readable: list[str]) -> list[str]:
        out = [
            self.bwrap,
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
        ]
        masks = ["/tmp"]
        hidden = {str(Path.home())} | ({"/root"} if os.geteuid() == 0 else set())
        for folder in sorted(hidden):
            if folder not in ("/", "/tmp") and Path(folder).is_dir():
                out += ["--tmpfs", folder]  # the user's home is not the project's business
                masks.append(folder)
        made: set[str] = set()

        def bind(flag: str, folder: str) -> None:
            # Parents inside a mask are created world-traversable (bwrap's default is 0700, which
            # the unprivileged user could not cross); the bound folder keeps its own permissions.
            for parent in reversed(Path(folder).parents):
                text = str(parent)
                if text not in made and any(parent.is_relative_to(m) and text != m for m in masks):
                    out.extend(["--perms", "0755", "--dir", text])
                    made.add(text)
            out.extend([flag, folder, folder])

        # What the checks need to read, bound back (same path) after the masks above.
        needed = [*readable, sys.prefix, sys.base_prefix, sys.exec_prefix]
        for folder in dict.fromkeys(str(Path(p).resolve()) for p in needed):
            if Path(folder).exists() and not work.is_relative_to(folder):
                bind("--ro-bind", folder)
        bind("--bind", str(work))
        out += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        out += ["--die-with-parent", "--new-session", "--clearenv", "--chdir", str(work)]
        for key, value in environment.items():
            out += ["--setenv", key, value]
        out.append("--")
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv:  # root outside: run the command as nobody, with no capabilities
                out += [
                    setpriv,
                    f"--reuid={_NOBODY}",
                    f"--regid={_NOBODY}",
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--",
                ]
        return out + list(argv)

    def _limits(self, timeout: float) -> Callable[[], None]:
        """Rlimits set in the child before exec; bwrap and the command inherit them."""
        cpu = int(timeout) + 5
        limits = [
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_FSIZE, self.file_mb * 1024 * 1024),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_AS, self.memory_mb * 1024 * 1024),
            (resource.RLIMIT_NPROC, self.processes),
        ]

        def apply() -> None:
            for kind, value in limits:
                resource.setrlimit(kind, (value, value))

        return apply


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _chown_tree(root: Path, uid: int) -> None:
    """Give the project copy to the sandbox's user (it runs as nobody when Matrioska is root)."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            try:
                os.lchown(os.path.join(folder, name), uid, uid)
            except OSError:
                pass
    os.chown(root, uid, uid)


def resolve_sandbox(
    mode: str = "auto", *, timeout: float = 120.0, bwrap: str | None = None
) -> tuple[Sandbox | None, str]:
    """The sandbox for `mode` ("auto", "bwrap" or "none"), and a one-line note.

    `auto` without bubblewrap gives no sandbox (nothing may run) and the reason; `none` gives an
    unsandboxed runner and the warning. `bwrap` without bubblewrap is a configuration error.
    """
    from ..errors import SandboxError

    if mode not in SANDBOX_MODES:
        raise SandboxError(f"unknown sandbox {mode!r}; use one of {', '.join(SANDBOX_MODES)}")
    if mode == "none":
        return Sandbox(mode="none", timeout=timeout), UNSANDBOXED_WARNING
    found = bwrap if bwrap is not None else shutil.which("bwrap")
    if found and Path(found).exists():
        return Sandbox(mode="bwrap", timeout=timeout, bwrap=found), ""
    if mode == "bwrap":
        raise SandboxError(NO_BWRAP_REASON.replace("was not executed", "cannot be executed"))
    return None, NO_BWRAP_REASON
