"""The migration kit's first step: know what you have before OpenAI turns it off (2027-01-14).

``inventory`` reads every fine-tuning job of the organisation (every page of the list), and for each
fine-tuned model: its base, creation date, hyperparameters, suffix and metadata, the days it has left, whether
the files it trained on can still be downloaded whole (size and line count), the road it could move to and
roughly what retraining there costs. Riskiest first. It only reads: nothing is created or paid for.
``fetch_whole`` is the one download rule of the kit: a file shorter than the provider says is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from ftadvisor.advisor.availability import CustomerAnswer, availability
from ftadvisor.backends.base import Job
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.pricing.catalogue import Catalogue
from ftadvisor.tokens import base_model

# Where a model goes when the Azure bridge is closed to this organisation: the per-token open road (the
# base Together serves as a serverless LoRA, so the replacement costs nothing while idle).
OPEN_ROAD = ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")


@runtime_checkable
class WholeFiles(Protocol):
    """A provider that says how large its files are, so a download can be checked whole."""

    name: ClassVar[str]

    def file_bytes(self, file_id: str) -> int: ...
    def download(self, file_id: str) -> bytes: ...


@runtime_checkable
class HostedSource(WholeFiles, Protocol):
    """What the inventory reads from a hosted provider (OpenAI and Azure implement it)."""

    def all_jobs(self) -> list[Job]: ...


def fetch_whole(source: WholeFiles, file_id: str) -> bytes:
    """A file's content, refused when fewer bytes arrive than the provider records for it (a download cut
    short at a line end still parses, and would train on part of the data as if it were all of it)."""
    expected = source.file_bytes(file_id)
    content = source.download(file_id)
    if len(content) != expected:
        raise InputError(
            f"{file_id}: {len(content):,} bytes arrived of the {expected:,} {source.name} records for it: the "
            "download was cut short; nothing was written or trained on, try again"
        )
    return content


class FileCheck(BaseModel):
    file_id: str
    bytes: int | None = None  # as the provider records it
    lines: int | None = None  # non-empty lines of the whole download
    downloadable: bool
    problem: str | None = None


class InventoryRow(BaseModel):
    fine_tuned_model: str
    job_id: str
    base: str
    created: dt.date | None
    method: str
    hyperparameters: dict[str, object]
    suffix: str | None
    metadata: dict[str, str]
    trained_tokens: int | None
    shutdown: dt.date | None
    days_left: int | None
    training: FileCheck | None
    validation: FileCheck | None
    target: str  # the backend it could move to
    target_model: str
    target_note: str
    retrain_usd: float | None  # training on the target at the tokens the job was billed for
    risk: str  # one line: why this row sits where it does


def _check(source: HostedSource, file_id: str | None) -> FileCheck | None:
    if not file_id:
        return None
    try:
        content = fetch_whole(source, file_id)
    except FtAdvisorError as exc:
        return FileCheck(file_id=file_id, downloadable=False, problem=str(exc))
    return FileCheck(
        file_id=file_id, bytes=len(content), lines=sum(1 for x in content.splitlines() if x.strip()), downloadable=True
    )


def _suffix(fine_tuned_model: str) -> str | None:
    """The suffix of ``ft:base:org:suffix:id`` (empty parts are None)."""
    parts = fine_tuned_model.split(":")
    return (parts[3] or None) if len(parts) == 5 else None


def _target(cat: Catalogue, base: str, today: dt.date, customer: CustomerAnswer) -> tuple[str, str, str]:
    """The road a model of ``base`` could move to: the Azure bridge where this customer may take it, else
    the per-token open road."""
    azure = cat.find(base, provider="azure")
    if azure is not None and azure.shutdown is not None:
        av = availability(azure, cat, today=today, customer=customer)
        if av.can_create_job is not False:
            note = f"same model until {azure.shutdown}, then move again"
            return "azure", azure.id, note + ("; existing Azure customers only" if av.can_create_job is None else "")
    return OPEN_ROAD[0], OPEN_ROAD[1], "an open model, per token, whose weights you can download"


def inventory(
    source: HostedSource, cat: Catalogue, *, today: dt.date, customer: CustomerAnswer = "unknown"
) -> list[InventoryRow]:
    """Every fine-tuned model of the organisation with what moving it needs, riskiest first: files that can
    no longer be downloaded whole (only recorded answers can carry it over), then the fewest days left."""
    rows = []
    for job in source.all_jobs():
        if not job.fine_tuned_model:
            continue
        base = base_model(job.fine_tuned_model)
        entry = cat.find(base, provider="openai")
        shutdown = entry.shutdown if entry else None
        training, validation = _check(source, job.training_file), _check(source, job.validation_file)
        target, target_model, note = _target(cat, base, today, customer)
        target_entry = cat.find(target_model, provider=target)
        retrain = (
            target_entry.training_cost(job.trained_tokens)
            if target_entry is not None and job.trained_tokens is not None
            else None
        )
        days_left = None if shutdown is None else max(0, (shutdown - today).days)
        if training is None or not training.downloadable:
            risk = "files not whole: its own answers are the only data left; keep them before it shuts down"
        elif days_left is not None:
            risk = f"{days_left} days until {shutdown}"
        else:
            risk = "no shutdown date known"
        rows.append(
            InventoryRow(
                fine_tuned_model=job.fine_tuned_model,
                job_id=job.id,
                base=base,
                created=dt.datetime.fromtimestamp(job.created_at, dt.timezone.utc).date() if job.created_at else None,
                method=job.method,
                hyperparameters=job.hyperparameters,
                suffix=_suffix(job.fine_tuned_model),
                metadata=job.metadata,
                trained_tokens=job.trained_tokens,
                shutdown=shutdown,
                days_left=days_left,
                training=training,
                validation=validation,
                target=target,
                target_model=target_model,
                target_note=note,
                retrain_usd=retrain,
                risk=risk,
            )
        )
    rows.sort(key=lambda r: (r.training is not None and r.training.downloadable, r.days_left is None, r.days_left or 0))
    return rows
