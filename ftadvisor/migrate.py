"""Carry a hosted fine-tune over before it shuts down: find the job that made it, fetch and re-validate the
files it trained on, train a replacement with equivalent settings on another backend, and show on the same
held-out examples whether the replacement is as good (each metric with a paired-bootstrap interval), what each
costs a month, and how many days the hosted one has left. ``plan_migration`` spends nothing; ``run_migration``
trains, evaluates, records everything in the ledger and writes the report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.advisor.breakeven import DAYS_PER_MONTH
from ftadvisor.advisor.costs import request_cost
from ftadvisor.advisor.scenario import Scenario, deployment_hosting, remaining_life_days, serving_fleet
from ftadvisor.backends.base import Backend, Job, JobEvent, ResultFiles
from ftadvisor.errors import InputError
from ftadvisor.evaluation.compare import compare_models
from ftadvisor.evaluation.confidence import Interval
from ftadvisor.evaluation.metrics import FormatRules
from ftadvisor.evaluation.runner import EvalRun, run_eval
from ftadvisor.pricing.catalogue import Catalogue, ModelEntry, load_catalogue
from ftadvisor.train import TrainPlan, ValidationFailed, plan_training, run_training
from ftadvisor.workflows.migrate import HostedSource, WholeFiles, fetch_whole

# The replacement's base when --base is not given: the open model of the same class that each road trains.
DEFAULT_BASE = {
    "local": "meta-llama/Llama-3.1-8B-Instruct",
    "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
}


class MigrationSource(BaseModel):
    """The hosted fine-tune and the job that made it, with its files fetched to this machine."""

    hosted_model: str
    backend: str
    job: Job
    training_path: str
    validation_path: str | None
    shutdown: dt.date | None
    days_left: float | None


class MigrationPlan(BaseModel):
    source: MigrationSource
    target: str
    training: TrainPlan
    test_file: str
    n_test: int


class Parity(BaseModel):
    hosted: float | None
    new: float | None
    ci: Interval | None  # of new - hosted


class MonthlyCost(BaseModel):
    hosted: float | None
    new: float | None
    requests_per_day: float
    basis: list[str]


class MigrationResult(BaseModel):
    plan: MigrationPlan
    new_model: str | None
    job: Job
    eval_id: str | None
    parity: dict[str, Parity]
    cost_per_month_usd: MonthlyCost | None
    report: str | None = None


def _slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")[:80]


def _jobs(hosted: Backend) -> list[Job]:
    """Every job the provider lists (all pages where it can), else its last 100."""
    return hosted.all_jobs() if isinstance(hosted, HostedSource) else hosted.list_jobs(100)


def find_source(
    hosted_model: str,
    hosted: Backend,
    workdir: Path,
    *,
    recorded_job_id: str | None = None,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
) -> MigrationSource:
    """The job that made ``hosted_model`` (the ledger's record first, else the provider's job list), with its
    training and validation files downloaded into ``workdir`` and validated again."""
    from ftadvisor.data.jsonl import atomic_writer
    from ftadvisor.data.validate import validate_file

    catalogue = catalogue or load_catalogue()
    job = (
        hosted.get_job(recorded_job_id)
        if recorded_job_id
        else next((j for j in _jobs(hosted) if j.fine_tuned_model == hosted_model), None)
    )
    if job is None or job.fine_tuned_model != hosted_model:
        raise InputError(f"{hosted.name} lists no job that made {hosted_model}")
    if not isinstance(hosted, ResultFiles):
        raise InputError(f"the {hosted.name} backend cannot download the files a job trained on")
    if not job.training_file:
        raise InputError(f"{job.id} names no training file")
    workdir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str | None] = {}
    for role, file_id in (("train", job.training_file), ("validation", job.validation_file)):
        if not file_id:
            paths[role] = None
            continue
        path = workdir / f"{role}.jsonl"
        content = fetch_whole(hosted, file_id) if isinstance(hosted, WholeFiles) else hosted.download(file_id)
        with atomic_writer(path, "wb") as f:
            f.write(content)
        report = validate_file(path, method=job.method)
        errors = report.blocking_errors(validation_file=role == "validation")
        if errors:
            raise ValidationFailed(
                "\n".join(
                    [
                        f"{path} ({role} file {file_id} of {job.id}): {len(errors)} errors",
                        *[p.format(str(path)) for p in errors[:10]],
                    ]
                )
            )
        paths[role] = str(path)
    entry = catalogue.find(hosted_model, provider=hosted.provider)
    return MigrationSource(
        hosted_model=hosted_model,
        backend=hosted.name,
        job=job,
        training_path=str(paths["train"]),
        validation_path=paths["validation"],
        shutdown=entry.shutdown if entry else None,
        days_left=remaining_life_days(entry, today) if entry else None,
    )


def plan_migration(
    source: MigrationSource,
    target: Backend,
    *,
    base: str | None = None,
    test: str | Path | None = None,
    options: dict[str, Any] | None = None,
    catalogue: Catalogue | None = None,
    today: dt.date | None = None,
) -> MigrationPlan:
    """The replacement's training plan with the hosted job's settings (method, epochs, batch size, learning-rate
    multiplier, beta, seed), and the held-out examples both will answer: ``test``, else the job's validation
    file. Spends nothing."""
    from ftadvisor.evaluation.runner import load_cases

    test_file = str(test) if test is not None else source.validation_path
    if test_file is None:
        raise InputError(f"{source.job.id} had no validation file: give --test FILE with held-out examples")
    model = base or DEFAULT_BASE.get(target.name) or source.job.model
    h = source.job.hyperparameters
    pick = {
        k: h[k]
        for k in ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")
        if isinstance(h.get(k), (int, float)) and not isinstance(h.get(k), bool)
    }
    suffix = (
        (source.job.fine_tuned_model or "").split(":")[-2]
        if source.job.fine_tuned_model and source.job.fine_tuned_model.startswith("ft:")
        else None
    )
    training = plan_training(
        source.training_path,
        model=model,
        backend=target,
        method=source.job.method,
        validation=source.validation_path,
        epochs=pick.get("n_epochs"),
        batch_size=pick.get("batch_size"),
        learning_rate_multiplier=pick.get("learning_rate_multiplier"),
        beta=pick.get("beta"),
        suffix=suffix or "migrated",
        seed=source.job.seed,
        options=options,
        catalogue=catalogue,
        today=today,
    )
    return MigrationPlan(
        source=source, target=target.name, training=training, test_file=test_file, n_test=len(load_cases(test_file))
    )


def parity(run: EvalRun) -> dict[str, Parity]:
    """Each metric of the hosted model (first) and its replacement (second), with the paired-bootstrap
    interval of their difference (see ``evaluation.compare``)."""
    return {k: Parity(hosted=c.a, new=c.b, ci=c.ci) for k, c in compare_models(run).items()}


def monthly_costs(
    run: EvalRun, hosted: ModelEntry | None, new: ModelEntry | None, new_kind: str, requests_per_day: float
) -> MonthlyCost:
    """What each model costs a month at ``requests_per_day``, from the tokens the evaluation measured: per-token
    prices (plus an hourly deployment fee where the provider charges one) or the GPUs a self-hosted model needs."""
    h_sum, n_sum = run.models[0], run.models[1]
    basis = []

    def per_token(entry: ModelEntry | None, s: Any) -> float | None:
        if entry is None or entry.self_hosted:
            return None
        per_request = request_cost(entry, "ft", s.prompt_tokens_mean, s.completion_tokens_mean)
        return per_request * requests_per_day * DAYS_PER_MONTH + deployment_hosting(entry)

    hosted_usd = per_token(hosted, h_sum)
    basis.append(
        f"hosted: {h_sum.prompt_tokens_mean:,.0f} prompt + {h_sum.completion_tokens_mean:,.0f} completion "
        f"tokens per request at {hosted.id if hosted else '?'}'s fine-tuned prices"
        if hosted
        else "hosted: not in the price catalogue"
    )
    if new is not None and new.self_hosted:
        s = Scenario(prompt_tokens=0, input_tokens=n_sum.prompt_tokens_mean, output_tokens=n_sum.completion_tokens_mean)
        fleet = serving_fleet(new, s, requests_per_day)
        new_usd = fleet.usd_per_month if fleet else None
        basis.append(f"new: {fleet.basis}" if fleet else "new: no serving profile")
    else:
        new_usd = per_token(new, n_sum)
        basis.append(
            f"new: {new.id}'s per-token prices"
            if new
            else f"new: {new_kind} model not in the price catalogue (give its serving profile in prices.json)"
        )
    return MonthlyCost(hosted=hosted_usd, new=new_usd, requests_per_day=requests_per_day, basis=basis)


def run_migration(
    plan: MigrationPlan,
    hosted: Backend,
    target: Backend,
    *,
    ledger: Any = None,
    requests_per_day: float = 1000.0,
    rules: FormatRules | None = None,
    report_dir: Path | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    on_status: Callable[[Job], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    poll_interval: float = 30.0,
    catalogue: Catalogue | None = None,
) -> MigrationResult:
    """Train the replacement, evaluate both on the same examples, price both, record and report."""
    catalogue = catalogue or load_catalogue()
    job = run_training(
        plan.training, target, ledger=ledger, on_event=on_event, on_status=on_status, poll_interval=poll_interval
    )
    if job.status != "succeeded" or not job.fine_tuned_model:
        result = MigrationResult(plan=plan, new_model=None, job=job, eval_id=None, parity={}, cost_per_month_usd=None)
        if ledger is not None:
            ledger.record("migration", result, ref=job.id)
        return result
    run = run_eval(
        [(hosted, plan.source.hosted_model), (target, job.fine_tuned_model)],
        plan.test_file,
        rules=rules,
        progress=progress,
    )
    hosted_entry = catalogue.find(plan.source.hosted_model, provider=hosted.provider)
    new_entry = catalogue.find(plan.training.model, provider=target.provider)
    result = MigrationResult(
        plan=plan,
        new_model=job.fine_tuned_model,
        job=job,
        eval_id=run.id,
        parity=parity(run),
        cost_per_month_usd=monthly_costs(run, hosted_entry, new_entry, target.name, requests_per_day),
    )
    if ledger is not None:
        ledger.save_eval(run)
        if report_dir is not None:
            from ftadvisor.reports.build import write_report

            result.report = str(
                write_report(report_dir, ledger, eval_id=run.id, job_id=job.id, requests_per_day=requests_per_day)
            )
        ledger.record("migration", result, ref=job.id)
    return result


def workdir_for(hosted_model: str) -> Path:
    """Where the fetched files of a migration live (``<data folder>/migrations/<model>``)."""
    from ftadvisor.config import user_dir

    return user_dir() / "migrations" / _slug(hosted_model)
