#!/usr/bin/env bash
# Install, then run the whole test suite (real reference server on 127.0.0.1, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
