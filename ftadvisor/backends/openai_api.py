"""The OpenAI fine-tuning backend on the official ``openai`` SDK (3.x, over httpx2).

What the raw SDK leaves to its users is handled here: job creation is never retried blindly (the SDK
sends no idempotency key, so a timed-out create may have created a job): retries are ours, with SDK
retries off, and every retry first looks the run id up in the jobs' metadata. ``error: {}`` on healthy
jobs is ignored, unknown statuses pass through, files above 100 MB go through the Uploads API in 64 MB
parts, and a new fine-tuned model that answers "not found" is retried for a few minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftadvisor.backends.base import (
    METHOD_TYPES,
    Checkpoint,
    Completion,
    FileRef,
    Job,
    JobError,
    JobEvent,
    JobSpec,
    Usage,
)
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.secrets import redact

RUN_KEY = "ftadvisor_run"
PARTS_THRESHOLD = 100 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
MAX_RETRY_AFTER = 120.0
MODEL_RETRY_S = 15.0
_METHODS_BY_TYPE = {v: k for k, v in METHOD_TYPES.items()}


class BackendError(FtAdvisorError):
    """The provider refused or failed a request; the message never contains a key."""

    exit_code = 1


def new_run_id() -> str:
    return "run-" + uuid.uuid4().hex[:16]


class _Retry(Exception):
    def __init__(self, cause: Exception, delay: float | None = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.delay = delay


def retry_after(exc: Any) -> float | None:
    """Seconds from a response's ``retry-after-ms`` / ``retry-after`` header, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


class OpenAIBackend:
    """OpenAI's fine-tuning API: upload, create, poll, use."""

    name = "openai"

    def __init__(self, api_key: str | None = None, base_url: str | None = None, organization: str | None = None,
                 project: str | None = None, *, timeout: float = 60.0, max_retries: int = 2,
                 sleep: Callable[[float], None] | None = None, create_attempts: int = 4,
                 model_wait_s: float = 300.0, poll_interval: float = 5.0) -> None:
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise InputError("no OpenAI API key: set OPENAI_API_KEY (it is never printed or stored)")
        from openai import OpenAI

        self._key = key
        self.client = OpenAI(api_key=key, base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
                             organization=organization or os.environ.get("OPENAI_ORG_ID"),
                             project=project or os.environ.get("OPENAI_PROJECT_ID"),
                             timeout=timeout, max_retries=max_retries)
        self.sleep: Callable[[float], None] = sleep or (lambda seconds: time.sleep(seconds))
        self.create_attempts = create_attempts
        self.model_wait_s = model_wait_s
        self.poll_interval = poll_interval
        self.parts_threshold = PARTS_THRESHOLD
        self.part_size = PART_SIZE

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
            raise BackendError(redact(f"{action}: could not reach OpenAI ({exc.__class__.__name__}: {exc})",
                                      self._key)) from None

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
            error = JobError(code=e.code if e else None, message=redact(e.message or "", self._key) if e else None,
                             param=e.param if e else None)
        return Job(id=j.id, status=str(j.status), model=j.model, backend=self.name, created_at=j.created_at,
                   finished_at=j.finished_at, estimated_finish=j.estimated_finish,
                   fine_tuned_model=j.fine_tuned_model, trained_tokens=j.trained_tokens, error=error,
                   method=_METHODS_BY_TYPE.get(method_type, "sft"), hyperparameters=hyper,
                   training_file=j.training_file, validation_file=j.validation_file,
                   result_files=list(j.result_files or []), metadata=dict(j.metadata or {}), seed=j.seed)

    @staticmethod
    def _file(f: Any) -> FileRef:
        return FileRef(id=f.id, filename=f.filename, bytes=f.bytes, purpose=f.purpose, status=f.status,
                       created_at=f.created_at)

    # --- files ----------------------------------------------------------------------------------------------

    def upload(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> FileRef:
        """Upload a JSONL file for fine-tuning (Uploads API in parts above the threshold), then wait until
        OpenAI has processed it; a file in status ``error`` stops here with its details."""
        p = Path(path)
        size = p.stat().st_size
        with self._errors(f"uploading {p.name}"):
            if size > self.parts_threshold:
                f = self._upload_parts(p, size, progress)
            else:
                with p.open("rb") as fh:
                    f = self.client.files.create(file=(p.name, fh, "application/jsonl"), purpose="fine-tune")
                if progress:
                    progress(size, size)
            return self._wait_processed(f)

    def _upload_parts(self, p: Path, size: int, progress: Callable[[int, int], None] | None) -> Any:
        up = self.client.uploads.create(bytes=size, filename=p.name, mime_type="application/jsonl",
                                        purpose="fine-tune")
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
        """Create a job at most once: SDK retries off, our retries look the run id up first."""
        import openai
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        problems = spec.check()
        if problems:
            raise InputError("; ".join(problems))
        run_id = run_id or new_run_id()
        params: dict[str, Any] = {"model": spec.model, "training_file": spec.training_file,
                                  "method": self._method(spec), "metadata": {**spec.metadata, RUN_KEY: run_id}}
        for key in ("validation_file", "suffix", "seed"):
            if getattr(spec, key) is not None:
                params[key] = getattr(spec, key)
        jobs = self.client.with_options(max_retries=0).fine_tuning.jobs

        def attempt() -> Job:
            try:
                return self._job(jobs.create(**params))
            except openai.RateLimitError as exc:
                if exc.code == "daily_rate_limit_exceeded":
                    raise BackendError(redact(f"creating the job: OpenAI's daily limit of fine-tuning jobs for "
                                              f"{spec.model} is reached; try again tomorrow", self._key)) from None
                found = self.find_run(run_id)
                if found:
                    return found
                delay = retry_after(exc)
                if delay is not None and delay > MAX_RETRY_AFTER:
                    raise BackendError(f"creating the job: rate limited; OpenAI asks to wait {delay:.0f} s") from None
                raise _Retry(exc, delay) from None
            except (openai.APIConnectionError, openai.InternalServerError, openai.ConflictError) as exc:
                found = self.find_run(run_id)  # the create may have succeeded before the failure
                if found:
                    return found
                raise _Retry(exc, retry_after(exc)) from None

        def wait_time(state: Any) -> float:
            exc = state.outcome.exception()
            backoff = min(2.0 ** state.attempt_number, 30.0)
            return exc.delay if isinstance(exc, _Retry) and exc.delay is not None else backoff

        try:
            with self._errors("creating the job"):
                for tried in Retrying(stop=stop_after_attempt(self.create_attempts), wait=wait_time,
                                      retry=retry_if_exception_type(_Retry), sleep=self.sleep, reraise=True):
                    with tried:
                        return attempt()
        except _Retry as exc:
            raise BackendError(redact(f"creating the job failed {self.create_attempts} times (no job was created "
                                      f"for run {run_id}): {exc.cause}", self._key)) from None
        raise AssertionError("unreachable")

    def get_job(self, job_id: str) -> Job:
        with self._errors(f"reading job {job_id}"):
            return self._job(self.client.fine_tuning.jobs.retrieve(job_id))

    def list_jobs(self, limit: int = 20) -> list[Job]:
        with self._errors("listing jobs"):
            return [self._job(j) for j in self.client.fine_tuning.jobs.list(limit=limit).data]

    def list_events(self, job_id: str, limit: int = 100) -> list[JobEvent]:
        """The latest events, newest first (as the API lists them)."""
        with self._errors(f"reading the events of {job_id}"):
            page = self.client.fine_tuning.jobs.list_events(job_id, limit=limit)
            return [JobEvent(id=e.id, created_at=e.created_at, level=e.level, message=e.message, type=e.type,
                             data=e.data) for e in page.data]

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        with self._errors(f"reading the checkpoints of {job_id}"):
            return [Checkpoint(id=c.id, created_at=c.created_at, step_number=c.step_number,
                               fine_tuned_model_checkpoint=c.fine_tuned_model_checkpoint,
                               metrics=c.metrics.model_dump(exclude_none=True))
                    for c in self.client.fine_tuning.jobs.checkpoints.list(job_id)]

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
        except openai.OpenAIError:
            return None
        try:
            return dt.date.fromisoformat(str(date)) if date else None
        except ValueError:
            return None

    # --- use --------------------------------------------------------------------------------------------------

    def complete(self, model: str, messages: list[dict[str, Any]], **options: Any) -> Completion:
        """One chat completion. A model that does not exist yet (just after a job succeeded) is retried for
        ``model_wait_s`` seconds."""
        import openai
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

        def not_found_yet(exc: BaseException) -> bool:
            return isinstance(exc, openai.NotFoundError) and model.startswith("ft:")

        start = time.perf_counter()
        with self._errors(f"calling {model}"):
            attempts = 1 + int(self.model_wait_s // MODEL_RETRY_S)  # counted, so an injected sleep works
            for tried in Retrying(retry=retry_if_exception(not_found_yet), wait=wait_fixed(MODEL_RETRY_S),
                                  stop=stop_after_attempt(attempts), sleep=self.sleep, reraise=True):
                with tried:
                    start = time.perf_counter()
                    r = self.client.chat.completions.create(model=model, messages=messages, **options)
        latency = time.perf_counter() - start
        u = r.usage
        details = getattr(u, "prompt_tokens_details", None) if u else None
        usage = Usage(prompt_tokens=u.prompt_tokens if u else 0, completion_tokens=u.completion_tokens if u else 0,
                      cached_tokens=(details.cached_tokens or 0) if details else 0)
        return Completion(model=r.model, text=r.choices[0].message.content or "", usage=usage, latency_s=latency)
