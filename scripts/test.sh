#!/usr/bin/env bash
# Set up (if needed), lint and run every test, the browser ones included when Chromium is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
