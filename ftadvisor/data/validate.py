"""Validate a dataset file: every problem with its line, message index and category."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ftadvisor.data.formats import Method
from ftadvisor.data.problems import COUNTED_ONLY, Problem
from ftadvisor.data.scan import scan_file
from ftadvisor.pricing.catalogue import Catalogue, load_catalogue
from ftadvisor.tokens import encoding_name_for_model


class ValidationReport(BaseModel):
    file: str
    method: Method
    detected_from_line: int | None
    model: str | None
    valid: bool
    n_lines: int
    n_examples: int
    n_errors: int
    n_warnings: int
    counts: dict[str, int]
    problems: list[Problem]
    problems_truncated: bool
    notes: list[str]

    def blocking_errors(self, *, validation_file: bool = False) -> list[Problem]:
        """The listed errors that stop training; a validation file may be small (OpenAI's 10-example
        minimum is for training data)."""
        return [
            p
            for p in self.problems
            if p.severity == "error" and not (validation_file and p.category == "too_few_examples")
        ]


def validate_file(
    path: str | Path,
    *,
    method: Method | None = None,
    model: str | None = None,
    encoding: str | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
) -> ValidationReport:
    """Check every line for ``method`` (detected when None); with ``model``, also its token limit."""
    notes: list[str] = []
    limit = None
    if model is not None:
        entry = (catalogue or load_catalogue()).find(model)
        encoding = encoding or (entry.encoding if entry and entry.encoding else None) or encoding_name_for_model(model)
        limit = entry.max_example_tokens if entry else None
        if entry is None:
            notes.append(f"{model} is not in the price catalogue: its per-example token limit is unknown")
        elif entry.is_retired(today):
            notes.append(f"{entry.id} was shut down on {entry.shutdown}: no job can be created on it")
        elif not entry.accepts_jobs(today):
            notes.append(f"{entry.id} takes no new fine-tuning jobs since {entry.job_cutoff}")
    scan = scan_file(path, method, encoding=encoding, max_example_tokens=limit, progress=progress)
    return ValidationReport(
        file=str(path),
        method=scan.method,
        detected_from_line=scan.detected_from,
        model=model,
        valid=scan.valid,
        n_lines=scan.n_lines,
        n_examples=scan.n_examples,
        n_errors=scan.n_errors,
        n_warnings=scan.n_warnings,
        counts=dict(sorted(scan.counts.items())),
        problems=scan.problems,
        problems_truncated=len(scan.problems) < sum(n for c, n in scan.counts.items() if c not in COUNTED_ONLY),
        notes=notes,
    )
