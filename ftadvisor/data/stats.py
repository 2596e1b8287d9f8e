"""Dataset statistics in the cookbook's terms: counts, distributions, billing tokens and training cost."""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from ftadvisor.data.formats import Method
from ftadvisor.data.problems import WARNINGS
from ftadvisor.data.scan import Scan, scan_file
from ftadvisor.errors import InputError
from ftadvisor.pricing.catalogue import Catalogue, load_catalogue
from ftadvisor.pricing.training import billing_tokens_per_epoch, default_epochs
from ftadvisor.tokens import encoding_name_for_model

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"


class Distribution(BaseModel):
    min: float
    max: float
    mean: float
    median: float
    p10: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[int]) -> Distribution | None:
        """min, max, mean, median and the 10th/90th percentiles (numpy's linear interpolation)."""
        if not len(values):
            return None
        import numpy as np

        a = np.frombuffer(values, dtype=np.int64) if isinstance(values, array) else np.asarray(values)
        p10, median, p90 = np.quantile(a, [0.1, 0.5, 0.9])
        return cls(
            min=int(a.min()),
            max=int(a.max()),
            mean=float(a.mean()),
            median=float(median),
            p10=float(p10),
            p90=float(p90),
        )


class DatasetStats(BaseModel):
    """The ``data stats`` report. Token figures follow the cookbook's counting method."""

    file: str
    method: Method
    model: str
    encoding: str
    max_example_tokens: int | None
    n_examples: int
    format_errors: dict[str, int]
    warnings: dict[str, int]
    n_missing_system: int
    n_missing_user: int
    messages_per_example: Distribution | None
    tokens_per_example: Distribution | None
    assistant_tokens_per_example: Distribution | None
    n_over_limit: int
    billing_tokens_per_epoch: int
    default_epochs: int
    n_epochs: int
    billed_tokens: int
    training_price_per_1m: float | None
    estimated_training_cost_usd: float | None
    notes: list[str]


def dataset_stats(
    path: str | Path,
    *,
    model: str = DEFAULT_MODEL,
    encoding: str | None = None,
    max_example_tokens: int | None = None,
    method: Method | None = None,
    epochs: int | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
) -> DatasetStats:
    """Validate and count a dataset in one streaming pass and price its training on ``model``."""
    catalogue = catalogue or load_catalogue()
    entry = catalogue.find(model)
    notes: list[str] = []
    if encoding is None:
        encoding = entry.encoding if entry and entry.encoding else encoding_name_for_model(model)
    if max_example_tokens is None and entry is not None:
        max_example_tokens = entry.max_example_tokens
    if max_example_tokens is None:
        notes.append(
            f"no per-example token limit known for {model}: examples are not capped (pass --max-example-tokens)"
        )
    if epochs is not None and not 1 <= epochs <= 50:
        raise InputError(f"--epochs must be between 1 and 50, got {epochs}")
    if entry is None:
        notes.append(f"{model} is not in the price catalogue: no training cost")
    elif entry.is_retired(today):
        notes.append(f"{entry.id} was shut down on {entry.shutdown}: these are stats only, no job can be created on it")
    elif not entry.accepts_jobs(today):
        notes.append(f"{entry.id} takes no new fine-tuning jobs since {entry.job_cutoff}")
    elif entry.job_cutoff:
        days = (entry.job_cutoff - (today or dt.date.today())).days
        notes.append(
            f"{entry.id}: no new fine-tuning jobs from {entry.job_cutoff} ({days} days left); the "
            f"model and its fine-tunes shut down on {entry.shutdown}"
        )

    scan: Scan = scan_file(path, method, encoding=encoding, max_example_tokens=max_example_tokens, progress=progress)
    per_epoch = billing_tokens_per_epoch(scan.n_tokens, max_example_tokens)
    auto = default_epochs(scan.n_examples)
    n_epochs = epochs or auto
    billed = per_epoch * n_epochs
    price = entry.training_per_1m if entry else None
    cost = entry.training_cost(billed) if entry else None
    if entry is not None and entry.training_per_hour is not None:
        notes.append(f"{entry.id} trains by the hour (${entry.training_per_hour:g}/h): no per-token cost")
    return DatasetStats(
        file=str(path),
        method=scan.method,
        model=model,
        encoding=encoding,
        max_example_tokens=max_example_tokens,
        n_examples=scan.n_examples,
        format_errors={k: v for k, v in sorted(scan.counts.items()) if k not in WARNINGS},
        warnings={k: v for k, v in sorted(scan.counts.items()) if k in WARNINGS},
        n_missing_system=scan.counts.get("missing_system", 0),
        n_missing_user=scan.counts.get("missing_user", 0),
        messages_per_example=Distribution.of(scan.n_messages),
        tokens_per_example=Distribution.of(scan.n_tokens),
        assistant_tokens_per_example=Distribution.of(scan.n_assistant_tokens),
        n_over_limit=scan.counts.get("too_long", 0),
        billing_tokens_per_epoch=per_epoch,
        default_epochs=auto,
        n_epochs=n_epochs,
        billed_tokens=billed,
        training_price_per_1m=price,
        estimated_training_cost_usd=None if cost is None else round(cost, 6),
        notes=notes,
    )
