"""ftadvisor: decide whether and how to fine-tune a language model, with numbers, and then do it.

The public API; importing it loads no torch and no heavy library.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
    "Catalogue",
    "DatasetStats",
    "FtAdvisorError",
    "InputError",
    "ModelEntry",
    "Problem",
    "TokenCounter",
    "ValidationReport",
    "__version__",
    "count_chat_tokens",
    "count_text_tokens",
    "dataset_stats",
    "encoding_name_for_model",
    "load_catalogue",
    "validate_file",
]
