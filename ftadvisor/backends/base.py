"""The provider-neutral boundary: the objects every backend returns (shaped like OpenAI's, the lingua franca),
the small core protocol every backend keeps, the optional capabilities some declare (callers check them with
``isinstance``, never ``getattr``), typed per-backend options, and the shared ``wait`` loop.

A backend is a class registered in the ``ftadvisor.backends`` entry-point group (see ``registry``). Its core:
upload, create, get, list, events, cancel, complete, plus the two planning hooks ``plan_terms`` and
``estimate_cost`` that let ``train`` price a job on any provider without credentials.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ftadvisor.data.formats import Method
from ftadvisor.errors import FtAdvisorError

if TYPE_CHECKING:
    from ftadvisor.pricing.catalogue import Catalogue

T = TypeVar("T")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE = frozenset({"validating_files", "queued", "running"})  # a worker or the provider is on it
RUN_KEY = "ftadvisor_run"  # job metadata key that carries the run id (at-most-once creation)


def new_run_id() -> str:
    return "run-" + uuid.uuid4().hex[:16]


METHOD_TYPES: dict[Method, str] = {"sft": "supervised", "dpo": "dpo", "rft": "reinforcement"}

# Ranges from OpenAI's API (CreateFineTuningJobRequest): checked before anything is sent.
HYPERPARAMETER_RANGES: dict[str, tuple[float, float, bool]] = {  # name: (low, high, low is exclusive)
    "n_epochs": (1, 50, False),
    "batch_size": (1, 256, False),
    "learning_rate_multiplier": (0, float("inf"), True),
    "beta": (0, 2, True),
    "compute_multiplier": (0.00001, 10, False),
    "eval_interval": (1, float("inf"), False),
    "eval_samples": (1, float("inf"), False),
}
METHOD_HYPERPARAMETERS = {
    "sft": {"n_epochs", "batch_size", "learning_rate_multiplier"},
    "dpo": {"n_epochs", "batch_size", "learning_rate_multiplier", "beta"},
    "rft": {
        "n_epochs",
        "batch_size",
        "learning_rate_multiplier",
        "compute_multiplier",
        "eval_interval",
        "eval_samples",
        "reasoning_effort",
    },
}


class FileRef(BaseModel):
    id: str
    filename: str
    bytes: int
    purpose: str = "fine-tune"
    status: str | None = None
    created_at: int | None = None


class JobError(BaseModel):
    code: str | None = None
    message: str | None = None
    param: str | None = None


class JobSpec(BaseModel):
    """What to train. ``hyperparameters`` values are numbers or "auto"."""

    model: str
    training_file: str
    validation_file: str | None = None
    method: Method = "sft"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    suffix: str | None = Field(default=None, min_length=1, max_length=64)
    seed: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    grader: dict[str, Any] | None = None
    options: dict[str, Any] = Field(default_factory=dict)  # the backend's own Options, validated by it
    planned_epochs: int | None = None  # what the plan priced, for providers with no "auto" epochs

    def check(self) -> list[str]:
        """Problems with the spec, in OpenAI's terms (empty when it can be sent)."""
        problems = []
        allowed = METHOD_HYPERPARAMETERS[self.method]
        for name, value in self.hyperparameters.items():
            if name not in allowed:
                problems.append(f"{name} is not a {self.method} hyperparameter (allowed: {', '.join(sorted(allowed))})")
            elif value == "auto" or name == "reasoning_effort":
                continue
            else:
                low, high, open_low = HYPERPARAMETER_RANGES[name]
                ok = (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                    and (value > low if open_low else value >= low)
                    and value <= high
                )
                if name in ("n_epochs", "batch_size", "eval_interval", "eval_samples") and not isinstance(value, int):
                    ok = False
                if not ok:
                    bound = f"> {low:g}" if open_low else f">= {low:g}"
                    problems.append(
                        f"{name}={value!r} is out of range ({bound}"
                        + (f" and <= {high:g})" if high != float("inf") else ")")
                    )
        if self.method == "rft" and not self.grader:
            problems.append("RFT needs a grader")
        if len(self.metadata) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in self.metadata.items()):
            problems.append("metadata allows at most 16 pairs, keys up to 64 and values up to 512 characters")
        return problems


class Job(BaseModel):
    id: str
    status: str
    model: str
    backend: str
    created_at: int | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: JobError | None = None
    method: Method = "sft"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training_file: str | None = None
    validation_file: str | None = None
    result_files: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    seed: int | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


class JobEvent(BaseModel):
    id: str
    created_at: int
    level: str = "info"
    message: str
    type: str | None = None
    data: dict[str, Any] | None = None


class Checkpoint(BaseModel):
    id: str
    created_at: int
    step_number: int
    fine_tuned_model_checkpoint: str
    metrics: dict[str, float | None] = Field(default_factory=dict)


class Usage(BaseModel):
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0


class Completion(BaseModel):
    model: str
    text: str
    usage: Usage
    latency_s: float


class BackendOptions(BaseModel):
    """A backend's own settings for a job (LoRA rank, a deployment name, ...): typed, unknown keys refused,
    each field's description shown in ``ftadvisor backends`` and ``train --help``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(BackendOptions):
    """This backend takes no options of its own."""


def parse_options(options: type[BackendOptions], given: dict[str, Any] | None, backend: str) -> BackendOptions:
    """``given`` (e.g. from ``-o KEY=VALUE``) validated by a backend's own Options model, before anything is
    sent; a mistake names the option and lists the backend's options."""
    from pydantic import ValidationError

    from ftadvisor.errors import InputError

    try:
        return options.model_validate(given or {})
    except ValidationError as exc:
        fields = ", ".join(options.model_fields) or "none"
        raise InputError(
            "; ".join(f"-o {'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
            + f" (options of --backend {backend}: {fields})"
        ) from None


class TrainingUsage(BaseModel):
    """What a finished job used, as the backend measured or billed it."""

    wall_s: float | None = None
    trained_tokens: int | None = None
    peak_memory_mb: float | None = None
    cost_usd: float | None = None


class PlanTerms(BaseModel):
    """How a backend trains ``model``: the catalogue row that prices it, the model whose tokenizer counts its
    tokens (exactly, or as an estimate), the longest example kept, and whether the provider's lifetime and
    organisation rules apply."""

    model: str
    entry: Any = None  # ModelEntry | None (Any: pydantic cannot see the TYPE_CHECKING import)
    token_model: str
    exact_tokens: bool
    max_example_tokens: int | None = None
    lifetime_applies: bool = True


class CostEstimate(BaseModel):
    usd: float | None
    basis: str
    price_per_1m: float | None = None  # when billed per token
    pays_provider: bool = True  # False on your own hardware: nothing is charged by anyone for the job
    warnings: list[str] = Field(default_factory=list)


class PriceEstimate(BaseModel):
    """The provider's own quote for a job before it is created (Together's estimate-price)."""

    total_usd: float | None
    train_tokens: float | None = None
    eval_tokens: float | None = None
    allowed_to_proceed: bool | None = None
    user_limit_usd: float | None = None
    unavailable_reason: str | None = None


class Deployment(BaseModel):
    name: str
    model: str
    status: str
    hourly_usd: float | None = None
    note: str | None = None


class AdapterFiles(BaseModel):
    """A LoRA adapter on disk in PEFT's layout (adapter_config.json + adapter_model.safetensors)."""

    path: str
    base_model: str | None = None
    files: list[str] = Field(default_factory=list)


class ExportResult(BaseModel):
    """What ``export`` wrote and how to serve it."""

    kind: str  # adapter | merged
    out: str
    vllm: str
    rank: int | None = None
    base_model: str | None = None
    dtype: str | None = None


@runtime_checkable
class Backend(Protocol):
    """What every provider does. Implementations also carry class attributes: ``name`` (the registry key),
    ``Options`` (a :class:`BackendOptions` subclass) and ``methods`` (the training methods it runs)."""

    name: ClassVar[str]
    provider: ClassVar[str]  # its rows in the price catalogue
    methods: ClassVar[frozenset[str]]
    Options: ClassVar[type[BackendOptions]]
    sleep: Callable[[float], None]

    def upload(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> FileRef: ...
    def create_job(self, spec: JobSpec, run_id: str | None = None) -> Job: ...
    def get_job(self, job_id: str) -> Job: ...
    def list_jobs(self, limit: int = 20) -> list[Job]: ...
    def list_events(self, job_id: str, limit: int = 100, after: str | None = None) -> list[JobEvent]:
        """Up to ``limit`` events, newest first; ``after``: those older than the event with that id."""
        ...

    def cancel(self, job_id: str) -> Job: ...
    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion: ...
    def plan_terms(self, model: str, options: BackendOptions, catalogue: Catalogue) -> PlanTerms: ...
    def estimate_cost(self, terms: PlanTerms, billed_tokens: int, options: BackendOptions) -> CostEstimate: ...


# --- optional capabilities: declared by implementing the methods, checked with isinstance ---------------------


@runtime_checkable
class Pausable(Protocol):
    def pause(self, job_id: str) -> Job: ...
    def resume(self, job_id: str) -> Job: ...


@runtime_checkable
class Checkpointed(Protocol):
    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...


@runtime_checkable
class FindsRuns(Protocol):
    """Can tell which job a run created (the at-most-once lookup after a create whose answer was lost)."""

    def find_run(self, run_id: str) -> Job | None: ...


@runtime_checkable
class ResultFiles(Protocol):
    def download(self, file_id: str) -> bytes: ...


@runtime_checkable
class ReportsUsage(Protocol):
    def training_usage(self, job: Job) -> TrainingUsage | None: ...


@runtime_checkable
class ModelLifetime(Protocol):
    def model_shutdown(self, model: str) -> dt.date | None: ...


@runtime_checkable
class EstimatesPrice(Protocol):
    def estimate_price(self, spec: JobSpec) -> PriceEstimate: ...


@runtime_checkable
class DownloadsAdapter(Protocol):
    def download_adapter(self, job_id: str, out: str | Path) -> AdapterFiles: ...


@runtime_checkable
class Exports(Protocol):
    def export(self, job_id: str, out: str | Path, *, merge: bool = False) -> ExportResult: ...


@runtime_checkable
class Deploys(Protocol):
    def deploy(self, fine_tuned_model: str, deployment: str | None = None) -> Deployment: ...


@runtime_checkable
class BatchCompletes(Protocol):
    """Answers many prompts in one batch (a local model: one model in memory, batched generation)."""

    def complete_many(
        self,
        model: str,
        conversations: list[list[dict[str, Any]]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> list[Completion]: ...


CAPABILITIES: dict[str, type] = {
    "pause/resume": Pausable,
    "checkpoints": Checkpointed,
    "find lost runs": FindsRuns,
    "result files": ResultFiles,
    "usage": ReportsUsage,
    "model lifetime": ModelLifetime,
    "price estimate": EstimatesPrice,
    "download adapter": DownloadsAdapter,
    "export": Exports,
    "deploy": Deploys,
    "batched inference": BatchCompletes,
}


def capabilities(backend: object) -> list[str]:
    """The optional capabilities ``backend`` (a class or an instance) declares."""
    if isinstance(backend, type):
        return [label for label, proto in CAPABILITIES.items() if issubclass(backend, proto)]
    return [label for label, proto in CAPABILITIES.items() if isinstance(backend, proto)]


# The tokenizer that estimates token counts for models whose own tokenizer is not loaded to plan (o200k_base).
ESTIMATE_MODEL = "gpt-4o-mini"


def billed_usage(job: Job, provider: str) -> TrainingUsage | None:
    """Trained tokens x the provider's catalogue training price (how OpenAI, Azure and Together bill)."""
    from ftadvisor.pricing.catalogue import load_catalogue

    if job.trained_tokens is None:
        return None
    entry = load_catalogue().find(job.model, provider=provider)
    return TrainingUsage(
        trained_tokens=job.trained_tokens, cost_usd=entry.training_cost(job.trained_tokens) if entry else None
    )


def hosted_cost(terms: PlanTerms, billed_tokens: int, provider: str) -> CostEstimate:
    """Per-token training price from the catalogue row (OpenAI, Azure, Together bill this way)."""
    entry = terms.entry
    usd = entry.training_cost(billed_tokens) if entry is not None else None
    if usd is None:
        return CostEstimate(
            usd=None,
            basis="no training price in the catalogue",
            warnings=[f"{terms.model}: the catalogue has no {provider} training price; the cost is unknown"],
        )
    return CostEstimate(
        usd=usd, basis=f"{provider}'s ${entry.training_per_1m:g} per 1M tokens", price_per_1m=entry.training_per_1m
    )


def page_after(events: list[JobEvent], after: str | None, limit: int) -> list[JobEvent]:
    """One page of a newest-first list: the ``limit`` events that follow the one with id ``after`` (from the
    top without it; nothing when that id is unknown, as a cursor past the end)."""
    if after is not None:
        ids = [e.id for e in events]
        events = events[ids.index(after) + 1 :] if after in ids else []
    return events[:limit]


def all_events(backend: Backend, job_id: str, page: int = 100) -> list[JobEvent]:
    """Every event of a job, newest first, read page by page."""
    out: list[JobEvent] = []
    while True:
        batch = backend.list_events(job_id, limit=page, after=out[-1].id if out else None)
        out += batch
        if len(batch) < page:
            return out


def never_sent(exc: BaseException) -> bool:
    """Whether an SDK's connection error happened before any byte of the request left (so nothing can
    exist on the provider's side, and sending again is safe). By class name: the SDKs ride on different
    HTTP clients (httpx, httpx2), whose connect errors share these names."""
    return type(exc.__cause__).__name__ in ("ConnectError", "ConnectTimeout")


class CreateOutcomeUnknown(FtAdvisorError):
    """A create was sent and we cannot tell whether the job exists: never say "nothing is running", and
    never send it again in this run (the next run looks for it first; ``train --again`` overrides)."""

    exit_code = 1

    def __init__(self, run_id: str, why: str, *, exit_code: int | None = None, look: str | None = None) -> None:
        look = look or f"run `ftadvisor jobs find {run_id}`"
        super().__init__(
            f"{why}; whether a job was created for run {run_id} is unknown (the provider's job list may lag "
            f"behind its creates): {look} before training again (a job found there is recorded and can be "
            "watched); `ftadvisor train --again` sends a new, paid create",
            exit_code=exit_code,
        )
        self.run_id = run_id


def look_for(
    lookup: Callable[[], T | None],
    delays: tuple[float, ...],
    sleep: Callable[[float], None],
    failures: tuple[type[BaseException], ...],
) -> tuple[T | None, bool]:
    """Run ``lookup`` after each pause in ``delays`` (a provider's job list lags behind its creates) until it
    finds something: returns it, or None and whether the last lookup succeeded (a failed one proves nothing).
    The at-most-once creates of every hosted backend reconcile through this."""
    ok = False
    for delay in delays:
        sleep(delay)
        try:
            found = lookup()
        except failures:
            ok = False
            continue
        if found is not None:
            return found, True
        ok = True
    return None, ok


MAX_POLL_FAILURES = 10


def wait(
    backend: Backend,
    job_id: str,
    *,
    poll_interval: float = 30.0,
    on_event: Callable[[JobEvent], None] | None = None,
    on_status: Callable[[Job], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_polls: int | None = None,
) -> Job:
    """Poll until the job is succeeded, failed or cancelled. Events arrive newest first from the API; they
    are deduplicated by id and passed on oldest first. Unknown statuses (e.g. "paused") keep it waiting. A
    provider failure (5xx, unreadable body) does not end the watch of a healthy job: events are skipped for
    that poll, and the status is retried up to ``MAX_POLL_FAILURES`` times in a row."""
    from ftadvisor.errors import ProviderError

    seen: set[str] = set()
    polls = failures = 0
    last_status = None
    while True:
        try:
            job = backend.get_job(job_id)
        except ProviderError:
            failures += 1
            if failures >= MAX_POLL_FAILURES:
                raise
            sleep(poll_interval)
            continue
        failures = 0
        try:
            listed = backend.list_events(job_id)
        except ProviderError:
            listed = []
        fresh = [e for e in reversed(listed) if e.id not in seen]  # API: newest first
        for event in fresh:
            seen.add(event.id)
            if on_event:
                on_event(event)
        if on_status and job.status != last_status:
            on_status(job)
        last_status = job.status
        if job.done:
            return job
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return job
        sleep(poll_interval)
