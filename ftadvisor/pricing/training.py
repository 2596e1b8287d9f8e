"""OpenAI's training-billing arithmetic: the default-epochs heuristic and per-example capping."""

from __future__ import annotations

from collections.abc import Iterable

# The cookbook's constants (openai-cookbook Chat_finetuning_data_prep.ipynb).
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def default_epochs(n_examples: int) -> int:
    """Epochs OpenAI picks for ``n_epochs="auto"``: 3, raised for tiny files, lowered for huge ones."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def billing_tokens_per_epoch(tokens_per_example: Iterable[int], limit: int | None) -> int:
    """Σ min(limit, tokens): OpenAI truncates over-long examples, so they bill at the limit."""
    if limit is None:
        return int(sum(tokens_per_example))
    return int(sum(min(limit, t) for t in tokens_per_example))
