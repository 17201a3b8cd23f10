#!/usr/bin/env bash
# Install, lint (ruff check + format check), type-check (mypy, strict on the packages listed
# in pyproject.toml [tool.mypy]), then run the whole test suite (real reference server on
# 127.0.0.1, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
