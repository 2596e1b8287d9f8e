"""The local LoRA backend on a tiny random model: masking, the job lifecycle, exact resume, use."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from ftadvisor.backends import JobSpec, wait  # noqa: E402
from local_backend import LocalBackend  # noqa: E402
from local_backend.chatdata import IGNORE, TemplateError, encode_chat  # noqa: E402

SYSTEM = {"role": "system", "content": "You triage support tickets. Answer with JSON."}


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "store", poll_interval=0.2, sleep=time.sleep)


def dataset(path: Path, n: int = 12) -> Path:
    cats = ["billing", "technical"]
    rows = [
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": f"Ticket {i}: my invoice is wrong."},
                {"role": "assistant", "content": json.dumps({"category": cats[i % 2]})},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def labelled_text(tok, enc) -> str:
    return tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE])


def test_labels_cover_exactly_the_trainable_assistant_turns(tiny: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    msgs = [
        SYSTEM,
        {"role": "user", "content": "My invoice is wrong."},
        {"role": "assistant", "content": '{"category": "billing"}'},
        {"role": "user", "content": "And the app crashes."},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "Well?"},
        {"role": "assistant", "content": '{"category": "technical"}'},
    ]
    enc = encode_chat(tok, msgs, 4096)
    assert labelled_text(tok, enc) == ('{"category": "billing"}<|im_end|>\n{"category": "technical"}<|im_end|>\n')
    assert all(lab in (IGNORE, i) for i, lab in zip(enc.input_ids, enc.labels, strict=True))
    short = encode_chat(tok, msgs, 10)
    assert len(short.input_ids) == 10 and short.n_trained == 0  # truncated from the end, like OpenAI


def test_a_template_that_is_not_prefix_stable_is_refused(tiny: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    tok.chat_template = (
        "{% for m in messages|reverse %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    with pytest.raises(TemplateError):
        encode_chat(tok, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], 100)


def test_job_lifecycle_training_and_use(tiny: Path, backend: LocalBackend, tmp_path: Path) -> None:
    f = backend.upload(dataset(tmp_path / "train.jsonl"))
    v = backend.upload(dataset(tmp_path / "valid.jsonl", 4))
    job = backend.create_job(
        JobSpec(
            model=str(tiny),
            training_file=f.id,
            validation_file=v.id,
            suffix="tickets",
            hyperparameters={"n_epochs": 4, "batch_size": 2},
            seed=3,
        )
    )
    assert job.id.startswith("ftjob-") and job.status == "validating_files" and job.backend == "local"
    statuses, events = [], []
    done = wait(
        backend,
        job.id,
        poll_interval=0.2,
        sleep=time.sleep,
        on_status=lambda j: statuses.append(j.status),
        on_event=events.append,
    )
    assert done.status == "succeeded", done.error
    assert statuses[-1] == "succeeded" and set(statuses) <= {"validating_files", "queued", "running", "succeeded"}
    assert done.fine_tuned_model.startswith(f"ft:model:tickets:{job.id[6:14]}")
    assert done.hyperparameters == {"n_epochs": 4, "batch_size": 2, "learning_rate_multiplier": 1.0}
    metrics = [e.data for e in events if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 25))
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"] and metrics[-1]["valid_loss"] is not None
    assert all(m["tokens_per_second"] > 0 for m in metrics)
    assert done.trained_tokens > 0
    cks = backend.list_checkpoints(job.id)
    assert [c.step_number for c in cks] == [24, 18, 12]  # the last three kept
    csv_text = backend.download(done.result_files[0]).decode()
    lines = csv_text.splitlines()
    assert lines[0] == "step,train_loss,valid_loss,tokens_per_second" and len(lines) == 25
    answer = backend.complete(done.fine_tuned_model, [SYSTEM, {"role": "user", "content": "Ticket 1"}], max_tokens=8)
    assert answer.usage.completion_tokens <= 8 and answer.usage.prompt_tokens > 10
    base = backend.complete(str(tiny), [SYSTEM, {"role": "user", "content": "Ticket 1"}], max_tokens=8)
    assert backend._engine is not None and len(backend._engine.adapters) == 1  # one base, adapter switched
    assert base.model == str(tiny)


def _adapter(job_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(job_dir / "adapter" / "adapter_model.safetensors"))


def _wait_for_step(backend: LocalBackend, job_id: str, step: int, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if any(e.data and e.data.get("step", 0) >= step for e in backend.list_events(job_id)):
            return
        time.sleep(0.02)
    raise AssertionError(f"step {step} never came")


def test_pause_resume_and_a_killed_worker_end_exactly_like_an_uninterrupted_run(
    tiny: Path, backend: LocalBackend, tmp_path: Path
) -> None:
    f = backend.upload(dataset(tmp_path / "train.jsonl", 16))
    spec = JobSpec(
        model=str(tiny),
        training_file=f.id,
        hyperparameters={"n_epochs": 8, "batch_size": 1},
        seed=5,
        options={"checkpoint_every": 4, "lora_dropout": 0.1},
    )
    straight = backend.create_job(spec)
    assert wait(backend, straight.id, poll_interval=0.2, sleep=time.sleep).status == "succeeded"

    job = backend.create_job(spec)
    _wait_for_step(backend, job.id, 10)
    assert backend.pause(job.id).status == "paused"
    backend.resume(job.id)
    _wait_for_step(backend, job.id, 60)
    pid = json.loads((backend.root / "jobs" / job.id / "worker.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    died = backend.get_job(job.id)
    assert died.status == "failed" and died.error.code == "worker_died" and "jobs resume" in died.error.message
    backend.resume(job.id)
    done = wait(backend, job.id, poll_interval=0.2, sleep=time.sleep)
    assert done.status == "succeeded"
    a, b = _adapter(backend.root / "jobs" / straight.id), _adapter(backend.root / "jobs" / job.id)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    messages = [e.message for e in backend.list_events(job.id, limit=10_000)]
    assert sum("Resumed from checkpoint" in m for m in messages) == 2
    # two adapters over one loaded base, switched per request
    prompt = [SYSTEM, {"role": "user", "content": "Ticket 3"}]
    first = backend.complete(
        straight.fine_tuned_model or backend.get_job(straight.id).fine_tuned_model, prompt, max_tokens=4
    )
    engine = backend._engine
    second = backend.complete(done.fine_tuned_model, prompt, max_tokens=4)
    assert backend._engine is engine and len(engine.adapters) == 2
    assert first.text == second.text  # identical training gives identical adapters


def test_cancel_and_invalid_file(tiny: Path, backend: LocalBackend, tmp_path: Path) -> None:
    f = backend.upload(dataset(tmp_path / "train.jsonl", 16))
    job = backend.create_job(
        JobSpec(model=str(tiny), training_file=f.id, hyperparameters={"n_epochs": 30, "batch_size": 1})
    )
    _wait_for_step(backend, job.id, 2)
    assert backend.cancel(job.id).status == "cancelled"
    with pytest.raises(Exception, match="only paused jobs"):
        backend.resume(job.id)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n" * 12)
    failed = wait(
        backend,
        backend.create_job(JobSpec(model=str(tiny), training_file=backend.upload(bad).id)).id,
        poll_interval=0.2,
        sleep=time.sleep,
    )
    assert failed.status == "failed" and failed.error.code == "invalid_training_file"
    assert "invalid_json" in failed.error.message


def test_offline_hub_id_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftadvisor.errors import InputError
    from local_backend.modelio import resolve

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="HF_HUB_OFFLINE"):
        resolve("meta-llama/Llama-3.1-8B-Instruct")


def test_dpo_starts_at_ln2_and_learns_the_preference(tiny: Path, backend: LocalBackend, tmp_path: Path) -> None:
    import math

    rows = [
        {
            "input": {"messages": [SYSTEM, {"role": "user", "content": f"Ticket {i}: my invoice is wrong."}]},
            "preferred_output": [{"role": "assistant", "content": '{"category": "billing"}'}],
            "non_preferred_output": [{"role": "assistant", "content": "Hello, how can I help you today?"}],
        }
        for i in range(12)
    ]
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = backend.create_job(
        JobSpec(
            model=str(tiny),
            training_file=backend.upload(path).id,
            method="dpo",
            hyperparameters={"n_epochs": 3, "batch_size": 4, "beta": 0.5},
        )
    )
    done = wait(backend, job.id, poll_interval=0.2, sleep=time.sleep)
    assert done.status == "succeeded", done.error
    assert done.method == "dpo" and done.hyperparameters["beta"] == 0.5
    losses = [e.data["train_loss"] for e in reversed(backend.list_events(job.id, limit=1000)) if e.data]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)  # the reference is the adapter-disabled policy
    assert losses[-1] < losses[0] - 0.05


def test_two_cpu_processes_end_with_the_same_adapter(tiny: Path, backend: LocalBackend, tmp_path: Path) -> None:
    f = backend.upload(dataset(tmp_path / "train.jsonl", 16))
    job = backend.create_job(
        JobSpec(
            model=str(tiny),
            training_file=f.id,
            hyperparameters={"n_epochs": 2, "batch_size": 2},
            options={"num_processes": 2},
        )
    )
    done = wait(backend, job.id, poll_interval=0.5, sleep=time.sleep)
    assert done.status == "succeeded", (done.error, (backend.root / "jobs" / job.id / "worker.log").read_text()[-2000:])
    folder = backend.root / "jobs" / job.id
    digests = [(folder / f"rank-{r}.sha256").read_text() for r in (0, 1)]
    assert digests[0] == digests[1]
    metrics = [e.data for e in reversed(backend.list_events(job.id, limit=1000)) if e.data]
    assert len(metrics) == 8  # 16 examples / (2 per rank x 2 ranks) x 2 epochs
    assert any("on 2 processes" in e.message for e in backend.list_events(job.id, limit=1000))
