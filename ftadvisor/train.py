"""The one-stop training flow: validate, estimate, check the model's lifetime, confirm, upload, create,
wait and record. ``plan_training`` spends nothing; ``run_training`` does the rest on any backend."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ftadvisor.advisor.availability import CustomerAnswer, OrgHistoryAnswer, availability
from ftadvisor.backends.base import (
    METHOD_TYPES,
    Backend,
    CreateOutcomeUnknown,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    Method,
    ReportsUsage,
    ResultFiles,
    new_run_id,
    parse_options,
    wait,
)
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
    exact_tokens: bool = True
    price_per_1m: float | None
    estimated_cost_usd: float | None
    cost_basis: str = ""
    pays_provider: bool = True
    job_cutoff: dt.date | None
    shutdown: dt.date | None
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int | None
    warnings: list[str]
    options: dict[str, Any] = Field(default_factory=dict)  # the backend's own, as validated by its Options

    @property
    def free(self) -> bool:
        """Nobody bills this run (own hardware with no price set): it may start without a confirmation. A
        provider's run with an unknown cost is not free."""
        return not self.estimated_cost_usd and not self.pays_provider

    def spec(self, training_file_id: str, validation_file_id: str | None) -> JobSpec:
        return JobSpec(
            model=self.model,
            training_file=training_file_id,
            validation_file=validation_file_id,
            method=self.method,
            hyperparameters=self.hyperparameters,
            suffix=self.suffix,
            seed=self.seed,
            options=self.options,
            planned_epochs=self.n_epochs,
        )


def _validate(
    path: Path, method: Method, model: str, catalogue: Catalogue, today: dt.date, *, validation_file: bool = False
) -> int:
    from ftadvisor.data.validate import validate_file

    report = validate_file(path, method=method, model=model, catalogue=catalogue, today=today)
    errors = report.blocking_errors(validation_file=validation_file)
    if errors:
        shown = [p.format(str(path)) for p in errors][:10]
        more = len(errors) - len(shown)
        raise ValidationFailed(
            "\n".join(
                [f"{path}: {len(errors)} errors; nothing was uploaded", *shown]
                + ([f"... and {more} more (ftadvisor data validate {path})"] if more else [])
            )
        )
    return report.n_examples


def plan_training(
    path: str | Path,
    *,
    model: str,
    backend: Backend | str = "openai",
    method: Method = "sft",
    validation: str | Path | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate_multiplier: float | None = None,
    beta: float | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
    options: dict[str, Any] | None = None,
    org_history: OrgHistoryAnswer = "unknown",
    customer: CustomerAnswer = "unknown",
) -> TrainPlan:
    """Everything that happens before money is spent, on any backend: its options checked, the model priced by
    the backend's own terms, the data validated, whether the model (and the organisation) may still create a
    job (refused here, before anything is uploaded), and the cost."""
    from ftadvisor.backends.registry import get_backend
    from ftadvisor.data.stats import dataset_stats

    b = get_backend(backend) if isinstance(backend, str) else backend
    today = today or dt.date.today()
    catalogue = catalogue or load_catalogue()
    opts = parse_options(b.Options, options, b.name)
    if method not in b.methods:
        raise InputError(f"the {b.name} backend trains {', '.join(sorted(b.methods))}, not {method}")
    terms = b.plan_terms(model, opts, catalogue)
    entry = terms.entry
    if entry is not None and METHOD_TYPES[method] not in entry.methods:
        raise InputError(f"{entry.id} cannot be trained with {method} (it supports: {', '.join(entry.methods)})")
    warnings = []
    if terms.lifetime_applies and entry is not None:
        av = availability(entry, catalogue, today=today, org_history=org_history, customer=customer)
        if av.can_create_job is None and entry.job_cutoff_existing_customers_only:
            raise InputError(
                f"{entry.id} on {b.name}: {'; '.join(av.reasons)}: nothing was uploaded (a new customer's job "
                "would be refused after the upload)"
            )
        if av.can_create_job is False:
            dated = (
                f" (dates checked {entry.as_of}: if {b.name} has moved them, override the row in prices.json)"
                if entry.as_of
                else ""
            )
            raise InputError(
                f"{entry.id} on {b.name}: {'; '.join(av.reasons)}{dated}: no job can be created, nothing "
                "was uploaded; train an open model instead (--backend together or --backend local)"
            )
        if av.can_create_job and entry.job_cutoff_existing_customers_only and entry.shutdown:
            warnings.append(
                f"{entry.id} on {b.name} is a bridge: the same model, trainable until {entry.job_cutoff} and served "
                f"until {entry.shutdown} ({(entry.shutdown - today).days} days); then it must move again, to an open "
                "model (--backend together or --backend local)"
            )
        if av.can_create_job is None:
            warnings.append(f"{entry.id}: {'; '.join(av.reasons)}; {b.name} will refuse the job otherwise")
        if entry.job_cutoff and (entry.job_cutoff - today).days <= CUTOFF_WARNING_DAYS:
            warnings.append(
                f"{entry.id}: no new jobs on {b.name} from {entry.job_cutoff} "
                f"({(entry.job_cutoff - today).days} days); the fine-tuned model stops working on "
                f"{entry.shutdown}, {(entry.shutdown - today).days if entry.shutdown else '?'} days from "
                "today"
            )
    train_path = Path(path)
    _validate(train_path, method, terms.token_model, catalogue, today)
    if validation is not None:
        _validate(Path(validation), method, terms.token_model, catalogue, today, validation_file=True)
    hyper = {
        k: v
        for k, v in (
            ("n_epochs", epochs),
            ("batch_size", batch_size),
            ("learning_rate_multiplier", learning_rate_multiplier),
            ("beta", beta),
        )
        if v is not None
    }
    problems = _spec_problems(terms.model, method, hyper, suffix, seed)
    if problems:
        raise InputError("; ".join(problems))
    s = dataset_stats(
        train_path,
        model=terms.token_model,
        method=method,
        epochs=epochs,
        catalogue=catalogue,
        today=today,
        max_example_tokens=terms.max_example_tokens,
    )
    cost = b.estimate_cost(terms, s.billed_tokens, opts)
    warnings += cost.warnings
    if s.n_over_limit:
        warnings.append(f"{s.n_over_limit} examples exceed {s.max_example_tokens:,} tokens and will be truncated")
    return TrainPlan(
        backend=b.name,
        model=terms.model,
        method=method,
        training_file=str(train_path),
        validation_file=str(validation) if validation else None,
        n_examples=s.n_examples,
        billing_tokens_per_epoch=s.billing_tokens_per_epoch,
        n_epochs=s.n_epochs,
        billed_tokens=s.billed_tokens,
        exact_tokens=terms.exact_tokens,
        price_per_1m=cost.price_per_1m,
        estimated_cost_usd=cost.usd,
        cost_basis=cost.basis,
        pays_provider=cost.pays_provider,
        job_cutoff=entry.job_cutoff if terms.lifetime_applies and entry else None,
        shutdown=entry.shutdown if terms.lifetime_applies and entry else None,
        hyperparameters=hyper,
        suffix=suffix,
        seed=seed,
        warnings=warnings,
        options=opts.model_dump(exclude_defaults=True),
    )


def _spec_problems(
    model: str, method: Method, hyper: dict[str, Any], suffix: str | None, seed: int | None
) -> list[str]:
    """Everything the job spec will be checked for when it is sent, checked now: what the plan (and
    --dry-run) accepts, the real run accepts."""
    try:
        spec = JobSpec(model=model, training_file="-", method=method, hyperparameters=hyper, suffix=suffix, seed=seed)
    except ValidationError as exc:
        return [f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return spec.check()


def parse_metrics_csv(content: bytes) -> list[dict[str, Any]]:
    """Rows of OpenAI's results CSV (step, train_loss, valid_loss, ...)."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return [
        {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        for row in reader
        if row.get("step")
    ]


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


def upload_files(
    plan: TrainPlan,
    backend: Backend,
    *,
    ledger: Any = None,
    run_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FileRef, FileRef | None]:
    """Upload the training (and validation) file; record both."""
    train = backend.upload(plan.training_file, progress)
    valid = backend.upload(plan.validation_file) if plan.validation_file else None
    if ledger is not None:
        for f in (train, valid):
            if f is not None:
                ledger.record("upload", f, ref=run_id)
    return train, valid


def run_training(
    plan: TrainPlan,
    backend: Backend,
    *,
    ledger: Any = None,
    run_id: str | None = None,
    files: tuple[FileRef, FileRef | None] | None = None,
    upload_progress: Callable[[int, int], None] | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    on_status: Callable[[Job], None] | None = None,
    on_created: Callable[[Job], None] | None = None,
    wait_for_end: bool = True,
    poll_interval: float = 30.0,
) -> Job:
    """Upload (unless ``files`` are given), create (at most once), wait until the end, and record the job,
    its cost and its metrics."""
    run_id = run_id or new_run_id()
    train, valid = files or upload_files(plan, backend, ledger=ledger, run_id=run_id, progress=upload_progress)
    if ledger is not None:  # before the request: if its answer is lost, the run can still be found
        ledger.record(
            "create_pending",
            {
                "run_id": run_id,
                "backend": backend.name,
                "model": plan.model,
                "training_file": train.id,
                "training_path": str(Path(plan.training_file).resolve()),
                "sha256": file_sha256(plan.training_file),
            },
            ref=run_id,
        )
    try:
        job = backend.create_job(plan.spec(train.id, valid.id if valid else None), run_id=run_id)
    except CreateOutcomeUnknown as exc:  # the job may exist: say so in the ledger too, then stop the run
        if ledger is not None:
            ledger.record("create_unknown", {"run_id": run_id, "backend": backend.name, "why": str(exc)}, ref=run_id)
        raise
    except FtAdvisorError:  # refused before the provider processed it: no job exists for this run
        if ledger is not None:
            ledger.record("create_absent", {"run_id": run_id}, ref=run_id)
        raise
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
        job = wait(
            backend, job.id, poll_interval=poll_interval, on_event=on_event, on_status=status, sleep=backend.sleep
        )
    if ledger is not None and job.done:
        record_finished(job, backend, ledger)
    return job


def record_finished(job: Job, backend: Backend, ledger: Any) -> None:
    """Record a finished job: its final status, actual cost, usage and metrics (from ``train``, ``jobs wait``
    and re-attaching alike)."""
    usage = backend.training_usage(job) if isinstance(backend, ReportsUsage) else None
    ledger.save_job(job, actual_cost_usd=usage.cost_usd if usage else None)
    if usage is not None:
        ledger.record("training_usage", usage, ref=job.id)
    if job.result_files and isinstance(backend, ResultFiles):
        try:
            ledger.add_metrics(job.id, parse_metrics_csv(backend.download(job.result_files[0])))
        except (ValueError, UnicodeDecodeError, csv.Error, FtAdvisorError) as exc:  # the job itself succeeded
            ledger.record(
                "metrics_unreadable",
                {"job_id": job.id, "file": job.result_files[0], "error": f"{exc.__class__.__name__}: {str(exc)[:200]}"},
                ref=job.id,
            )


def ignored_hyperparameters(requested: dict[str, Any], job: Job) -> list[str]:
    """Requested values the server did not keep (it has silently ignored parameters before)."""
    out = []
    for name, value in requested.items():
        got = job.hyperparameters.get(name)
        if value != "auto" and got not in (None, "auto") and got != value:
            out.append(f"{name}: asked {value}, the server uses {got}")
    return out
