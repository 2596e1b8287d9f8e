"""ftadvisor: decide whether and how to fine-tune a language model, with numbers, and then do it.

The public API; importing it loads no torch and no heavy library.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ftadvisor.advisor.breakeven import BreakEven, BreakEvenInput, break_even
from ftadvisor.advisor.decision import Answers, Recommendation, advise
from ftadvisor.advisor.economics import Decision, EconomicsInput, compare, decide
from ftadvisor.advisor.lora import MemorySettings, lora_size, read_config
from ftadvisor.data.problems import Problem
from ftadvisor.data.stats import DatasetStats, dataset_stats
from ftadvisor.data.validate import ValidationReport, validate_file
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.pricing import Catalogue, ModelEntry, load_catalogue
from ftadvisor.tokens import (
    TokenCounter,
    count_chat_tokens,
    count_text_tokens,
    encoding_name_for_model,
)

__all__ = [
    "Answers",
    "BreakEven",
    "BreakEvenInput",
    "Catalogue",
    "DatasetStats",
    "Decision",
    "EconomicsInput",
    "FtAdvisorError",
    "InputError",
    "MemorySettings",
    "ModelEntry",
    "Problem",
    "Recommendation",
    "TokenCounter",
    "ValidationReport",
    "__version__",
    "advise",
    "break_even",
    "compare",
    "count_chat_tokens",
    "count_text_tokens",
    "dataset_stats",
    "decide",
    "encoding_name_for_model",
    "load_catalogue",
    "lora_size",
    "read_config",
    "validate_file",
]
