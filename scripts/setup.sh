#!/usr/bin/env bash
# Create .venv with every pinned dependency in one resolve (idempotent: reuses a matching venv).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# Guard: a CUDA build of torch (several GB of nvidia-* packages) must never sneak in on a CPU machine.
if .venv/bin/pip list 2>/dev/null | grep -Eiq '^(nvidia-|cuda-|triton)'; then
  echo "error: CUDA packages were installed; torch must come from the CPU wheel (see requirements.txt)" >&2
  .venv/bin/pip list | grep -Ei '^(nvidia-|cuda-|triton)' >&2
  exit 1
fi
.venv/bin/python -c "import torch; print('torch', torch.__version__)"
