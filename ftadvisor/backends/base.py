"""The one interface both backends keep, with objects shaped like OpenAI's, and the shared ``wait`` loop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from ftadvisor.data.formats import Method

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
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
    "rft": {"n_epochs", "batch_size", "learning_rate_multiplier", "compute_multiplier", "eval_interval",
            "eval_samples", "reasoning_effort"},
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
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
                    value > low if open_low else value >= low) and value <= high
                if name in ("n_epochs", "batch_size", "eval_interval", "eval_samples") and not isinstance(value, int):
                    ok = False
                if not ok:
                    bound = f"> {low:g}" if open_low else f">= {low:g}"
                    problems.append(f"{name}={value!r} is out of range ({bound}" + (
                        f" and <= {high:g})" if high != float("inf") else ")"))
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


class Backend(Protocol):
    """Every backend: OpenAI's fine-tuning lifecycle (upload, create, poll, use)."""

    name: str

    def upload(self, path: str, progress: Callable[[int, int], None] | None = None) -> FileRef: ...
    def create_job(self, spec: JobSpec, run_id: str | None = None) -> Job: ...
    def get_job(self, job_id: str) -> Job: ...
    def list_jobs(self, limit: int = 20) -> list[Job]: ...
    def list_events(self, job_id: str, limit: int = 100) -> list[JobEvent]: ...
    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...
    def cancel(self, job_id: str) -> Job: ...
    def pause(self, job_id: str) -> Job: ...
    def resume(self, job_id: str) -> Job: ...
    def complete(self, model: str, messages: list[dict[str, Any]], **options: Any) -> Completion: ...


MAX_POLL_FAILURES = 10


def wait(backend: Backend, job_id: str, *, poll_interval: float = 30.0,
         on_event: Callable[[JobEvent], None] | None = None, on_status: Callable[[Job], None] | None = None,
         sleep: Callable[[float], None] = time.sleep, max_polls: int | None = None) -> Job:
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
