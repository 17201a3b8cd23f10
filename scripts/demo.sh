#!/usr/bin/env bash
# The main job: install, start the reference server with the bundled demo project,
# and train a small U-Net on it through a 2-worker DataLoader. Output in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/datamint demo --out demo-output "$@"
