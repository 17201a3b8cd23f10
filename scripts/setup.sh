#!/usr/bin/env bash
# Create .venv and install datamint with its test and server extras.
# torch is pinned to 2.13.0: on our machines that spec installs the local CPU wheel
# (any other spec pulls the multi-gigabyte CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.datamint-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[test]"
  echo "$want" > "$stamp"
fi
