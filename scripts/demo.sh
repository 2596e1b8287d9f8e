#!/usr/bin/env bash
# The first command: set up .venv (CPU torch and every extra), then run the demo on the built-in dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
.venv/bin/ftadvisor demo "$@"
