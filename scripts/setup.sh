#!/usr/bin/env bash
# Create .venv with every pinned dependency in one resolve (idempotent: reuses a matching venv).
# scripts/torch_choice.py picks the torch build first: CPU wheels on Linux without an NVIDIA GPU
# (from PyTorch's CPU index when it answers), the CUDA build with one, PyPI's wheels on macOS.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: needs Python 3.11 or later; $python is $("$python" -V 2>&1). Set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt pyproject.toml scripts/setup.sh | "$python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  torch_args=$("$python" scripts/torch_choice.py)  # says on stderr which torch and why; exits 1 where none fits
  "$python" -m venv .venv
  # torch_args is empty or "--extra-index-url URL": word splitting is intended
  # shellcheck disable=SC2086
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt $torch_args
  # The package itself, editable, so that `import snapmix_demo` works from any folder with this venv.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  # Where the only torchvision wheel for this torch is a build for another one (a CUDA torchvision beside a
  # CPU torch: PyTorch's CPU index, which has the matching build, may be unreachable), its compiled extension
  # cannot load and a bare `import torchvision` fails. A start-up hook then declares the two operator schemas
  # torchvision needs, so any code (Lightning, which imports torchvision, included) imports it in any order.
  hook="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/snapmix_torchvision_shim.pth"
  rm -f "$hook"
  if ! .venv/bin/python -c 'import torchvision' >/dev/null 2>&1; then
    .venv/bin/python -c 'from snapmix_demo._torchvision import pth_line; print(pth_line())' > "$hook.tmp" && mv "$hook.tmp" "$hook"
    echo "torchvision's compiled extension does not load against this torch: installed $(basename "$hook")" >&2
  fi
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU only')"
