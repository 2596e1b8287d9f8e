"""Showing a job as it runs: its events and status lines, the watch loop (every status recorded in the
ledger) and what Ctrl-C means while watching."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from ftadvisor.backends.base import Backend, Job, JobEvent
from ftadvisor.cli.common import err, open_ledger, out


def when(ts: int | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def show_event(e: JobEvent) -> None:
    d = e.data or {}
    if e.type == "metrics" and "step" in d:
        parts = [f"step {d['step']}" + (f"/{d['total_steps']}" if d.get("total_steps") else "")]
        for key in ("train_loss", "valid_loss", "full_valid_loss"):
            if d.get(key) is not None:
                parts.append(f"{key.replace('_', ' ')} {d[key]:.4f}")
        out.print("  " + ", ".join(parts))
    else:
        style = {"warn": "yellow", "error": "red"}.get(e.level, "dim")
        out.print(f"  [{style}]{when(e.created_at)[11:16]}[/] {e.message}")


def show_status(job: Job) -> None:
    line = f"[bold]{job.id}[/] ({job.backend}): {job.status}"
    if job.estimated_finish and not job.done:
        line += f" (estimated finish {when(job.estimated_finish)})"
    if job.fine_tuned_model:
        line += f" -> [green]{job.fine_tuned_model}[/]"
    out.print(line)
    if job.status == "failed" and job.error:
        out.print(f"  [red]error {job.error.code}[/] (param {job.error.param}): {job.error.message}")


def record_status(job: Job, run_id: str | None = None) -> None:
    """Every status we see goes into the ledger (a broken ledger costs a warning, never the command)."""
    from ftadvisor.ledger import LedgerUnavailable

    if (db := open_ledger()) is None:
        return
    try:
        db.save_job(job, run_id=run_id)
    except LedgerUnavailable as exc:
        err.print(f"[yellow]warning:[/] {exc}; the status is not recorded")
    db.close()


def watch(backend: Backend, job_id: str, poll: float, as_json: bool, ledger: Any = None) -> Job:
    """Wait for the end of a job, showing its events and recording every status change (and the finished
    job) in the ledger; Ctrl-C detaches and leaves the job running."""
    from ftadvisor.backends import wait
    from ftadvisor.ledger import LedgerUnavailable
    from ftadvisor.train import record_finished

    book = {"ledger": ledger}

    def status(j: Job) -> None:
        if not as_json:
            show_status(j)
        if book["ledger"] is not None:
            try:
                book["ledger"].save_job(j)
            except LedgerUnavailable as exc:
                err.print(f"[yellow]warning:[/] {exc}; the job's progress is not recorded")
                book["ledger"] = None

    try:
        job = wait(
            backend,
            job_id,
            poll_interval=poll,
            on_event=None if as_json else show_event,
            on_status=status,
            sleep=backend.sleep,
        )
    except KeyboardInterrupt:
        detach(job_id)
    if book["ledger"] is not None and job.done:
        try:
            record_finished(job, backend, book["ledger"])
        except LedgerUnavailable as exc:
            err.print(f"[yellow]warning:[/] {exc}; the finished job is not recorded")
    return job


def detach(job_id: str | None) -> None:
    """Ctrl-C while watching: the job keeps running on the provider; say how to come back, exit 130."""
    if job_id:
        err.print(f"\nstopped watching; the job keeps running. Re-attach with: ftadvisor jobs wait {job_id}")
    else:
        err.print("\nstopped before any job was created (no create request was sent); nothing is running")
    sys.exit(130)
