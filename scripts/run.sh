#!/usr/bin/env bash
# Set up (if needed) and serve the app on http://127.0.0.1:7860 (offline: bundled weights and examples).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py
