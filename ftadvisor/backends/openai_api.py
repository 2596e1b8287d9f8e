"""The OpenAI fine-tuning backend on the official ``openai`` SDK (3.x, over httpx2).

What the raw SDK leaves to its users is handled here: job creation is never retried blindly (the SDK
sends no idempotency key, so a timed-out create may have created a job): retries are ours, with SDK
retries off, and after any failure whose outcome is unknown the run id is looked up in the jobs' metadata
for a whole reconciliation window before anything is sent again (see ``create_job``). ``error: {}`` on healthy
jobs is ignored, unknown statuses pass through, files above 100 MB go through the Uploads API in 64 MB
parts, and a new fine-tuned model that answers "not found" is retried for a few minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field, model_validator

from ftadvisor.backends.base import (
    METHOD_TYPES,
    RUN_KEY,
    BackendOptions,
    Checkpoint,
    Completion,
    CostEstimate,
    CreateOutcomeUnknown,
    FileRef,
    Job,
    JobError,
    JobEvent,
    JobSpec,
    Method,
    PlanTerms,
    TrainingUsage,
    Usage,
    billed_usage,
    hosted_cost,
    look_for,
    never_sent,
    new_run_id,
    parse_options,
)
from ftadvisor.errors import FtAdvisorError, InputError, ProviderError
from ftadvisor.pricing.catalogue import Catalogue
from ftadvisor.secrets import redact

__all__ = ["RECONCILE_DELAYS_S", "RUN_KEY", "BackendError", "CreateOutcomeUnknown", "OpenAIBackend", "new_run_id"]
PARTS_THRESHOLD = 100 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
MAX_RETRY_AFTER = 120.0
MODEL_RETRY_S = 15.0
# OpenAI's job list is eventually consistent: a job created a moment ago may be missing from it. After a
# create whose outcome is unknown we look the run up after each of these pauses (60 s in all, six times
# the 10 s lag the hostile pass observed) and create again only if the last lookup, at the end of the
# window, succeeded and still lists nothing.
RECONCILE_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
UPLOAD_CLOCK_SLACK_S = 60  # a file "created since the request" allows for this much clock difference
_JOB_ID = re.compile(r'"id"\s*:\s*"(ftjob-[A-Za-z0-9_-]+)"')
_OWN_JOB = re.compile(r"ftjob-[A-Za-z0-9]+")
_AZURE_JOB = re.compile(r"ftjob-[0-9a-f]{32}")  # Azure's shape: not ours
_METHODS_BY_TYPE: dict[str, Method] = {v: k for k, v in METHOD_TYPES.items()}
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class BackendError(ProviderError):
    """The provider refused or failed a request; the message never contains a key."""


def retry_after(exc: Any) -> float | None:
    """Seconds from a response's ``retry-after-ms`` / ``retry-after`` header, if any (negative, NaN or
    infinite values are ignored: a server cannot make us sleep forever or crash)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            value = float(headers["retry-after-ms"]) / 1000
        elif headers.get("retry-after"):
            value = float(headers["retry-after"])
        else:
            return None
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class OpenAIOptions(BackendOptions):
    """OpenAI's job settings beyond the hyperparameters: its Weights & Biases integration."""

    report_to: Literal["none", "wandb"] = Field(
        default="none",
        description="wandb: OpenAI sends the job's metrics to your W&B project (link W&B to the organization first)",
    )
    tracking_project: str | None = Field(default=None, description="the W&B project (required with wandb)")
    wandb_entity: str | None = Field(default=None, description="the W&B team or user (default: your W&B default)")
    wandb_name: str | None = Field(default=None, description="the W&B run's display name (default: the job id)")
    wandb_tags: list[str] = Field(default_factory=list, description="tags on the W&B run")

    @model_validator(mode="after")
    def _project(self) -> OpenAIOptions:
        if self.report_to == "wandb" and not self.tracking_project:
            raise ValueError("report_to=wandb needs tracking_project=<your W&B project>")
        return self

    def integrations(self) -> list[dict[str, Any]]:
        """The create request's ``integrations`` (empty when nothing is tracked)."""
        if self.report_to != "wandb":
            return []
        wandb = {
            "project": self.tracking_project,
            "entity": self.wandb_entity,
            "name": self.wandb_name,
            "tags": self.wandb_tags or None,
        }
        return [{"type": "wandb", "wandb": {k: v for k, v in wandb.items() if v is not None}}]


class OpenAIBackend:
    """OpenAI's fine-tuning API: upload, create, poll, use."""

    name = "openai"
    provider = "openai"  # its rows in the price catalogue
    methods = frozenset({"sft", "dpo", "rft"})
    Options: type[BackendOptions] = OpenAIOptions

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        sleep: Callable[[float], None] | None = None,
        create_attempts: int = 4,
        model_wait_s: float = 300.0,
        poll_interval: float = 5.0,
        reconcile_delays: tuple[float, ...] = RECONCILE_DELAYS_S,
    ) -> None:
        self._key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        self._client_args: dict[str, Any] = {
            "base_url": base_url or os.environ.get("OPENAI_BASE_URL"),
            "organization": organization or os.environ.get("OPENAI_ORG_ID"),
            "project": project or os.environ.get("OPENAI_PROJECT_ID"),
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._client: Any = None
        self.sleep: Callable[[float], None] = sleep or (lambda seconds: time.sleep(seconds))
        self.create_attempts = create_attempts
        self.reconcile_delays = reconcile_delays
        self.model_wait_s = model_wait_s
        self.poll_interval = poll_interval
        self.parts_threshold = PARTS_THRESHOLD
        self.part_size = PART_SIZE

    @property
    def client(self) -> Any:
        """The SDK client, made at the first call (planning and --dry-run need no key)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        if not self._key:
            raise InputError("no OpenAI API key: set OPENAI_API_KEY (it is never printed or stored)")
        from openai import OpenAI

        return OpenAI(api_key=self._key, **self._client_args)

    @classmethod
    def owns(cls, ref: str) -> int:
        """1 for OpenAI-shaped job ids and ``ft:`` model names (a local job may share the shape: it claims 2)."""
        if _AZURE_JOB.fullmatch(ref):
            return 0
        return 1 if _OWN_JOB.fullmatch(ref) or ref.startswith("ft:") else 0

    # --- planning -------------------------------------------------------------------------------------------

    def plan_terms(self, model: str, options: BackendOptions, catalogue: Catalogue) -> PlanTerms:
        entry = catalogue.find(model, provider=self.provider)
        if entry is None:
            other = catalogue.find(model)
            hint = (
                f" ({other.id} is a {other.provider} model: use --backend "
                f"{'local' if other.provider == 'self-hosted' else other.provider})"
                if other
                else ""
            )
            raise InputError(
                f"model {model!r} is not in the price catalogue for {self.name}{hint}; see "
                f"`ftadvisor prices list --provider {self.provider}`"
            )
        return PlanTerms(
            model=entry.id,
            entry=entry,
            token_model=entry.id,
            exact_tokens=True,
            max_example_tokens=entry.max_example_tokens,
        )

    def estimate_cost(self, terms: PlanTerms, billed_tokens: int, options: BackendOptions) -> CostEstimate:
        return hosted_cost(terms, billed_tokens, self.name)

    def training_usage(self, job: Job) -> TrainingUsage | None:
        """Billed tokens x the catalogue's training price (OpenAI bills trained tokens)."""
        return billed_usage(job, self.provider)

    # --- errors ---------------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn SDK exceptions into one redacted line."""
        import openai

        try:
            yield
        except openai.APIStatusError as exc:
            request_id = exc.response.headers.get("x-request-id") if exc.response is not None else None
            msg = f"{action}: OpenAI answered {exc.status_code}"
            if exc.code:
                msg += f" {exc.code}"
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = body.get("message") or (body.get("error") or {}).get("message") if body else None
            msg += f": {detail or exc.message}"
            if request_id:
                msg += f" (request id {request_id})"
            error = InputError if exc.status_code in (400, 401, 403, 404, 422) else BackendError
            raise error(redact(msg, self._key)) from None
        except openai.APIConnectionError as exc:
            raise BackendError(
                redact(f"{action}: could not reach OpenAI ({exc.__class__.__name__}: {exc})", self._key)
            ) from None
        except (ValueError, AttributeError, TypeError, KeyError) as exc:  # a 2xx body we cannot read
            raise BackendError(
                f"{action}: OpenAI's answer could not be read ({exc.__class__.__name__}: a truncated, "
                "HTML or unexpected body)"
            ) from None

    # --- conversions ------------------------------------------------------------------------------------------

    def _job(self, j: Any) -> Job:
        method_type = j.method.type if getattr(j, "method", None) else "supervised"
        hyper: dict[str, Any] = {}
        section = getattr(j.method, method_type, None) if getattr(j, "method", None) else None
        if section is not None and getattr(section, "hyperparameters", None) is not None:
            hyper = section.hyperparameters.model_dump(exclude_none=True)
        elif j.hyperparameters is not None:
            hyper = j.hyperparameters.model_dump(exclude_none=True)
        error = None
        if j.status == "failed" or (j.error is not None and j.error.code):  # `error: {}` on healthy jobs
            e = j.error
            error = JobError(
                code=e.code if e else None,
                message=redact(e.message or "", self._key) if e else None,
                param=e.param if e else None,
            )
        return self._clean(
            Job(
                id=j.id,
                status=str(j.status),
                model=j.model,
                backend=self.name,
                created_at=j.created_at,
                finished_at=j.finished_at,
                estimated_finish=j.estimated_finish,
                fine_tuned_model=j.fine_tuned_model,
                trained_tokens=j.trained_tokens,
                error=error,
                method=_METHODS_BY_TYPE.get(method_type, "sft"),
                hyperparameters=hyper,
                training_file=j.training_file,
                validation_file=j.validation_file,
                result_files=list(j.result_files or []),
                metadata=dict(j.metadata or {}),
                seed=j.seed,
            )
        )

    def _clean(self, obj: M) -> M:
        """``obj`` with every string the server supplied redacted (the key by value and anything key-shaped):
        event messages, model ids, error texts and file names reach the terminal, the ledger and reports
        only through these objects."""
        return type(obj).model_validate_json(redact(obj.model_dump_json(), self._key))

    def _file(self, f: Any) -> FileRef:
        return self._clean(
            FileRef(
                id=f.id, filename=f.filename, bytes=f.bytes, purpose=f.purpose, status=f.status, created_at=f.created_at
            )
        )

    # --- files ----------------------------------------------------------------------------------------------

    def upload(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> FileRef:
        """Upload a JSONL file for fine-tuning (Uploads API in parts above the threshold), then wait until
        OpenAI has processed it; a file in status ``error`` stops here with its details. A small upload whose
        answer is lost is reconciled like a job create (``_upload_once``) instead of being sent twice."""
        p = Path(path)
        size = p.stat().st_size
        with self._errors(f"uploading {p.name}"):
            if size > self.parts_threshold:
                f = self._upload_parts(p, size, progress)
            else:
                f = self._upload_once(p, size)
                if progress:
                    progress(size, size)
            return self._wait_processed(f)

    def _upload_once(self, p: Path, size: int) -> Any:
        """files.create without SDK retries; after a failure whose outcome is unknown, look for a file of the
        same name and size created since the request, over the reconciliation window, before sending again."""
        import openai

        files = self.client.with_options(max_retries=0).files
        for attempt in range(1, 4):
            started = int(time.time()) - UPLOAD_CLOCK_SLACK_S
            accepted = False
            try:
                with p.open("rb") as fh:
                    raw = files.with_raw_response.create(file=(p.name, fh, "application/jsonl"), purpose="fine-tune")
                accepted = True
                try:
                    return raw.parse()
                except Exception:  # an unreadable 2xx: the file exists, find it
                    pass
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 409, 429):
                    raise
            except openai.APIConnectionError:
                pass

            def listed(since: int = started) -> Any:  # a file of this name and size created since the request
                return next(
                    (
                        f
                        for f in files.list(purpose="fine-tune")
                        if f.filename == p.name and f.bytes == size and f.created_at >= since
                    ),
                    None,
                )

            found, _ = self._look_for(listed)
            if found is not None:
                return found
            if accepted:
                raise BackendError(
                    f"uploading {p.name}: OpenAI accepted it but its answer was unreadable and the "
                    "file is not listed yet; try again in a minute"
                )
            self.sleep(min(2.0**attempt, 30.0))
        raise BackendError(f"uploading {p.name} failed 3 times and OpenAI lists no such file; nothing was created")

    def _upload_parts(self, p: Path, size: int, progress: Callable[[int, int], None] | None) -> Any:
        up = self.client.uploads.create(bytes=size, filename=p.name, mime_type="application/jsonl", purpose="fine-tune")
        md5 = hashlib.md5(usedforsecurity=False)
        part_ids, done = [], 0
        with p.open("rb") as fh:
            while chunk := fh.read(self.part_size):
                md5.update(chunk)
                part_ids.append(self.client.uploads.parts.create(upload_id=up.id, data=chunk).id)
                done += len(chunk)
                if progress:
                    progress(done, size)
        done_up = self.client.uploads.complete(upload_id=up.id, part_ids=part_ids, md5=md5.hexdigest())
        if done_up.status != "completed" or done_up.file is None:
            raise BackendError(f"uploading {p.name}: the upload ended {done_up.status}, not completed")
        return done_up.file

    def _wait_processed(self, f: Any, max_wait_s: float = 1800) -> FileRef:
        waited = 0.0
        while f.status not in (None, "processed", "error"):
            if waited >= max_wait_s:
                raise BackendError(f"file {f.id} is still {f.status} after {max_wait_s:.0f} s")
            self.sleep(self.poll_interval)
            waited += self.poll_interval
            f = self.client.files.retrieve(f.id)
        if f.status == "error":
            raise BackendError(f"OpenAI could not process {f.filename} ({f.id}): {f.status_details or 'no details'}")
        return self._file(f)

    def download(self, file_id: str) -> bytes:
        """The content of a file, e.g. a job's metrics CSV from ``result_files``."""
        with self._errors(f"downloading {file_id}"):
            return self.client.files.content(file_id).read()

    # --- jobs -----------------------------------------------------------------------------------------------

    def _method(self, spec: JobSpec) -> dict[str, Any]:
        kind = METHOD_TYPES[spec.method]
        body: dict[str, Any] = {}
        if spec.hyperparameters:
            body["hyperparameters"] = dict(spec.hyperparameters)
        if spec.method == "rft":
            body["grader"] = spec.grader
        return {"type": kind, kind: body}

    def find_run(self, run_id: str) -> Job | None:
        """The job created for ``run_id`` (from its metadata), if any."""
        with self._errors("looking up the run"):
            for j in self.client.fine_tuning.jobs.list(metadata={RUN_KEY: run_id}, limit=10):
                if (j.metadata or {}).get(RUN_KEY) == run_id:
                    return self._job(j)
        return None

    def create_job(self, spec: JobSpec, run_id: str | None = None) -> Job:
        """Create a job at most once, by construction rather than by timing.

        SDK retries are off and the run id travels in the job's metadata (OpenAI documents no idempotency
        key for creates: its SDK sends none, so neither do we). A refusal (4xx, a 429 that was
        not processed, a connection that never opened) is final or retried as such. Any other failure after
        the request was sent (a dropped connection, a timeout, a 5xx or 409, a 200 we cannot parse, Ctrl-C)
        leaves the job's existence unknown: the run is looked up over ``RECONCILE_DELAYS_S`` and, if the
        list does not show it by then, ``CreateOutcomeUnknown`` stops the run. Nothing is ever sent again
        in this run; the next run on the same file looks the job up first (``train --again`` overrides).
        """
        import openai

        problems = spec.check()
        if problems:
            raise InputError("; ".join(problems))
        run_id = run_id or new_run_id()
        params: dict[str, Any] = {
            "model": spec.model,
            "training_file": spec.training_file,
            "method": self._method(spec),
            "metadata": {**spec.metadata, RUN_KEY: run_id},
        }
        for key in ("validation_file", "suffix", "seed"):
            if getattr(spec, key) is not None:
                params[key] = getattr(spec, key)
        options = parse_options(self.Options, spec.options, self.name)
        if isinstance(options, OpenAIOptions) and options.integrations():
            params["integrations"] = options.integrations()
        jobs = self.client.with_options(max_retries=0).fine_tuning.jobs
        sent = False
        last: str = ""
        try:
            for attempt in range(1, self.create_attempts + 1):
                sent = True
                try:
                    raw = jobs.with_raw_response.create(**params)
                except openai.RateLimitError as exc:
                    if exc.code == "daily_rate_limit_exceeded":
                        raise BackendError(
                            redact(
                                f"creating the job: OpenAI's daily limit of fine-tuning jobs "
                                f"for {spec.model} is reached; try again tomorrow",
                                self._key,
                            )
                        ) from None
                    delay = retry_after(exc)
                    if delay is not None and delay > MAX_RETRY_AFTER:
                        raise BackendError(
                            f"creating the job: rate limited; OpenAI asks to wait {delay:.0f} s; no job was created"
                        ) from None
                    last = redact(str(exc), self._key)
                    if attempt < self.create_attempts:
                        self.sleep(delay if delay is not None else min(2.0**attempt, 30.0))
                    continue  # a 429 is a refusal: the request was not processed
                except openai.APIStatusError as exc:
                    if exc.status_code < 500 and exc.status_code not in (408, 409):
                        with self._errors("creating the job"):
                            raise  # a definite refusal, explained in one line
                    # sent and perhaps processed: look it up, never send again
                    return self._reconcile(run_id, f"creating the job: OpenAI answered {exc.status_code}")
                except openai.APIConnectionError as exc:
                    if never_sent(exc):  # the connection never opened: nothing reached OpenAI
                        last = f"could not connect to OpenAI ({exc.__cause__.__class__.__name__})"
                        if attempt < self.create_attempts:
                            self.sleep(min(2.0**attempt, 30.0))
                        continue
                    return self._reconcile(
                        run_id, f"creating the job: the connection failed ({exc.__class__.__name__})"
                    )
                return self._parse_created(raw, run_id)
        except KeyboardInterrupt:
            if sent:
                raise CreateOutcomeUnknown(run_id, "interrupted while creating the job", exit_code=130) from None
            raise
        raise BackendError(
            redact(
                f"creating the job was refused {self.create_attempts} times before OpenAI processed it, so "
                f"none was created for run {run_id}: {last}",
                self._key,
            )
        )

    def _parse_created(self, raw: Any, run_id: str) -> Job:
        """The job from a 2xx create response; an unreadable one means the job exists but we do not know it
        yet: take its id from the text if it is there, else reconcile (never create again after a 2xx)."""
        try:
            return self._job(raw.parse())
        except Exception:  # truncated JSON, an HTML page, a body of the wrong shape: the job was created
            text = getattr(raw.http_response, "text", "") or ""
            match = _JOB_ID.search(text)
            if match:
                try:
                    return self.get_job(match.group(1))
                except FtAdvisorError:
                    pass
            return self._reconcile(run_id, "creating the job: OpenAI accepted it but its answer was unreadable")

    def _look_for(self, lookup: Callable[[], T | None]) -> tuple[T | None, bool]:
        """``look_for`` over this backend's reconciliation window (OpenAI's lists lag)."""
        import openai

        return look_for(lookup, self.reconcile_delays, self.sleep, (FtAdvisorError, openai.OpenAIError))

    def _reconcile(self, run_id: str, why: str) -> Job:
        """Look the run up over the reconciliation window after a create whose outcome we did not read: the
        job, or ``CreateOutcomeUnknown`` (a list that does not show it yet proves nothing: lists lag)."""
        found, _ = self._look_for(lambda: self.find_run(run_id))
        if found is None:
            raise CreateOutcomeUnknown(run_id, why)
        return found

    def get_job(self, job_id: str) -> Job:
        with self._errors(f"reading job {job_id}"):
            return self._job(self.client.fine_tuning.jobs.retrieve(job_id))

    def list_jobs(self, limit: int = 20) -> list[Job]:
        with self._errors("listing jobs"):
            return [self._job(j) for j in self.client.fine_tuning.jobs.list(limit=limit).data]

    def all_jobs(self) -> list[Job]:
        """Every job of the organisation, newest first, through every page of the list."""
        with self._errors("listing jobs"):
            return [self._job(j) for j in self.client.fine_tuning.jobs.list(limit=100)]

    def file_bytes(self, file_id: str) -> int:
        """The size the provider records for a file: what a complete download must measure."""
        with self._errors(f"reading file {file_id}"):
            return int(self.client.files.retrieve(file_id).bytes)

    def list_events(self, job_id: str, limit: int = 100, after: str | None = None) -> list[JobEvent]:
        """The latest events, newest first (as the API lists them)."""
        with self._errors(f"reading the events of {job_id}"):
            page = self.client.fine_tuning.jobs.list_events(job_id, limit=limit, **({"after": after} if after else {}))
            return [
                self._clean(
                    JobEvent(
                        id=e.id,
                        created_at=e.created_at,
                        level=e.level,
                        message=e.message,
                        type=e.type,
                        data=e.data if isinstance(e.data, dict) else None,
                    )
                )
                for e in page.data
            ]

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        with self._errors(f"reading the checkpoints of {job_id}"):
            return [
                self._clean(
                    Checkpoint(
                        id=c.id,
                        created_at=c.created_at,
                        step_number=c.step_number,
                        fine_tuned_model_checkpoint=c.fine_tuned_model_checkpoint,
                        metrics=c.metrics.model_dump(exclude_none=True) if c.metrics else {},
                    )
                )
                for c in self.client.fine_tuning.jobs.checkpoints.list(job_id)
            ]

    def cancel(self, job_id: str) -> Job:
        with self._errors(f"cancelling {job_id}"):
            return self._job(self.client.fine_tuning.jobs.cancel(job_id))

    def pause(self, job_id: str) -> Job:
        with self._errors(f"pausing {job_id}"):
            return self._job(self.client.fine_tuning.jobs.pause(job_id))

    def resume(self, job_id: str) -> Job:
        with self._errors(f"resuming {job_id}"):
            return self._job(self.client.fine_tuning.jobs.resume(job_id))

    def model_shutdown(self, model: str) -> dt.date | None:
        """The model's ``shutdown_date`` from ``models.retrieve``, or None when unknown or unreachable."""
        import openai

        try:
            quick = self.client.with_options(max_retries=0, timeout=10)  # advisory: never hold the user up
            date = getattr(quick.models.retrieve(model), "shutdown_date", None)
        except (openai.OpenAIError, ValueError, AttributeError, TypeError):  # advisory: never fail on it
            return None
        try:
            return dt.date.fromisoformat(str(date)) if date else None
        except ValueError:
            return None

    # --- use --------------------------------------------------------------------------------------------------

    def _sampling(self, max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        return {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}

    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """One chat completion. A model that does not exist yet (just after a job succeeded) is retried for
        ``model_wait_s`` seconds."""
        import openai
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

        def not_found_yet(exc: BaseException) -> bool:
            return isinstance(exc, openai.NotFoundError) and model.startswith("ft:")

        start = time.perf_counter()
        with self._errors(f"calling {model}"):
            attempts = 1 + int(self.model_wait_s // MODEL_RETRY_S)  # counted, so an injected sleep works
            for tried in Retrying(
                retry=retry_if_exception(not_found_yet),
                wait=wait_fixed(MODEL_RETRY_S),
                stop=stop_after_attempt(attempts),
                sleep=self.sleep,
                reraise=True,
            ):
                with tried:
                    start = time.perf_counter()
                    r = self.client.chat.completions.create(
                        model=model, messages=cast(Any, messages), **self._sampling(max_tokens, temperature)
                    )
        latency = time.perf_counter() - start
        try:
            u = r.usage
            details = getattr(u, "prompt_tokens_details", None) if u else None
            usage = Usage(
                prompt_tokens=u.prompt_tokens if u else 0,
                completion_tokens=u.completion_tokens if u else 0,
                cached_tokens=(details.cached_tokens or 0) if details else 0,
            )
            text = r.choices[0].message.content or ""
            return self._clean(Completion(model=r.model, text=text, usage=usage, latency_s=latency))
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise BackendError(
                f"calling {model}: OpenAI's answer could not be read ({exc.__class__.__name__}: no "
                "choices, or not a chat completion)"
            ) from None
