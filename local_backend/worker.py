"""The training worker: ``python -m local_backend.worker JOB_DIR``, started detached by the backend."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from ftadvisor.backends.base import JobError
from ftadvisor.secrets import redact
from local_backend.store import JobDir


def run(path: Path) -> int:
    import os

    job = JobDir(path.name, path.parent.parent)
    main = int(os.environ.get("RANK", 0)) == 0  # under torchrun, rank 0 alone writes the job's files
    try:
        spec = job.read_json("spec.json")
        if main and job.read_job().status == "validating_files":
            from ftadvisor.data.validate import validate_file

            job.event(f"Validating training file: {Path(spec['training_file']).name}")
            for key in ("training_file", "validation_file"):
                if spec.get(key):
                    report = validate_file(spec[key], method=spec.get("method", "sft"))
                    errors = report.blocking_errors(validation_file=key == "validation_file")
                    if errors:
                        first = errors[0].format(Path(spec[key]).name)
                        job.event(f"Invalid {key.replace('_', ' ')}: {first}", level="error")
                        job.update(
                            status="failed",
                            error=JobError(code=f"invalid_{key}", param=key, message=f"{len(errors)} errors; {first}"),
                        )
                        return 1
            job.update(status="queued")
        from local_backend.trainer import train

        train(job)
        return 0
    except Exception as exc:  # any failure ends the job as failed, with the reason, never silently
        traceback.print_exc()
        if not main:
            return 1
        job.event(f"Training failed: {redact(str(exc))}", level="error")
        message = redact(f"{type(exc).__name__}: {exc}")
        job.update(status="failed", error=JobError(code="training_error", message=message, param=None))
        return 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
