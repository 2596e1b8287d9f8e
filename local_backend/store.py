"""The local job store: one folder per job under ``<data folder>/local``, written atomically."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from ftadvisor.backends.base import Job, JobEvent
from ftadvisor.data.jsonl import atomic_writer
from ftadvisor.errors import InputError


def root() -> Path:
    from ftadvisor.config import user_dir

    return Path(os.environ.get("FTADVISOR_LOCAL_DIR") or user_dir() / "local")


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class JobDir:
    """Files of one job: job.json, spec.json, events.jsonl, checkpoints/, adapter/, metrics.csv, worker.log."""

    def __init__(self, job_id: str, base: Path | None = None) -> None:
        self.id = job_id
        self.path = (base or root()) / "jobs" / job_id

    def exists(self) -> bool:
        return (self.path / "job.json").is_file()

    def read_job(self) -> Job:
        """The job, or one ``InputError`` naming this job's file when it is damaged (other jobs unaffected)."""
        path = self.path / "job.json"
        try:
            return Job.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise InputError(
                f"{path}: this job's record is damaged ({exc.__class__.__name__}); the job cannot be "
                "read, other jobs are not affected"
            ) from None

    def write_job(self, job: Job) -> None:
        with atomic_writer(self.path / "job.json") as f:
            f.write(job.model_dump_json(indent=1))

    def update(self, **changes: Any) -> Job:
        job = self.read_job().model_copy(update=changes)
        self.write_job(job)
        return job

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"{path}: this job's file is damaged or missing ({exc.__class__.__name__}); other jobs are not affected"
            ) from None

    def write_json(self, name: str, data: Any) -> None:
        with atomic_writer(self.path / name) as f:
            json.dump(data, f, indent=1)

    def event(self, message: str, *, level: str = "info", data: dict[str, Any] | None = None) -> JobEvent:
        e = JobEvent(
            id=new_id("ftevent-"),
            created_at=int(time.time()),
            level=level,
            message=message,
            type="metrics" if data else "message",
            data=data,
        )
        with (self.path / "events.jsonl").open("a", encoding="utf-8") as f:
            f.write(e.model_dump_json() + "\n")
        return e

    def events(self) -> list[JobEvent]:
        """All events, newest first (as OpenAI lists them)."""
        p = self.path / "events.jsonl"
        if not p.is_file():
            return []
        events = []
        for line in reversed(p.read_text(errors="replace").splitlines()):
            if not line.strip():
                continue
            try:
                events.append(JobEvent.model_validate_json(line))
            except ValueError:  # a torn or damaged line (a worker killed mid-write): skipped, the rest is read
                continue
        return events

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"


def all_jobs(base: Path | None = None) -> list[JobDir]:
    jobs = (base or root()) / "jobs"
    if not jobs.is_dir():
        return []
    dirs = [JobDir(p.name, base) for p in jobs.iterdir() if (p / "job.json").is_file()]
    return sorted(dirs, key=lambda d: (d.path / "job.json").stat().st_mtime, reverse=True)
