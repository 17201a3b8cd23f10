#!/usr/bin/env bash
# Install, lint (ruff check + format check), type-check (mypy, strict on the packages listed
# in pyproject.toml [tool.mypy]), build the docs site strictly (a broken link or reference
# fails), then run the whole test suite (real reference server on 127.0.0.1, real files;
# tests/docs runs every python block of README.md and docs/*.md and every notebook).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet   # into site/ (git-ignored)
exec .venv/bin/python -m pytest "$@"
