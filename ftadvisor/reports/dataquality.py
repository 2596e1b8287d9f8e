"""The report's data-quality section: the same checks as ``data validate``, ``data dedup`` and ``data check``,
summarised for one file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ftadvisor.data.quality import LabelBalance
from ftadvisor.data.stats import Distribution


class DataQuality(BaseModel):
    file: str
    role: str  # "training data" or "evaluation data"
    valid: bool
    n_examples: int
    n_errors: int
    n_warnings: int
    problems: dict[str, int]  # problem category -> count
    duplicate_groups: int
    removable_duplicates: int
    inconsistent_groups: int  # same prompt, different answers
    labels: LabelBalance | None
    tokens_per_example: Distribution | None
    encoding: str


def data_quality(path: Path, role: str, *, model: str | None, label_field: str | None) -> DataQuality:
    """Validation, duplicates, contradictions, class balance and lengths of ``path`` (tokens counted with
    ``model``'s tokenizer when it is OpenAI's, else the estimate model's)."""
    from ftadvisor.backends.base import ESTIMATE_MODEL
    from ftadvisor.data.dedup import find_duplicates
    from ftadvisor.data.quality import check_quality
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.data.validate import validate_file
    from ftadvisor.pricing import load_catalogue

    entry = load_catalogue().find(model) if model else None
    openai_model = model is not None and entry is not None and entry.provider == "openai"
    count_with = model if openai_model and model is not None else ESTIMATE_MODEL
    v = validate_file(path, model=count_with)
    dup = find_duplicates(path)
    q = check_quality(path, label_field=label_field)
    s = dataset_stats(path, model=count_with)
    small = 0 if role == "training data" else v.counts.get("too_few_examples", 0)  # the minimum is for training
    valid = v.valid or (small > 0 and not v.problems_truncated and not v.blocking_errors(validation_file=True))
    return DataQuality(
        file=str(path),
        role=role,
        valid=valid,
        n_examples=v.n_examples,
        n_errors=v.n_errors - small,
        n_warnings=v.n_warnings,
        problems=v.counts,
        duplicate_groups=len(dup.groups),
        removable_duplicates=dup.n_removable,
        inconsistent_groups=len(q.inconsistent),
        labels=q.labels,
        tokens_per_example=s.tokens_per_example,
        encoding=s.encoding,
    )
