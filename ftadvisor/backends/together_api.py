"""Together AI: LoRA fine-tuning of open models through its official ``together`` SDK (3.x), a road that stays
open after OpenAI's cut-off, and whose result can leave: the adapter downloads in PEFT's layout, so the same
fine-tune can be served by the local backend or vLLM.

Together's job API is its own (``/v1/fine-tunes``); only chat is OpenAI-compatible. Mapped here: statuses
(``pending``/``queued`` -> queued, ``compressing``/``uploading`` -> running, ``error`` -> failed, ``completed``
-> succeeded; any other keeps a watcher waiting), events (oldest first from the API, handed on newest first like
OpenAI's, with ids derived from their content since Together's have none), the price estimate Together returns
before a job, and cancel. Creation is at most once: the SDK's retries are off for the create, and after an
answer that is lost the job list is searched for a job on this run's training file created since the request,
over the same reconciliation window as OpenAI's, before anything is sent again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from ftadvisor.backends.base import (
    ESTIMATE_MODEL,
    AdapterFiles,
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
    PlanTerms,
    PriceEstimate,
    TrainingUsage,
    Usage,
    billed_usage,
    hosted_cost,
    look_for,
    never_sent,
    new_run_id,
    page_after,
)
from ftadvisor.errors import FtAdvisorError, InputError, ProviderError
from ftadvisor.pricing.catalogue import Catalogue
from ftadvisor.secrets import redact

DEFAULT_LEARNING_RATE = 1e-5  # Together's default; OpenAI's learning_rate_multiplier scales it
RECONCILE_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
CLOCK_SLACK_S = 60
_OWN_JOB = re.compile(r"ft-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATUSES = {
    "pending": "queued",
    "queued": "queued",
    "running": "running",
    "compressing": "running",
    "uploading": "running",
    "cancelled": "cancelled",
    "error": "failed",
    "completed": "succeeded",
}
_LEVELS = {"warning": "warn", "legacy_iwarning": "warn", "error": "error", "legacy_ierror": "error"}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
M = TypeVar("M", bound=BaseModel)


class TogetherOptions(BackendOptions):
    lora_rank: int | None = Field(default=None, ge=1, description="LoRA rank (default: the model's own)")
    lora_alpha: float | None = Field(default=None, gt=0, description="LoRA alpha (default: twice the rank)")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="dropout on the LoRA input")
    lora_targets: str = Field(default="all-linear", description="modules to adapt, comma-separated, or all-linear")
    learning_rate: float | None = Field(
        default=None, gt=0, description="absolute learning rate (default 1e-5 x --learning-rate-multiplier)"
    )
    n_evals: int = Field(default=0, ge=0, description="evaluations on the validation file during training")
    n_checkpoints: int = Field(default=1, ge=1, description="checkpoints to keep")
    max_seq_length: int | None = Field(default=None, ge=1, description="tokens per example (default: the model's)")
    warmup_ratio: float = Field(default=0.0, ge=0, le=1, description="share of steps spent warming up")
    train_on_inputs: bool | Literal["auto"] = Field(default="auto", description="train on the prompt tokens too")


class TogetherBackend:
    """Together AI's fine-tuning API: upload, estimate, create (LoRA), poll, cancel, chat, download the adapter."""

    name = "together"
    provider = "together"
    methods = frozenset({"sft", "dpo"})
    Options: type[BackendOptions] = TogetherOptions

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        sleep: Callable[[float], None] | None = None,
        reconcile_delays: tuple[float, ...] = RECONCILE_DELAYS_S,
        create_attempts: int = 3,
    ) -> None:
        self._key = api_key or os.environ.get("TOGETHER_API_KEY") or ""
        self._base_url = base_url or os.environ.get("TOGETHER_BASE_URL")
        self._timeout, self._max_retries = timeout, max_retries
        self._client: Any = None
        self.sleep: Callable[[float], None] = sleep or (lambda seconds: time.sleep(seconds))
        self.reconcile_delays = reconcile_delays
        self.create_attempts = create_attempts

    @property
    def client(self) -> Any:
        if self._client is None:
            if not self._key:
                raise InputError("no Together API key: set TOGETHER_API_KEY (it is never printed or stored)")
            try:
                from together import Together
            except ImportError as exc:
                raise InputError(
                    f"the together backend needs its SDK: pip install 'ftadvisor[together]' ({exc})"
                ) from None
            self._client = Together(
                api_key=self._key, base_url=self._base_url, timeout=self._timeout, max_retries=self._max_retries
            )
        return self._client

    @classmethod
    def owns(cls, ref: str) -> int:
        return 1 if _OWN_JOB.fullmatch(ref) else 0

    # --- planning -------------------------------------------------------------------------------------------

    def plan_terms(self, model: str, options: BackendOptions, catalogue: Catalogue) -> PlanTerms:
        """Together trains many open models; its catalogue rows price the common ones (the estimate Together
        returns before the job is the figure to trust). No wind-down is announced, so no lifetime applies."""
        assert isinstance(options, TogetherOptions)
        entry = catalogue.find(model, provider=self.provider)
        return PlanTerms(
            model=entry.id if entry else model,
            entry=entry,
            token_model=ESTIMATE_MODEL,
            exact_tokens=False,
            lifetime_applies=False,
            max_example_tokens=options.max_seq_length or (entry.max_example_tokens if entry else None),
        )

    def estimate_cost(self, terms: PlanTerms, billed_tokens: int, options: BackendOptions) -> CostEstimate:
        cost = hosted_cost(terms, billed_tokens, self.name)
        cost.warnings.append(
            "token counts use o200k_base as an estimate of the model's own tokenizer; Together's own "
            "estimate is shown before the job is created"
        )
        return cost

    # --- errors and conversions -----------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        import together

        try:
            yield
        except together.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None
            msg = f"{action}: Together answered {exc.status_code}: {detail or body.get('message') or exc.message}"
            error = InputError if exc.status_code in (400, 401, 403, 404, 422) else BackendError
            raise error(redact(msg, self._key)) from None
        except together.APIConnectionError as exc:
            raise BackendError(
                redact(f"{action}: could not reach Together ({exc.__class__.__name__})", self._key)
            ) from None
        except (AttributeError, TypeError, KeyError) as exc:
            raise BackendError(f"{action}: Together's answer could not be read ({exc.__class__.__name__})") from None

    def _clean(self, obj: M) -> M:
        """Every string the server supplied, redacted (the key by value and anything key-shaped)."""
        return type(obj).model_validate_json(redact(obj.model_dump_json(), self._key))

    def _job(self, r: Any, events: list[Any] | None = None) -> Job:
        status = _STATUSES.get(str(r.status), str(r.status))
        error = None
        if status == "failed":
            failing = [e for e in (events or getattr(r, "events", None) or []) if str(e.type) == "job_error"]
            error = JobError(code="job_error", message=failing[-1].message if failing else "the job failed")
        method = getattr(r.training_method, "method", "sft") if getattr(r, "training_method", None) else "sft"
        hyper = {
            k: v
            for k, v in (("n_epochs", r.n_epochs), ("batch_size", r.batch_size), ("learning_rate", r.learning_rate))
            if v is not None
        }
        tt = getattr(r, "training_type", None)
        if tt is not None and getattr(tt, "type", None) == "Lora":
            hyper.update(lora_rank=tt.lora_r, lora_alpha=tt.lora_alpha)
        return self._clean(
            Job(
                id=r.id,
                status=status,
                model=r.model or "",
                backend=self.name,
                created_at=_epoch(r.created_at),
                finished_at=_epoch(r.updated_at) if status in ("succeeded", "failed", "cancelled") else None,
                fine_tuned_model=getattr(r, "x_model_output_name", None) if status == "succeeded" else None,
                trained_tokens=getattr(r, "token_count", None),
                error=error,
                method="dpo" if method == "dpo" else "sft",
                hyperparameters=hyper,
                training_file=getattr(r, "training_file", None),
                validation_file=getattr(r, "validation_file", None) or None,
                seed=None,
            )
        )

    # --- files ----------------------------------------------------------------------------------------------

    def upload(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> FileRef:
        """Upload a JSONL file (Together's multi-step upload: a redirect, a PUT, then preprocessing). Together
        recognises a file it already has by its checksum and answers with the existing one."""
        p = Path(path)
        size = p.stat().st_size
        with self._errors(f"uploading {p.name}"):
            f = self.client.files.upload(file=p, purpose="fine-tune", check=False)
        if f.processing_status in ("FAILED", "INVALID_FORMAT"):
            report = f.validation_report
            raise InputError(
                redact(
                    f"Together rejected {p.name} ({f.processing_status}): "
                    f"{(report.error if report else None) or 'no details'}",
                    self._key,
                )
            )
        if progress:
            progress(size, size)
        return self._clean(
            FileRef(
                id=f.id,
                filename=f.filename or p.name,
                bytes=f.bytes or size,
                purpose="fine-tune",
                status="processed",
                created_at=f.created_at,
            )
        )

    # --- jobs -----------------------------------------------------------------------------------------------

    def _create_args(self, spec: JobSpec) -> dict[str, Any]:
        o = TogetherOptions.model_validate(spec.options)
        h = spec.hyperparameters
        epochs = h.get("n_epochs")
        lr_mult = h.get("learning_rate_multiplier")
        args: dict[str, Any] = {
            "training_file": spec.training_file,
            "model": spec.model,
            "n_epochs": epochs if isinstance(epochs, int) else (spec.planned_epochs or 1),
            "batch_size": h["batch_size"] if isinstance(h.get("batch_size"), int) else "max",
            "learning_rate": o.learning_rate
            or DEFAULT_LEARNING_RATE * (lr_mult if isinstance(lr_mult, (int, float)) else 1.0),
            "lora": True,
            "lora_r": o.lora_rank,
            "lora_alpha": o.lora_alpha,
            "lora_dropout": o.lora_dropout,
            "lora_trainable_modules": o.lora_targets,
            "n_evals": o.n_evals,
            "n_checkpoints": o.n_checkpoints,
            "max_seq_length": o.max_seq_length,
            "warmup_ratio": o.warmup_ratio,
            "suffix": spec.suffix,
            "random_seed": spec.seed,
            "training_method": spec.method,
        }
        if spec.validation_file:
            args["validation_file"] = spec.validation_file
        if spec.method == "dpo":
            args["dpo_beta"] = h["beta"] if isinstance(h.get("beta"), (int, float)) else None
        else:
            args["train_on_inputs"] = o.train_on_inputs
        return args

    def estimate_price(self, spec: JobSpec) -> PriceEstimate:
        """Together's own quote for the job (before it exists), with the account's credit limit."""
        args = self._create_args(spec)
        lora = {
            "type": "Lora",
            "lora_r": args["lora_r"] or 16,
            "lora_alpha": args["lora_alpha"] or 2 * (args["lora_r"] or 16),
            "lora_dropout": args["lora_dropout"],
            "lora_trainable_modules": args["lora_trainable_modules"],
        }
        method = {"method": spec.method}
        with self._errors("estimating the price"):
            e = self.client.fine_tuning.estimate_price(
                training_file=spec.training_file,
                model=spec.model,
                n_epochs=args["n_epochs"],
                n_evals=args["n_evals"],
                training_type=lora,
                training_method=method,
                **({"validation_file": spec.validation_file} if spec.validation_file else {}),
            )
        if getattr(e, "estimation_available", True) is False:
            return PriceEstimate(total_usd=None, unavailable_reason=str(getattr(e, "unavailable_reason", "unknown")))
        return PriceEstimate(
            total_usd=e.estimated_total_price,
            train_tokens=e.estimated_train_token_count,
            eval_tokens=e.estimated_eval_token_count,
            allowed_to_proceed=e.allowed_to_proceed,
            user_limit_usd=e.user_limit,
        )

    def create_job(self, spec: JobSpec, run_id: str | None = None) -> Job:
        """Create a LoRA job at most once (see the module's docstring). Together keeps no metadata, so the run
        is found again by its training file and creation time."""
        import together

        problems = [p for p in spec.check() if "metadata" not in p]
        if spec.method not in self.methods:
            problems.append(f"Together trains {', '.join(sorted(self.methods))}, not {spec.method}")
        if spec.suffix and len(spec.suffix) > 40:
            problems.append("Together allows a suffix of at most 40 characters")
        if problems:
            raise InputError("; ".join(problems))
        args = self._create_args(spec)
        client = self.client.with_options(max_retries=0)
        run_id = run_id or new_run_id()
        for attempt in range(1, self.create_attempts + 1):
            started = int(time.time()) - CLOCK_SLACK_S
            try:
                created = client.fine_tuning.create(**args)
            except ValueError as exc:  # the SDK checks the request against the model's limits before sending
                raise InputError(f"Together refuses the job: {exc}") from None
            except together.APIStatusError as exc:
                if exc.status_code == 429:  # a refusal: the request was not processed
                    if attempt < self.create_attempts:
                        self.sleep(min(2.0**attempt, 30.0))
                    continue
                if exc.status_code < 500 and exc.status_code not in (408, 409):
                    with self._errors("creating the job"):
                        raise
                return self._reconcile(spec, run_id, started, f"creating the job: Together answered {exc.status_code}")
            except together.APIConnectionError as exc:
                if never_sent(exc):
                    if attempt < self.create_attempts:
                        self.sleep(min(2.0**attempt, 30.0))
                    continue
                return self._reconcile(spec, run_id, started, "creating the job: the connection failed")
            try:
                return self.get_job(created.id)
            except FtAdvisorError:  # the job exists (we hold its id): never let this read look like a refusal
                return self._job(created)
        raise BackendError(
            f"creating the job was refused {self.create_attempts} times before Together processed it (rate limit "
            "or no connection), so none was created"
        )

    def _reconcile(self, spec: JobSpec, run_id: str, since: int, why: str) -> Job:
        """After a create that was sent but not answered: the job, found by its training file and creation time
        over the reconciliation window, or ``CreateOutcomeUnknown`` (never a second create in this run)."""
        import together

        found, _ = look_for(
            lambda: self._find_created(spec.training_file, since),
            self.reconcile_delays,
            self.sleep,
            (FtAdvisorError, together.TogetherError),
        )
        if found is None:
            raise CreateOutcomeUnknown(
                run_id,
                why,
                look=f"check `ftadvisor jobs list --backend together` for a job on {spec.training_file}",
            )
        return found

    def _find_created(self, training_file: str, since: int) -> Job | None:
        with self._errors("looking up the job"):
            for r in self.client.fine_tuning.list().data:
                if getattr(r, "training_file", None) == training_file and (_epoch(r.created_at) or 0) >= since:
                    return self._job(r)
        return None

    def get_job(self, job_id: str) -> Job:
        with self._errors(f"reading job {job_id}"):
            r = self.client.fine_tuning.retrieve(job_id)
            events = self.client.fine_tuning.list_events(job_id).data if str(r.status) == "error" else None
            return self._job(r, events)

    def list_jobs(self, limit: int = 20) -> list[Job]:
        with self._errors("listing jobs"):
            rows = sorted(self.client.fine_tuning.list().data, key=lambda r: _epoch(r.created_at) or 0, reverse=True)
            return [self._job(r) for r in rows[:limit]]

    def list_events(self, job_id: str, limit: int = 100, after: str | None = None) -> list[JobEvent]:
        """Newest first (Together lists them oldest first and without ids: the id is a digest of the event)."""
        with self._errors(f"reading the events of {job_id}"):
            rows = self.client.fine_tuning.list_events(job_id).data
        out = []
        for e in rows:
            digest = hashlib.sha256(f"{e.created_at}|{e.type}|{e.message}|{e.step}".encode()).hexdigest()[:16]
            data = {k: v for k, v in (("step", e.step), ("total_steps", e.total_steps)) if v is not None}
            out.append(
                self._clean(
                    JobEvent(
                        id=f"ftevent-{digest}",
                        created_at=_epoch(e.created_at) or 0,
                        level=_LEVELS.get(str(e.level), "info"),
                        message=e.message,
                        type=str(e.type),
                        data=data or None,
                    )
                )
            )
        return page_after(out[::-1], after, limit)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        with self._errors(f"reading the checkpoints of {job_id}"):
            rows = self.client.fine_tuning.list_checkpoints(job_id).data
        return [
            self._clean(
                Checkpoint(
                    id=f"{job_id}:{c.step}",
                    created_at=_epoch(c.created_at) or 0,
                    step_number=c.step,
                    fine_tuned_model_checkpoint=c.path,
                )
            )
            for c in rows
        ]

    def cancel(self, job_id: str) -> Job:
        with self._errors(f"cancelling {job_id}"):
            self.client.fine_tuning.cancel(job_id)
        return self.get_job(job_id)

    def training_usage(self, job: Job) -> TrainingUsage | None:
        """Trained tokens x the catalogue's price (Together bills completed steps only)."""
        return billed_usage(job, self.provider)

    # --- use --------------------------------------------------------------------------------------------------

    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Chat with a model or a fine-tune (Together serves LoRA fine-tunes serverless)."""
        sampling = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None}
        start = time.perf_counter()
        with self._errors(f"calling {model}"):
            r = self.client.chat.completions.create(model=model, messages=messages, **sampling)
            latency = time.perf_counter() - start
            u = r.usage
            usage = Usage(prompt_tokens=u.prompt_tokens if u else 0, completion_tokens=u.completion_tokens if u else 0)
            if not r.choices:
                raise BackendError(f"calling {model}: Together's answer has no choices")
            return self._clean(
                Completion(
                    model=r.model or model, text=r.choices[0].message.content or "", usage=usage, latency_s=latency
                )
            )

    def download_adapter(self, job_id: str, out: str | Path) -> AdapterFiles:
        """The job's final LoRA adapter, unpacked into ``out`` in PEFT's layout (adapter_config.json and
        adapter_model.safetensors): what the local backend and vLLM load. Written to a temporary folder and
        renamed, so an interrupted download leaves nothing behind."""
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise InputError(f"{out}: exists and is not empty")
        job = self.get_job(job_id)
        if job.status != "succeeded":
            raise InputError(f"{job_id} is {job.status}; only a finished job has an adapter to download")
        with self._errors(f"downloading the adapter of {job_id}"):
            data = self.client.fine_tuning.content(ft_id=job_id, checkpoint="adapter").read()
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _unpack(data, tmp)
            root = _adapter_root(tmp)
            if root is None:
                raise BackendError(f"the download of {job_id} holds no adapter_config.json (not a LoRA adapter)")
            if out.exists():
                out.rmdir()
            root.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return AdapterFiles(path=str(out), base_model=job.model, files=sorted(p.name for p in out.iterdir()))


class BackendError(ProviderError):
    """Together refused or failed a request; the message never contains a key."""


def _epoch(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    try:
        return int(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _unpack(data: bytes, dest: Path) -> None:
    """Extract a tar (plain, gzip, bzip2, xz or zstd) or zip archive, refusing members that would land
    outside ``dest``."""
    if data[:4] == ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError:
            raise InputError(
                "the adapter is zstd-compressed: pip install zstandard (part of ftadvisor[together])"
            ) from None
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                if not (dest / name).resolve().is_relative_to(dest.resolve()):
                    raise BackendError(f"the adapter archive has an unsafe path: {name}")
            z.extractall(dest)
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
            t.extractall(dest, filter="data")  # "data": no absolute paths, links out of dest or devices
    except tarfile.TarError as exc:
        raise BackendError(f"the adapter download is not an archive Together sends ({exc})") from None


def _adapter_root(folder: Path) -> Path | None:
    configs = sorted(folder.rglob("adapter_config.json"), key=lambda p: len(p.parts))
    return configs[0].parent if configs else None
