"""Experiment tracking of local runs (``-o report_to=mlflow|wandb``), from the main process only.

MLflow logs to ``MLFLOW_TRACKING_URI`` when it is set, else to a file store next to the jobs (``mlruns`` in
the local backend's folder; ``mlflow ui --backend-store-uri <that folder>`` shows it). Weights & Biases runs
offline unless ``WANDB_MODE`` says otherwise or ``WANDB_API_KEY`` is set (``wandb sync`` uploads an offline
run later). Each step logs the training and validation losses and tokens/s; the run's configuration is logged
once; a resumed job continues the same tracked run (its id is kept in the job's ``tracking.json``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

from local_backend.store import JobDir

METRICS = ("train_loss", "valid_loss", "tokens_per_second")
ENDS = {"succeeded": ("FINISHED", 0), "paused": ("KILLED", 0), "cancelled": ("KILLED", 1), "failed": ("FAILED", 1)}


class Tracker(Protocol):
    def log(self, row: dict[str, Any]) -> None: ...

    def end(self, status: str) -> None: ...


def open_tracker(kind: str, project: str | None, job: JobDir, config: dict[str, Any]) -> Tracker | None:
    """The tracker of ``kind`` for this job (None for ``none``)."""
    if kind == "mlflow":
        return MLflowTracker(project or "ftadvisor", job, config)
    if kind == "wandb":
        return WandbTracker(project or "ftadvisor", job, config)
    return None


def mlflow_uri(job: JobDir) -> str:
    """MLFLOW_TRACKING_URI, else the file store next to the jobs (MLflow 3 keeps file stores working only
    when asked: ``MLFLOW_ALLOW_FILE_STORE``; set a sqlite or server URI for its newer stores)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (job.path.parents[1] / "mlruns").resolve().as_uri()


class MLflowTracker:
    def __init__(self, experiment: str, job: JobDir, config: dict[str, Any]) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=mlflow_uri(job))
        saved = job.read_json("tracking.json") if (job.path / "tracking.json").is_file() else {}
        if saved.get("mlflow_run_id"):
            self.run_id = saved["mlflow_run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        run = self.client.create_run(experiment_id, run_name=job.id, tags={"ftadvisor.job": job.id})
        self.run_id = run.info.run_id
        for key, value in sorted(config.items()):
            self.client.log_param(self.run_id, key, str(value)[:500])
        job.write_json("tracking.json", {"mlflow_run_id": self.run_id, "mlflow_uri": mlflow_uri(job)})

    def log(self, row: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(row[k]), now, int(row["step"])) for k in METRICS if row.get(k) is not None]
        self.client.log_batch(self.run_id, metrics=metrics)

    def end(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=ENDS[status][0])


class WandbTracker:
    def __init__(self, project: str, job: JobDir, config: dict[str, Any]) -> None:
        import wandb

        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        self.run = wandb.init(
            project=project,
            name=job.id,
            id=job.id,
            resume="allow",
            config=config,
            dir=str(job.path),
            mode=mode,  # type: ignore[arg-type]
        )
        if not (job.path / "tracking.json").is_file():
            job.write_json(
                "tracking.json", {"wandb_run_id": job.id, "wandb_mode": mode, "wandb_dir": str(job.path / "wandb")}
            )

    def log(self, row: dict[str, Any]) -> None:
        self.run.log({k: row[k] for k in METRICS if row.get(k) is not None}, step=int(row["step"]))

    def end(self, status: str) -> None:
        self.run.finish(exit_code=ENDS[status][1])
