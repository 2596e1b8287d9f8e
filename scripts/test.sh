#!/usr/bin/env bash
# The test command: set up .venv if needed, lint, then run the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -z "${TIKTOKEN_CACHE_DIR:-}" ] && [ -d ../shared/tiktoken ]; then
    TIKTOKEN_CACHE_DIR="$(cd ../shared/tiktoken && pwd)"
    export TIKTOKEN_CACHE_DIR
fi
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
