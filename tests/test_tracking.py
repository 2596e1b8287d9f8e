"""Experiment tracking of local runs, offline: MLflow's file store and W&B's offline mode hold each step's
losses as the job's metrics.csv has them, and the run's configuration."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from ftadvisor.backends.base import JobSpec, wait
from local_backend.backend import LocalBackend
from tests.test_local_backend import dataset


def _run(b: LocalBackend, tiny: Path, tmp_path: Path, **options: object) -> tuple[str, list[dict[str, str]]]:
    data = b.upload(dataset(tmp_path / "train.jsonl", 12)).id
    valid = b.upload(dataset(tmp_path / "valid.jsonl", 4)).id
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=data,
            validation_file=valid,
            hyperparameters={"n_epochs": 2, "batch_size": 4},
            options={"lora_rank": 4, "eval_every": 2, **options},
        )
    )
    done = wait(b, job.id, poll_interval=0.3, sleep=time.sleep)
    assert done.status == "succeeded", (done.error, (b.root / "jobs" / job.id / "worker.log").read_text()[-3000:])
    with (b.root / "jobs" / job.id / "metrics.csv").open() as f:
        return job.id, list(csv.DictReader(f))


def test_mlflow_file_store_holds_the_runs_metrics_and_config(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    b = LocalBackend(tmp_path / "store", poll_interval=0.3, sleep=time.sleep)
    job_id, rows = _run(b, tiny, tmp_path, report_to="mlflow", tracking_project="tickets")
    saved = json.loads((b.root / "jobs" / job_id / "tracking.json").read_text())
    assert saved["mlflow_uri"] == (b.root / "mlruns").resolve().as_uri()  # next to the jobs, no server
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=saved["mlflow_uri"])
    run = client.get_run(saved["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == job_id
    assert client.get_experiment(run.info.experiment_id).name == "tickets"
    assert run.data.params["lora_rank"] == "4" and run.data.params["report_to"] == "mlflow"
    train = client.get_metric_history(run.info.run_id, "train_loss")
    assert [(m.step, round(m.value, 6)) for m in sorted(train, key=lambda m: m.step)] == [
        (int(r["step"]), float(r["train_loss"])) for r in rows
    ]
    valid = client.get_metric_history(run.info.run_id, "valid_loss")
    assert {m.step for m in valid} == {int(r["step"]) for r in rows if r["valid_loss"]} and valid


def _wandb_records(path: Path) -> list:  # type: ignore[type-arg]
    """The protobuf records of a .wandb file (W&B's LevelDB-style log: a 7-byte header, then 32 KiB blocks of
    records, each with a 4-byte checksum, a 2-byte length and a 1-byte type: full, first, middle or last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    raw = path.read_bytes()
    assert raw[:4] == b":W&B"
    records, pending, at = [], b"", 7
    while at + 7 <= len(raw):
        if 32768 - at % 32768 < 7:  # too little room left in the block for a header: padding
            at += 32768 - at % 32768
            continue
        length, kind = int.from_bytes(raw[at + 4 : at + 6], "little"), raw[at + 6]
        pending += raw[at + 7 : at + 7 + length]
        at += 7 + length
        if kind in (1, 4):  # a full record, or the last part of one
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_wandb_offline_run_holds_the_steps_and_config(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    b = LocalBackend(tmp_path / "store", poll_interval=0.3, sleep=time.sleep)
    job_id, rows = _run(b, tiny, tmp_path, report_to="wandb")
    folder = b.root / "jobs" / job_id
    assert json.loads((folder / "tracking.json").read_text())["wandb_mode"] == "offline"
    runs = list((folder / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = _wandb_records(next(runs[0].glob("run-*.wandb")))  # what `wandb sync` uploads later
    steps = []
    for r in records:
        if r.WhichOneof("record_type") == "history":
            item = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            steps.append((item["_step"], round(item["train_loss"], 6), item.get("valid_loss")))
    assert steps == [
        (int(r["step"]), float(r["train_loss"]), float(r["valid_loss"]) if r["valid_loss"] else None) for r in rows
    ]
    updates = [
        u
        for r in records
        for u in (
            r.run.config.update
            if r.WhichOneof("record_type") == "run"
            else r.config.update
            if r.WhichOneof("record_type") == "config"
            else []
        )
    ]
    config = {u.key or "/".join(u.nested_key): json.loads(u.value_json) for u in updates}
    assert config["lora_rank"] == 4 and config["report_to"] == "wandb"
    assert any(r.WhichOneof("record_type") == "exit" and r.exit.exit_code == 0 for r in records)
