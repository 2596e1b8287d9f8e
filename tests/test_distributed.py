"""More than one process, on CPU with gloo: DDP and FSDP (torch's ``fully_shard``) train the adapter one process
trains; FSDP pauses and resumes through its gathered checkpoints; two torchrun "nodes" over loopback.

What is not tested here (no GPU): NCCL, FSDP sharding across GPUs' memory, bf16 mixed precision on GPUs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from ftadvisor.backends.base import JobSpec, wait  # noqa: E402
from ftadvisor.errors import InputError  # noqa: E402
from local_backend.backend import LocalBackend  # noqa: E402
from tests.test_local_backend import _wait_for_step, dataset  # noqa: E402

COMMON = {"lora_rank": 4, "lora_dropout": 0.0, "precision": "fp32", "checkpoint_every": 2}


def _adapter(b: LocalBackend, job_id: str) -> dict:  # type: ignore[type-arg]
    from safetensors.torch import load_file

    return load_file(str(b.root / "jobs" / job_id / "adapter" / "adapter_model.safetensors"))


def _train(b: LocalBackend, tiny: Path, data: str, batch_size: int, **options: object) -> str:
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=data,
            seed=3,
            hyperparameters={"n_epochs": 1, "batch_size": batch_size},
            options={**COMMON, **options},
        )
    )
    done = wait(b, job.id, poll_interval=0.3, sleep=time.sleep)
    log = b.root / "jobs" / job.id / "worker.log"
    assert done.status == "succeeded", (done.error, log.read_text()[-3000:] if log.is_file() else "")
    return job.id


def _close(a: dict, b: dict) -> None:  # type: ignore[type-arg]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), (k, (a[k] - b[k]).abs().max())


def test_ddp_and_fsdp_on_two_processes_train_the_one_process_adapter(tiny: Path, tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "store", poll_interval=0.3, sleep=time.sleep)
    data = b.upload(dataset(tmp_path / "train.jsonl", 16)).id
    single = _train(b, tiny, data, 4)  # 4 examples a step
    ddp = _train(b, tiny, data, 2, num_processes=2)  # 2 per process x 2 processes
    fsdp = _train(b, tiny, data, 2, num_processes=2, parallel="fsdp")
    one = _adapter(b, single)
    _close(one, _adapter(b, ddp))
    _close(one, _adapter(b, fsdp))
    folder = b.root / "jobs" / fsdp
    assert (folder / "rank-0.sha256").read_text() == (folder / "rank-1.sha256").read_text()
    assert any("on 2 processes (FSDP, sharded)" in e.message for e in b.list_events(fsdp, limit=1000))


def test_fsdp_pauses_and_resumes_to_the_uninterrupted_adapter(tiny: Path, tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "store", poll_interval=0.3, sleep=time.sleep)
    data = b.upload(dataset(tmp_path / "train.jsonl", 16)).id
    options = {**COMMON, "num_processes": 2, "parallel": "fsdp", "checkpoint_every": 1}
    straight = _train(b, tiny, data, 1, **options)
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=data,
            seed=3,
            hyperparameters={"n_epochs": 1, "batch_size": 1},
            options=options,
        )
    )
    _wait_for_step(b, job.id, 2)
    assert b.pause(job.id).status == "paused"
    b.resume(job.id)
    done = wait(b, job.id, poll_interval=0.3, sleep=time.sleep)
    assert done.status == "succeeded", done.error
    _close(_adapter(b, straight), _adapter(b, job.id))
    assert any("Resumed from checkpoint" in e.message for e in b.list_events(job.id, limit=1000))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_nodes_over_loopback_with_torchrun(tiny: Path, tmp_path: Path) -> None:
    """A job with ``nnodes=2`` starts nothing and names the command each node runs; here both "nodes" run it on
    this machine (one process each, over loopback) and train what one node with two processes trains."""
    from local_backend.backend import node_command
    from local_backend.store import JobDir

    b = LocalBackend(tmp_path / "store", poll_interval=0.3, sleep=time.sleep)
    data = b.upload(dataset(tmp_path / "train.jsonl", 16)).id
    reference = _train(b, tiny, data, 2, num_processes=2)
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=data,
            seed=3,
            hyperparameters={"n_epochs": 1, "batch_size": 2},
            options={**COMMON, "num_processes": 1, "nnodes": 2},
        )
    )
    folder = JobDir(job.id, b.root)
    printed = folder.read_json("launch.json")["command"]
    assert printed == node_command(folder, 1, 2)
    assert any("Waiting for 2 nodes" in e.message and "--node-rank=N" in e.message for e in b.list_events(job.id))
    assert not (folder.path / "worker.json").exists()  # nothing started on this machine
    with pytest.raises(InputError, match="stop torchrun on each node"):
        b.pause(job.id)
    port = _free_port()
    nodes = [
        subprocess.Popen(
            [sys.executable, *node_command(folder, 1, 2, str(rank), "127.0.0.1", port)[1:]],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=600)[0].decode(errors="replace") for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert b.get_job(job.id).status == "succeeded"
    _close(_adapter(b, reference), _adapter(b, job.id))
