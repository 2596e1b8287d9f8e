"""Everything a report shows, read from the ledger once and typed: the evaluation run, the job that made its
fine-tuned model, the training curve, the judge and regression runs (when they ran), the training data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftadvisor.errors import InputError
from ftadvisor.evaluation.runner import EvalRun, load_run
from ftadvisor.ledger import Ledger


@dataclass
class ReportData:
    run: EvalRun
    job: dict[str, Any] | None
    losses: list[dict[str, Any]]  # step, train_loss, valid_loss
    judge: dict[str, Any] | None  # a `judgement` record of this run
    regression: list[dict[str, Any]] | None  # per model: pass rate, change, flagged
    training_file: Path | None  # the job's training data, when this ledger started the job and it is still here
    advice: dict[str, Any] | None  # the recommendation recorded when the job was started (train --backend auto)

    @property
    def models(self) -> list[str]:
        return [m.model for m in self.run.models]


def _latest_regression(db: Ledger, models: list[str]) -> dict[str, Any] | None:
    """The newest regression run that tested one of ``models``."""
    for rec in db.records(kind="regression", limit=500):
        data: dict[str, Any] = json.loads(rec["data"])
        if {m["model"] for m in data["models"]} & set(models):
            return data
    return None


def gather(db: Ledger, eval_id: str | None = None, job_id: str | None = None) -> ReportData:
    run = load_run(db, eval_id)
    models = [m.model for m in run.models]
    if job_id:
        job = db.job(job_id)
        if job is None:
            raise InputError(f"no job {job_id!r} in the ledger (see `ftadvisor ledger list`)")
    else:
        job = next((j for m in models[1:] if (j := db.job_by_model(m)) is not None), None)
    run_id = job["run_id"] if job else None
    pending = db.latest_record("create_pending", run_id) if run_id else None
    path = Path(pending["training_path"]) if pending and pending.get("training_path") else None
    regression = _latest_regression(db, models)
    return ReportData(
        run=run,
        job=job,
        losses=job["metrics"] if job else [],
        judge=db.latest_record("judgement", run.id),
        regression=regression["models"] if regression else None,
        training_file=path if path is not None and path.is_file() else None,
        advice=db.latest_record("advice", run_id) if run_id else None,
    )
