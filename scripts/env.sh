# Sourced by the scripts: offline-friendly environment for this checkout.
# tiktoken downloads its encodings on first use; where ../shared/tiktoken exists (CI and the project's
# machines, which have no internet), use it unless TIKTOKEN_CACHE_DIR is already set.
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}"
if [ -z "${TIKTOKEN_CACHE_DIR:-}" ] && [ -d ../shared/tiktoken ]; then
    TIKTOKEN_CACHE_DIR="$(cd ../shared/tiktoken && pwd)"
    export TIKTOKEN_CACHE_DIR
fi
