"""The local LoRA/QLoRA backend: OpenAI's job lifecycle and objects, with training in a worker process."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from ftadvisor.backends.base import (
    ACTIVE,
    ESTIMATE_MODEL,
    RUN_KEY,
    AdapterFiles,
    BackendOptions,
    Checkpoint,
    Completion,
    CostEstimate,
    ExportResult,
    FileRef,
    Job,
    JobError,
    JobEvent,
    JobSpec,
    PlanTerms,
    TrainingUsage,
    Usage,
    page_after,
    parse_options,
)
from ftadvisor.data.jsonl import atomic_writer
from ftadvisor.errors import InputError
from ftadvisor.pricing.catalogue import Catalogue
from local_backend.options import LocalOptions
from local_backend.store import JobDir, all_jobs, new_id, root
from local_backend.trainer import LocalSpec

_FILE_ID = re.compile(r"file-[0-9a-f]{24}")
_JOB_ID = re.compile(r"ftjob-[0-9a-f]{24}")
RESULT_FILES = ("metrics.csv",)


def node_command(
    d: JobDir, per_node: int, nodes: int, node_rank: str = "N", master: str = "MASTER_HOST", port: int = 29500
) -> list[str]:
    """The torchrun command one node of a multi-node job runs (its rank, the first node's address)."""
    return [
        "python",
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes}",
        f"--node-rank={node_rank}",
        f"--nproc-per-node={per_node}",
        f"--master-addr={master}",
        f"--master-port={port}",
        "-m",
        "local_backend.worker",
        str(d.path),
    ]


def _alive(pid: int) -> bool:
    """Whether a worker process still runs (zombies count as dead)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our own child, and it has exited
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class LocalBackend:
    """Same calls and objects as :class:`ftadvisor.backends.openai_api.OpenAIBackend`, on this machine."""

    name = "local"
    provider = "self-hosted"  # its rows in the price catalogue (GPU prices and throughputs)
    methods = frozenset({"sft", "dpo"})
    Options: type[BackendOptions] = LocalOptions

    def __init__(
        self,
        base: str | Path | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
        poll_interval: float = 2.0,
        max_running: int | Literal["per-device"] | None = None,
        devices: list[str] | None = None,
    ) -> None:
        """``max_running``: train at most this many jobs at once and queue the rest on disk; "per-device" runs
        one job per device (``ftadvisor serve``'s default), each worker seeing only its own GPU; None starts
        every job at once (the CLI's own jobs). ``devices`` overrides detection (``cuda:0``..., or ``cpu``)."""
        self.root = Path(base) if base else root()
        self.sleep: Callable[[float], None] = sleep or (lambda s: time.sleep(s))
        self.poll_interval = poll_interval
        self._devices = devices
        self.max_running = len(self.devices()) if max_running == "per-device" else max_running
        self._engine: Any = None
        self._queue_lock = threading.Lock()

    @classmethod
    def owns(cls, ref: str) -> int:
        """2 for a job id or ``ft:`` model name of a job in this machine's store."""
        if ref.startswith("ftjob-"):
            return 2 if _JOB_ID.fullmatch(ref) and JobDir(ref, root()).exists() else 0
        if ref.startswith("ft:"):
            return (
                2
                if any(
                    (d.path / "names.json").is_file() and d.read_json("names.json").get("fine_tuned_model") == ref
                    for d in all_jobs(root())
                )
                else 0
            )
        return 0

    # --- planning -------------------------------------------------------------------------------------------

    def plan_terms(self, model: str, options: BackendOptions, catalogue: Catalogue) -> PlanTerms:
        """Any open model trains here; a self-hosted catalogue row (if any) prices its GPU time. Token counts
        are an o200k_base estimate (the model's own tokenizer is not loaded to plan)."""
        assert isinstance(options, LocalOptions)
        entry = catalogue.find(model, provider=self.provider)
        return PlanTerms(
            model=model,
            entry=entry,
            token_model=ESTIMATE_MODEL,
            exact_tokens=False,
            max_example_tokens=options.max_length,
            lifetime_applies=False,
        )

    def estimate_cost(self, terms: PlanTerms, billed_tokens: int, options: BackendOptions) -> CostEstimate:
        """GPU-hours at ``gpu_per_hour`` (else the catalogue row's rate) x the row's training throughput."""
        assert isinstance(options, LocalOptions)
        entry = terms.entry
        rate = options.gpu_per_hour if options.gpu_per_hour is not None else (entry.gpu_per_hour if entry else None)
        tps = entry.training_tokens_per_second if entry else None
        warnings = ["token counts use o200k_base as an estimate of the model's own tokenizer"]
        if rate is None:
            warnings.append("no GPU price per hour: pass -o gpu_per_hour=RATE to get the run's cost")
        usd = billed_tokens / tps / 3600 * rate if rate is not None and tps else None
        return CostEstimate(usd=usd, basis=f"GPU time at ${rate or 0:g}/hour", warnings=warnings, pays_provider=False)

    # --- files ----------------------------------------------------------------------------------------------

    def upload(
        self, path: str | Path, progress: Callable[[int, int], None] | None = None, *, filename: str | None = None
    ) -> FileRef:
        """Copy a file into the store (``filename``: the name to keep, when ``path`` is a temporary copy)."""
        src = Path(path)
        if not src.is_file():
            raise InputError(f"{src}: no such file")
        file_id = new_id("file-")
        dest = self.root / "files" / f"{file_id}.jsonl"
        with atomic_writer(dest, "wb") as f, src.open("rb") as s:
            shutil.copyfileobj(s, f)
        size = dest.stat().st_size
        ref = FileRef(
            id=file_id, filename=filename or src.name, bytes=size, status="processed", created_at=int(time.time())
        )
        self._write_file_ref(ref)
        if progress:
            progress(size, size)
        return ref

    def _write_file_ref(self, ref: FileRef, details: str | None = None) -> None:
        with atomic_writer(self.root / "files" / f"{ref.id}.json") as f:
            f.write(json.dumps({**ref.model_dump(), "status_details": details}))

    def file_ref(self, file_id: str) -> tuple[FileRef, str | None]:
        """An uploaded file's object and status details."""
        meta = self.root / "files" / f"{file_id}.json"
        self.file_path(file_id)
        if meta.is_file():
            data = json.loads(meta.read_text())
            return FileRef.model_validate({k: v for k, v in data.items() if k != "status_details"}), data.get(
                "status_details"
            )
        legacy = self.root / "files" / f"{file_id}.name"  # stored before file records existed
        p = Path(self.file_path(file_id))
        return FileRef(
            id=file_id,
            filename=legacy.read_text() if legacy.is_file() else p.name,
            bytes=p.stat().st_size,
            status="processed",
            created_at=int(p.stat().st_mtime),
        ), None

    def mark_file(self, file_id: str, status: str, details: str | None) -> FileRef:
        """Record the outcome of checking a file (``processed`` or ``error`` with the problems)."""
        ref = self.file_ref(file_id)[0].model_copy(update={"status": status})
        self._write_file_ref(ref, details)
        return ref

    def list_files(self) -> list[FileRef]:
        """Uploaded files, newest first."""
        folder = self.root / "files"
        ids = [p.stem for p in folder.glob("file-*.jsonl")] if folder.is_dir() else []
        refs = [self.file_ref(i)[0] for i in ids]
        return sorted(refs, key=lambda r: r.created_at or 0, reverse=True)

    def delete_file(self, file_id: str) -> None:
        self.file_path(file_id)
        for suffix in (".jsonl", ".json", ".name"):
            (self.root / "files" / f"{file_id}{suffix}").unlink(missing_ok=True)

    def file_content(self, file_id: str) -> bytes:
        return Path(self.file_path(file_id)).read_bytes()

    def file_path(self, file_id: str) -> str:
        p = self.root / "files" / f"{file_id}.jsonl"
        if not _FILE_ID.fullmatch(file_id) or not p.is_file():  # ids are opaque: none names a path
            raise InputError(f"no uploaded file {file_id!r} in {self.root / 'files'}")
        return str(p)

    def download(self, file_id: str) -> bytes:
        """A job's result file (``<job id>:metrics.csv``)."""
        job_id, _, name = file_id.partition(":")
        p = self._dir(job_id).path / name
        if name not in RESULT_FILES or not p.is_file():
            raise InputError(f"no result file {file_id!r}")
        return p.read_bytes()

    # --- jobs -----------------------------------------------------------------------------------------------

    def _dir(self, job_id: str) -> JobDir:
        d = JobDir(job_id, self.root)
        if not _JOB_ID.fullmatch(job_id) or not d.exists():
            raise InputError(f"no local job {job_id!r} (see `ftadvisor jobs list --backend local`)")
        return d

    def devices(self) -> list[str]:
        """The devices jobs run on: each CUDA GPU, else the CPU (torch is imported only to count GPUs)."""
        if self._devices is None:
            import torch

            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            self._devices = [f"cuda:{i}" for i in range(n)] or ["cpu"]
        return self._devices

    def _spawn(self, d: JobDir) -> None:
        """Start the worker detached; several processes go through torchrun (gloo on CPU, nccl on GPUs). Under a
        per-device queue a one-process job gets a free GPU of its own (``CUDA_VISIBLE_DEVICES``)."""
        spec = d.read_json("spec.json")
        n, nodes = int(spec.get("num_processes", 1)), int(spec.get("nnodes", 1))
        if nodes > 1:  # nothing starts here: each node runs the command (the job folder on a shared disk)
            command = node_command(d, n, nodes)
            d.write_json("launch.json", {"command": command})
            d.event(
                f"Waiting for {nodes} nodes; on each node N (0 to {nodes - 1}), with the job folder on a disk "
                f"they share, run: {shlex.join(command)}"
            )
            return
        log = (d.path / "worker.log").open("ab")
        launcher = (
            [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
            if n > 1
            else [sys.executable]
        )
        env, device = dict(os.environ), None
        if self.max_running is not None and n == 1 and self._devices is not None:
            taken = {w.get("device") for w in self._busy_workers()}
            device = next((x for x in self._devices if x not in taken), None)
            if device and device.startswith("cuda:"):
                env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        proc = subprocess.Popen(
            [*launcher, "-m", "local_backend.worker", str(d.path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        d.write_json("worker.json", {"pid": proc.pid, "started": time.time(), "device": device})

    # --- the queue: a waiting job is a job folder with a ``queued`` marker, so it survives restarts ----------

    def _start(self, d: JobDir) -> None:
        """Start the job now, or queue it when ``max_running`` workers are busy."""
        if self.max_running is None:
            self._spawn(d)
            return
        (d.path / "queued").write_text(str(time.time()))
        d.update(status="queued")
        ahead = len(self._waiting()) - 1
        d.event(f"Queued: {ahead} job(s) ahead" if ahead > 0 else "Queued")
        self.schedule()

    def queued(self) -> int:
        """How many jobs wait in the queue."""
        return len(self._waiting())

    def _waiting(self) -> list[JobDir]:
        jobs = [d for d in all_jobs(self.root) if (d.path / "queued").is_file()]
        return sorted(jobs, key=lambda d: float((d.path / "queued").read_text() or 0))

    def _busy_workers(self) -> list[dict[str, Any]]:
        """worker.json of every job whose worker is training now."""
        busy = []
        for d in all_jobs(self.root):
            if (d.path / "worker.json").is_file() and not (d.path / "queued").is_file():
                try:
                    worker = d.read_json("worker.json")
                    if d.read_job().status in ACTIVE and _alive(int(worker["pid"])):
                        busy.append(worker)
                except InputError:
                    continue
        return busy

    def schedule(self) -> list[str]:
        """Start waiting jobs, oldest first, while fewer than ``max_running`` train; returns the ids started."""
        started: list[str] = []
        if self.max_running is None:
            return started
        with self._queue_lock:
            free = self.max_running - len(self._busy_workers())
            for d in self._waiting()[: max(free, 0)]:
                (d.path / "queued").unlink(missing_ok=True)
                self._spawn(d)
                started.append(d.id)
        return started

    def recover(self) -> list[str]:
        """After a restart (or a crash of the machine): every job whose worker died mid-run goes back to the queue
        and continues from its last checkpoint; queued jobs stay queued. Returns the ids resumed."""
        resumed = []
        for d in all_jobs(self.root):
            try:
                job = self.get_job(d.id)
            except InputError:
                continue
            if job.status == "failed" and job.error and job.error.code == "worker_died":
                self.resume(d.id)
                resumed.append(d.id)
        self.schedule()
        return resumed

    def create_job(self, spec: JobSpec, run_id: str | None = None) -> Job:
        """Create a job and start its worker; ``spec.options`` are :class:`LocalOptions` (lora_rank, qlora, ...)."""
        from local_backend.modelio import base_name, check

        options = parse_options(LocalOptions, spec.options, self.name)
        assert isinstance(options, LocalOptions)
        if options.gpu_per_hour is None:  # the worker prices the run the way the plan did
            from ftadvisor.pricing import load_catalogue

            entry = load_catalogue().find(spec.model, provider=self.provider)
            if entry is not None and entry.gpu_per_hour is not None:
                options = options.model_copy(update={"gpu_per_hour": entry.gpu_per_hour})
        if spec.method not in self.methods:
            raise InputError(f"the local backend trains sft and dpo, not {spec.method}")
        if spec.method == "dpo" and options.packing:
            raise InputError("-o packing: DPO compares each chosen and rejected answer whole; packing is for sft")
        problems = spec.check()
        if problems:
            raise InputError("; ".join(problems))
        check(spec.model)  # a model that cannot be loaded is refused before a job exists
        job_id = new_id("ftjob-")
        hyper = {k: v for k, v in spec.hyperparameters.items() if not (k == "beta" and v == "auto")}
        local = LocalSpec(
            model=spec.model,
            training_file=self.file_path(spec.training_file),
            validation_file=self.file_path(spec.validation_file) if spec.validation_file else None,
            seed=spec.seed if spec.seed is not None else 0,
            suffix=spec.suffix,
            method=spec.method,
            **{**options.model_dump(), **hyper},
        )
        name = f"ft:{base_name(spec.model)}:{spec.suffix or ''}:{job_id.removeprefix('ftjob-')[:8]}"
        d = JobDir(job_id, self.root)
        d.path.mkdir(parents=True)
        d.write_json("spec.json", local.model_dump())
        job = Job(
            id=job_id,
            status="validating_files",
            model=base_name(spec.model),
            backend=self.name,
            created_at=int(time.time()),
            method=spec.method,
            hyperparameters=dict(spec.hyperparameters),
            training_file=spec.training_file,
            validation_file=spec.validation_file,
            seed=local.seed,
            metadata={**spec.metadata, **({RUN_KEY: run_id} if run_id else {})},
        )
        d.write_job(job)
        d.write_json("names.json", {"fine_tuned_model": name})
        d.event(f"Created fine-tuning job: {job_id}")
        self._start(d)
        return job

    def get_job(self, job_id: str) -> Job:
        d = self._dir(job_id)
        job = d.read_job()
        worker = d.path / "worker.json"
        waiting = (d.path / "queued").is_file()  # a queued job's old worker.json (before a resume) is not its worker
        if job.status in ACTIVE and worker.is_file() and not waiting and not _alive(d.read_json("worker.json")["pid"]):
            job = d.update(
                status="failed",
                error=JobError(
                    code="worker_died",
                    param=None,
                    message=f"the training worker stopped without finishing; continue from the last checkpoint with "
                    f"`ftadvisor jobs resume {job_id} --backend local`",
                ),
            )
        return job

    def list_jobs(self, limit: int = 20) -> list[Job]:
        """The newest jobs; a job whose record is damaged is left out (it alone), not the whole list."""
        jobs = []
        for d in all_jobs(self.root)[:limit]:
            try:
                jobs.append(self.get_job(d.id))
            except InputError:
                continue
        return jobs

    def list_events(self, job_id: str, limit: int = 100, after: str | None = None) -> list[JobEvent]:
        return page_after(self._dir(job_id).events(), after, limit)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        d = self._dir(job_id)
        name = d.read_json("names.json")["fine_tuned_model"]
        out = []
        for ck in sorted(d.checkpoints.glob("step-*"), reverse=True) if d.checkpoints.is_dir() else []:
            step = int(ck.name.split("-")[1])
            rows = [e.data for e in d.events() if e.data and e.data.get("step") == step]
            metrics = {k: v for k, v in (rows[0] if rows else {}).items() if k in ("train_loss", "valid_loss")}
            out.append(
                Checkpoint(
                    id=f"ftckpt_{job_id[6:14]}_{step}",
                    created_at=int(ck.stat().st_mtime),
                    step_number=step,
                    fine_tuned_model_checkpoint=f"{name}:ckpt-step-{step}",
                    metrics=metrics,
                )
            )
        return out

    def _signal(self, job_id: str, action: str, final: str) -> Job:
        d = self._dir(job_id)
        if (d.path / "queued").is_file():  # waiting, no worker yet: it leaves the queue
            (d.path / "queued").unlink(missing_ok=True)
            d.event(f"Job {final} while queued")
            return d.update(status=final)
        job = self.get_job(job_id)
        if job.status not in ACTIVE:
            if action == "cancel" and job.status in ("paused", "failed"):
                return d.update(status="cancelled")
            raise InputError(f"{job_id} is {job.status}; only a running job can be {final}")
        if (d.path / "launch.json").is_file() and not (d.path / "worker.json").is_file():
            raise InputError(
                f"{job_id} runs on nodes started by hand: stop torchrun on each node (its checkpoints "
                f"stay; start the printed command on every node again to continue)"
            )
        (d.path / "control").write_text(action)
        pid = d.read_json("worker.json")["pid"]
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(600):  # the worker saves a checkpoint at the end of the current step
                if not _alive(pid):
                    break
                time.sleep(0.1)
        job = d.read_job()
        return job if job.status == final else d.update(status=final)

    def cancel(self, job_id: str) -> Job:
        return self._signal(job_id, "cancel", "cancelled")

    def pause(self, job_id: str) -> Job:
        return self._signal(job_id, "pause", "paused")

    def resume(self, job_id: str) -> Job:
        """Continue a paused job, or one whose worker died, from its last checkpoint."""
        d = self._dir(job_id)
        job = self.get_job(job_id)
        if job.status not in ("paused", "failed") or (
            job.status == "failed" and job.error and job.error.code != "worker_died"
        ):
            raise InputError(f"{job_id} is {job.status}; only paused jobs and jobs whose worker died can resume")
        (d.path / "control").unlink(missing_ok=True)
        job = d.update(status="queued", error=None)
        d.event("Resuming from the last checkpoint")
        self._start(d)
        return job

    def training_usage(self, job: Job) -> TrainingUsage | None:
        """Wall time, tokens trained, peak memory and cost (at the run's $/hour) of a finished job."""
        d = self._dir(job.id)
        return TrainingUsage.model_validate(d.read_json("usage.json")) if (d.path / "usage.json").is_file() else None

    def download_adapter(self, job_id: str, out: str | Path) -> AdapterFiles:
        """The job's PEFT adapter, copied to ``out`` (what `ftadvisor export` writes, without the merge)."""
        result = self.export(job_id, out)
        return AdapterFiles(
            path=result.out,
            base_model=self._dir(job_id).read_json("spec.json")["model"],
            files=sorted(p.name for p in Path(result.out).iterdir()),
        )

    def export(self, job_id: str, out: str | Path, *, merge: bool = False) -> ExportResult:
        """A local job's adapter, or an adapter folder (``job_id`` a path holding adapter_config.json)."""
        from local_backend.export import export, export_folder

        if (Path(job_id) / "adapter_config.json").is_file():
            return export_folder(Path(job_id), out, merge=merge)
        return export(self._dir(job_id), out, merge=merge)

    # --- use --------------------------------------------------------------------------------------------------

    def find_model(self, model: str) -> tuple[str, Path | None]:
        """(base model, adapter folder or None) for a base name/path, an ``ft:`` model of a local job, or a
        PEFT adapter folder (e.g. one downloaded from Together: `jobs download-adapter`)."""
        folder = Path(model)
        if (folder / "adapter_config.json").is_file():
            import json

            base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
            if not base:
                raise InputError(f"{folder}/adapter_config.json names no base_model_name_or_path")
            return str(base), folder
        if not model.startswith("ft:"):
            return model, None
        for d in all_jobs(self.root):
            if (d.path / "names.json").is_file() and d.read_json("names.json")["fine_tuned_model"] == model:
                if (d.path / "deleted").is_file():
                    raise InputError(f"{model} was deleted")
                if not d.adapter.is_dir():
                    raise InputError(f"{model} has not finished training (job {d.id})")
                return d.read_json("spec.json")["model"], d.adapter
        raise InputError(f"no local fine-tuned model {model!r} (see `ftadvisor jobs list --backend local`)")

    def delete_fine_tune(self, model: str) -> None:
        """Delete a fine-tuned model: its adapter is removed; the job and its history stay."""
        for d in all_jobs(self.root):
            if (d.path / "names.json").is_file() and d.read_json("names.json")["fine_tuned_model"] == model:
                shutil.rmtree(d.adapter, ignore_errors=True)
                (d.path / "deleted").write_text(str(time.time()))
                if self._engine is not None:
                    self._engine = None  # the adapter may be loaded: drop it with the engine
                return
        raise InputError(f"no local fine-tuned model {model!r}")

    def is_deleted(self, job_id: str) -> bool:
        return (self._dir(job_id).path / "deleted").is_file()

    def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Generate with the chat template; adapters share one loaded base and switch per request."""
        return self.complete_many(model, [messages], max_tokens=max_tokens, temperature=temperature)[0]

    def _engine_for(self, base: str) -> Any:
        from local_backend.inference import Engine

        if self._engine is None or self._engine.base != base:
            self._engine = Engine(base)
        return self._engine

    def stream(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str | Completion]:
        """The answer's text as it is generated, then the whole :class:`Completion` (``ftadvisor serve``'s
        streamed chat)."""
        base, adapter = self.find_model(model)
        start = time.perf_counter()
        for item in self._engine_for(base).stream(
            messages, adapter=adapter, max_new_tokens=max_tokens or 256, temperature=temperature or 0.0, seed=seed
        ):
            if isinstance(item, str):
                yield item
            else:
                text, n_prompt, n_out = item
                yield Completion(
                    model=model,
                    text=text,
                    usage=Usage(prompt_tokens=n_prompt, completion_tokens=n_out),
                    latency_s=time.perf_counter() - start,
                )

    def complete_many(
        self,
        model: str,
        conversations: list[list[dict[str, Any]]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> list[Completion]:
        """Answer several prompts in one batch (faster on a CPU or GPU than one by one). Each completion's
        latency is the batch's time divided by its size."""
        base, adapter = self.find_model(model)
        engine = self._engine_for(base)
        start = time.perf_counter()
        answers = engine.generate_batch(
            conversations, adapter=adapter, max_new_tokens=max_tokens or 256, temperature=temperature or 0.0, seed=seed
        )
        each = (time.perf_counter() - start) / len(conversations)
        return [
            Completion(
                model=model, text=text, usage=Usage(prompt_tokens=n_prompt, completion_tokens=n_out), latency_s=each
            )
            for text, n_prompt, n_out in answers
        ]
