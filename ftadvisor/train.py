"""The one-stop training flow: validate, estimate, check the model's lifetime, confirm, upload, create,
wait and record. ``plan_training`` spends nothing; ``run_training`` does the rest on any backend."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.advisor.availability import OrgHistoryAnswer, availability
from ftadvisor.backends.base import METHOD_TYPES, Backend, FileRef, Job, JobEvent, JobSpec, Method, wait
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.pricing.catalogue import Catalogue, load_catalogue

CUTOFF_WARNING_DAYS = 90


class ValidationFailed(FtAdvisorError):
    """The dataset has errors: the problems were listed, nothing was sent."""

    exit_code = 1


class TrainPlan(BaseModel):
    backend: str
    model: str
    method: Method
    training_file: str
    validation_file: str | None
    n_examples: int
    billing_tokens_per_epoch: int
    n_epochs: int
    billed_tokens: int
    price_per_1m: float | None
    estimated_cost_usd: float | None
    job_cutoff: dt.date | None
    shutdown: dt.date | None
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int | None
    warnings: list[str]
    backend_options: dict[str, Any] = {}

    def spec(self, training_file_id: str, validation_file_id: str | None) -> JobSpec:
        return JobSpec(model=self.model, training_file=training_file_id, validation_file=validation_file_id,
                       method=self.method, hyperparameters=self.hyperparameters, suffix=self.suffix, seed=self.seed)


def _validate(path: Path, method: Method, model: str, catalogue: Catalogue, today: dt.date) -> int:
    from ftadvisor.data.validate import validate_file

    report = validate_file(path, method=method, model=model, catalogue=catalogue, today=today)
    if not report.valid:
        shown = [p.format(str(path)) for p in report.blocking_errors()][:10]
        more = report.n_errors - len(shown)
        raise ValidationFailed("\n".join([f"{path}: {report.n_errors} errors; nothing was uploaded", *shown]
                                         + ([f"... and {more} more (ftadvisor data validate {path})"] if more else [])))
    return report.n_examples


def plan_training(path: str | Path, *, model: str, backend: str = "openai", method: Method = "sft",
                  validation: str | Path | None = None, epochs: int | None = None, batch_size: int | None = None,
                  learning_rate_multiplier: float | None = None, beta: float | None = None,
                  suffix: str | None = None, seed: int | None = None, catalogue: Catalogue | None = None,
                  today: dt.date | None = None, local_options: dict[str, Any] | None = None,
                  org_history: OrgHistoryAnswer = "unknown") -> TrainPlan:
    """Everything that happens before money is spent: checks, cost estimate, lifetime warnings, and whether
    the organisation may still create the job (refused here, before anything is uploaded)."""
    from ftadvisor.data.stats import dataset_stats

    today = today or dt.date.today()
    catalogue = catalogue or load_catalogue()
    if backend == "local":
        return _plan_local(Path(path), model=model, method=method, validation=validation, epochs=epochs,
                           batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier, beta=beta,
                           suffix=suffix, seed=seed, catalogue=catalogue, today=today, options=local_options or {})
    entry = catalogue.find(model)
    if entry is None:
        raise InputError(f"model {model!r} is not in the price catalogue; see `ftadvisor prices list`")
    if METHOD_TYPES[method] not in entry.methods:
        raise InputError(f"{entry.id} cannot be trained with {method} (it supports: {', '.join(entry.methods)})")
    if backend == "openai" and entry.provider != "openai":
        raise InputError(f"{entry.id} is not an OpenAI model; use --backend local")
    av = availability(entry, catalogue, today=today, org_history=org_history)
    if av.can_create_job is False:
        raise InputError(f"{entry.id}: {'; '.join(av.reasons)}: no job can be created, nothing was uploaded; "
                         "fine-tune an open model locally instead (--backend local)")
    train_path = Path(path)
    _validate(train_path, method, entry.id, catalogue, today)
    if validation is not None:
        _validate(Path(validation), method, entry.id, catalogue, today)
    hyper = {k: v for k, v in (("n_epochs", epochs), ("batch_size", batch_size),
                               ("learning_rate_multiplier", learning_rate_multiplier), ("beta", beta))
             if v is not None}
    problems = _spec_problems(entry.id, method, hyper, suffix, seed)
    if problems:
        raise InputError("; ".join(problems))
    s = dataset_stats(train_path, model=entry.id, method=method, epochs=epochs, catalogue=catalogue, today=today)
    warnings = []
    if av.can_create_job is None:
        warnings.append(f"{entry.id}: {'; '.join(av.reasons)}; OpenAI will refuse the job otherwise")
    if entry.job_cutoff and (entry.job_cutoff - today).days <= CUTOFF_WARNING_DAYS:
        warnings.append(f"{entry.id}: no new jobs from {entry.job_cutoff} ({(entry.job_cutoff - today).days} days); "
                        f"the fine-tuned model stops working on {entry.shutdown}, "
                        f"{(entry.shutdown - today).days if entry.shutdown else '?'} days from today")
    if s.n_over_limit:
        warnings.append(f"{s.n_over_limit} examples exceed {s.max_example_tokens:,} tokens and will be truncated")
    return TrainPlan(backend=backend, model=entry.id, method=method, training_file=str(train_path),
                     validation_file=str(validation) if validation else None, n_examples=s.n_examples,
                     billing_tokens_per_epoch=s.billing_tokens_per_epoch, n_epochs=s.n_epochs,
                     billed_tokens=s.billed_tokens, price_per_1m=s.training_price_per_1m,
                     estimated_cost_usd=s.estimated_training_cost_usd, job_cutoff=entry.job_cutoff,
                     shutdown=entry.shutdown, hyperparameters=hyper, suffix=suffix, seed=seed, warnings=warnings)


def _spec_problems(model: str, method: Method, hyper: dict[str, Any], suffix: str | None,
                   seed: int | None) -> list[str]:
    """Everything the job spec will be checked for when it is sent, checked now: what the plan (and
    --dry-run) accepts, the real run accepts."""
    from pydantic import ValidationError

    try:
        spec = JobSpec(model=model, training_file="-", method=method, hyperparameters=hyper, suffix=suffix, seed=seed)
    except ValidationError as exc:
        return [f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return spec.check()


ESTIMATE_MODEL = "gpt-4o-mini"  # o200k_base: the token estimate for models whose tokenizer is not loaded here


def _plan_local(path: Path, *, model: str, method: Method, validation: str | Path | None, epochs: int | None,
                batch_size: int | None, learning_rate_multiplier: float | None, beta: float | None, suffix: str | None,
                seed: int | None, catalogue: Catalogue, today: dt.date, options: dict[str, Any]) -> TrainPlan:
    """A local LoRA job: no lifetime limit; cost from GPU-hours of the self-hosted profile, if any."""
    from ftadvisor.data.stats import dataset_stats

    if method not in ("sft", "dpo"):
        raise InputError(f"the local backend trains sft and dpo, not {method}")
    _validate(path, method, ESTIMATE_MODEL, catalogue, today)
    if validation is not None:
        from ftadvisor.data.validate import validate_file

        report = validate_file(validation, method=method)
        errors = report.blocking_errors(validation_file=True)
        if errors:
            raise ValidationFailed("\n".join(p.format(str(validation)) for p in errors[:10]))
    hyper = {k: v for k, v in (("n_epochs", epochs), ("batch_size", batch_size),
                               ("learning_rate_multiplier", learning_rate_multiplier), ("beta", beta)) if v is not None}
    problems = _spec_problems(model, method, hyper, suffix, seed)
    if problems:
        raise InputError("; ".join(problems))
    s = dataset_stats(path, model=ESTIMATE_MODEL, method=method, epochs=epochs, catalogue=catalogue, today=today,
                      max_example_tokens=options.get("max_length", 1024))
    entry = catalogue.find(model)
    rate = options.get("gpu_per_hour", entry.gpu_per_hour if entry else None)
    tps = entry.training_tokens_per_second if entry else None
    cost = s.billed_tokens / tps / 3600 * rate if rate is not None and tps else None
    warnings = ["token counts use o200k_base as an estimate of the model's own tokenizer"]
    if rate is None:
        warnings.append("no GPU price per hour: pass --gpu-per-hour to get the run's cost")
    if rate is not None and options.get("gpu_per_hour") is None:
        options = {**options, "gpu_per_hour": rate}
    return TrainPlan(backend="local", model=model, method=method, training_file=str(path),
                     validation_file=str(validation) if validation else None, n_examples=s.n_examples,
                     billing_tokens_per_epoch=s.billing_tokens_per_epoch, n_epochs=s.n_epochs,
                     billed_tokens=s.billed_tokens, price_per_1m=None, estimated_cost_usd=cost, job_cutoff=None,
                     shutdown=None, hyperparameters=hyper, suffix=suffix, seed=seed, warnings=warnings,
                     backend_options=options)


def actual_cost(job: Job, catalogue: Catalogue) -> float | None:
    """What the finished job cost: trained (billed) tokens x the training price."""
    entry = catalogue.find(job.model)
    if entry is None or job.trained_tokens is None:
        return None
    return entry.training_cost(job.trained_tokens)


def parse_metrics_csv(content: bytes) -> list[dict[str, Any]]:
    """Rows of OpenAI's results CSV (step, train_loss, valid_loss, ...)."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return [{k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
            for row in reader if row.get("step")]


def file_sha256(path: str | Path) -> str:
    """The training file's digest, read once per run: `train` checks lost runs with it, then records the new
    one (a multi-GB file should not be hashed twice)."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # size and mtime: a changed file is read again
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def upload_files(plan: TrainPlan, backend: Backend, *, ledger: Any = None, run_id: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> tuple[FileRef, FileRef | None]:
    """Upload the training (and validation) file; record both."""
    train = backend.upload(plan.training_file, progress)
    valid = backend.upload(plan.validation_file) if plan.validation_file else None
    if ledger is not None:
        for f in (train, valid):
            if f is not None:
                ledger.record("upload", f, ref=run_id)
    return train, valid


def run_training(plan: TrainPlan, backend: Backend, *, ledger: Any = None, run_id: str | None = None,
                 files: tuple[FileRef, FileRef | None] | None = None,
                 upload_progress: Callable[[int, int], None] | None = None,
                 on_event: Callable[[JobEvent], None] | None = None, on_status: Callable[[Job], None] | None = None,
                 on_created: Callable[[Job], None] | None = None, wait_for_end: bool = True,
                 poll_interval: float = 30.0, catalogue: Catalogue | None = None) -> Job:
    """Upload (unless ``files`` are given), create (at most once), wait until the end, and record the job,
    its cost and its metrics."""
    from ftadvisor.backends.openai_api import new_run_id

    run_id = run_id or new_run_id()
    train, valid = files or upload_files(plan, backend, ledger=ledger, run_id=run_id, progress=upload_progress)
    extra = plan.backend_options  # local LoRA options (rank, qlora, ...); the OpenAI backend takes none
    if ledger is not None:  # before the request: if its answer is lost, the run can still be found
        ledger.record("create_pending", {"run_id": run_id, "backend": backend.name, "model": plan.model,
                                         "training_file": train.id, "sha256": file_sha256(plan.training_file)},
                      ref=run_id)
    job = backend.create_job(plan.spec(train.id, valid.id if valid else None), run_id=run_id, **extra)
    if ledger is not None:
        ledger.save_job(job, run_id=run_id, estimated_cost_usd=plan.estimated_cost_usd)
    if on_created:
        on_created(job)

    def status(j: Job) -> None:
        if ledger is not None:
            ledger.save_job(j)
        if on_status:
            on_status(j)

    if wait_for_end:
        job = wait(backend, job.id, poll_interval=poll_interval, on_event=on_event, on_status=status,
                   sleep=getattr(backend, "sleep", time.sleep))
    if ledger is not None and job.done:
        record_finished(job, backend, ledger, catalogue)
    return job


def record_finished(job: Job, backend: Backend, ledger: Any, catalogue: Catalogue | None = None) -> None:
    """Record a finished job: its final status, actual cost, usage and metrics (from ``train``, ``jobs wait``
    and re-attaching alike)."""
    job_cost = getattr(backend, "job_cost", None)
    cost = job_cost(job) if job_cost else actual_cost(job, catalogue or load_catalogue())
    ledger.save_job(job, actual_cost_usd=cost)
    usage = getattr(backend, "usage", None)
    if usage is not None and (u := usage(job.id)):
        ledger.record("training_usage", u, ref=job.id)
    download = getattr(backend, "download", None)
    if job.result_files and download is not None:
        try:
            ledger.add_metrics(job.id, parse_metrics_csv(download(job.result_files[0])))
        except (ValueError, UnicodeDecodeError, csv.Error, FtAdvisorError) as exc:  # the job itself succeeded
            ledger.record("metrics_unreadable", {"job_id": job.id, "file": job.result_files[0],
                                                 "error": f"{exc.__class__.__name__}: {str(exc)[:200]}"},
                          ref=job.id)


def ignored_hyperparameters(requested: dict[str, Any], job: Job) -> list[str]:
    """Requested values the server did not keep (it has silently ignored parameters before)."""
    out = []
    for name, value in requested.items():
        got = job.hyperparameters.get(name)
        if value != "auto" and got not in (None, "auto") and got != value:
            out.append(f"{name}: asked {value}, the server uses {got}")
    return out
