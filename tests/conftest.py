"""Shared fixtures: no network beyond loopback, the tiny Mistral, scripted models."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scripted import ScriptedChatModel, default_responder  # noqa: E402
from tinymodel import build_tiny_mistral  # noqa: E402

# The scripted models of most tests answer modules whole; the function path (issue 35) is the
# default for users, and its own tests turn it on explicitly (Context(functions=True)).
os.environ.setdefault("MATRIOSKA_FUNCTIONS", "0")

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConnectionRefusedError(f"tests may not reach the network ({host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run offline: any connection beyond loopback is refused at once."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Mistral with an `[INST]` chat template, built offline."""
    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))


@pytest.fixture(scope="session")
def mistral_vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny random Mistral on the real Mistral-7B-v0.3 tokenizer (32,768 pieces, from
    `mistral-common`, converted offline by mistral_tokenizer.py): real token counts, the real
    vocabulary's grammar masks and the real chat template."""
    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral-vocab"), tokenizer="mistral")


@pytest.fixture
def scripted() -> ScriptedChatModel:
    """A scripted model answering the 3-module library plan."""
    return ScriptedChatModel(respond=default_responder())


def _postgres_bin() -> Path | None:
    import glob
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory):
    """A PostgreSQL database on 127.0.0.1: $MATRIOSKA_TEST_POSTGRES (.ci/run starts one), or a
    throwaway cluster started here from the Debian binaries. Skipped only outside CI."""
    import os
    import shutil
    import subprocess

    url = os.environ.get("MATRIOSKA_TEST_POSTGRES")
    if url:
        yield url
        return
    bindir = _postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL (MATRIOSKA_TEST_POSTGRES or Debian's postgresql package)")
        pytest.skip("no PostgreSQL binaries here (apt-get install postgresql)")
    root = Path("/tmp") / f"matrioska-pg-{os.getpid()}"  # short path: the socket name has a length limit
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = root / "data"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
