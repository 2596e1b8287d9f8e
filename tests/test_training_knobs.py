"""The recipe knobs of the local trainer on a tiny model: the labelled-positions loss equals the usual one,
gradient accumulation equals a bigger batch, schedules, max_steps, early stopping, 8-bit AdamW, precision."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from ftadvisor.backends import JobSpec, wait  # noqa: E402
from local_backend import LocalBackend  # noqa: E402
from local_backend.chatdata import IGNORE, encode_chat  # noqa: E402
from tests.test_local_backend import SYSTEM, dataset  # noqa: E402


def _batch(tiny: Path, n: int = 4) -> tuple[object, dict]:  # type: ignore[type-arg]
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from local_backend.batching import collate

    tok = AutoTokenizer.from_pretrained(tiny)
    rows = [
        encode_chat(
            tok,
            [
                SYSTEM,
                {"role": "user", "content": f"Ticket {i}" + " wrong" * i},
                {"role": "assistant", "content": '{"category": "billing"}' * (1 + i % 2)},
            ],
            256,
        )
        for i in range(n)
    ]
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False),
    )  # non-zero B: the adapter changes the logits
    return model, collate(rows, tok.pad_token_id, "cpu")


def _close(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Equal up to float32 summation order: 1e-5 of the largest magnitude."""
    return bool((a - b).abs().max() <= 1e-5 * b.abs().max() + 1e-7)


def _full_logits_loss(model, batch):  # type: ignore[no-untyped-def]
    """The usual causal-LM loss: every position through the head, upcast, sliced, then masked."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


def test_loss_at_labelled_positions_equals_the_full_logits_loss(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from local_backend import losses

    model, batch = _batch(tiny)
    want = _full_logits_loss(model, batch)
    want.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    got, n = losses.labelled_ce_sum(model.get_base_model(), batch)
    assert n == int((batch["labels"][:, 1:] != IGNORE).sum())
    assert torch.allclose(got, want, rtol=1e-5)
    got.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert _close(p.grad, grads[name]), name
    monkeypatch.setattr(losses, "CHUNK", 7)  # the chunked, recomputed path gives the same sum
    model.zero_grad()
    chunked, _ = losses.labelled_ce_sum(model.get_base_model(), batch)
    assert torch.allclose(chunked, want, rtol=1e-5)
    chunked.backward()
    assert all(_close(p.grad, grads[name]) for name, p in model.named_parameters() if p.requires_grad)


def test_schedules_warm_up_then_decay() -> None:
    from local_backend.trainer import LocalSpec, Schedule

    def sched(n: int, **kw) -> Schedule:  # type: ignore[no-untyped-def]
        return Schedule.of(LocalSpec(model="m", training_file="f", n_epochs=2, batch_size=2, **kw), [10] * n, 1)

    s = sched(40, gradient_accumulation_steps=2, warmup_steps=4, lr_scheduler="cosine")
    assert (s.steps_per_epoch, s.total, s.epochs) == (10, 20, 2)  # 40 examples / (2 x 2) per step
    assert [s.factor(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s.factor(4) == 1.0 and s.factor(12) == pytest.approx(0.5) and s.factor(20) == pytest.approx(0.0)
    lin = sched(40, warmup_ratio=0.1)
    assert lin.warmup == math.ceil(0.1 * 40) and lin.factor(22) == pytest.approx(1 - 18 / 36)
    assert sched(40, lr_scheduler="constant", warmup_steps=0).factor(30) == 1.0
    capped = sched(40, max_steps=45)  # max_steps wins over epochs, adding epochs as needed
    assert capped.total == 45 and capped.epochs == 3


def _job(b: LocalBackend, tiny: Path, data: Path, valid: Path | None = None, **options) -> object:  # type: ignore[no-untyped-def]
    f = b.upload(data)
    v = b.upload(valid).id if valid else None
    hyper = options.pop("hyper", {"n_epochs": 1, "batch_size": 4})
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=f.id,
            validation_file=v,
            hyperparameters=hyper,
            options={"lora_rank": 4, "lora_dropout": 0.0, "precision": "fp32", **options},
        )
    )
    return wait(b, job.id, poll_interval=0.2, sleep=time.sleep)


def _adapter(b: LocalBackend, job_id: str) -> dict:  # type: ignore[type-arg]
    from safetensors.torch import load_file

    return load_file(str(b.root / "jobs" / job_id / "adapter" / "adapter_model.safetensors"))


def test_gradient_accumulation_equals_the_bigger_batch(tiny: Path, tmp_path: Path) -> None:
    b = LocalBackend(tmp_path / "store", poll_interval=0.2, sleep=time.sleep)
    data = dataset(tmp_path / "train.jsonl", 12)
    whole = _job(b, tiny, data, hyper={"n_epochs": 1, "batch_size": 4})
    split = _job(b, tiny, data, hyper={"n_epochs": 1, "batch_size": 2}, gradient_accumulation_steps=2)
    assert whole.status == split.status == "succeeded"  # type: ignore[attr-defined]
    a, c = _adapter(b, whole.id), _adapter(b, split.id)  # type: ignore[attr-defined]
    assert a.keys() == c.keys()
    for k in a:
        assert torch.allclose(a[k], c[k], atol=1e-5), k
    events = [e.message for e in b.list_events(split.id, limit=1000)]  # type: ignore[attr-defined]
    assert any("batch size 2 x 2 accumulated, 3 steps" in m for m in events)


def test_max_steps_8bit_adamw_and_early_stopping(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    b = LocalBackend(tmp_path / "store", poll_interval=0.2, sleep=time.sleep)
    data = dataset(tmp_path / "train.jsonl", 12)
    capped = _job(b, tiny, data, max_steps=3, optimizer="adamw-8bit", hyper={"n_epochs": 5, "batch_size": 2})
    assert capped.status == "succeeded"  # type: ignore[attr-defined]
    steps = [e.data["step"] for e in b.list_events(capped.id, limit=1000) if e.data]  # type: ignore[attr-defined]
    assert sorted(steps) == [1, 2, 3]
    # validation answers that contradict the training answers: the better the fit, the worse the validation loss
    other = tmp_path / "valid.jsonl"
    other.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        SYSTEM,
                        {"role": "user", "content": f"Ticket {i}: my invoice is wrong."},
                        {"role": "assistant", "content": "Hello, how can I help you?"},
                    ]
                }
            )
            + "\n"
            for i in range(4)
        )
    )
    early = _job(
        b,
        tiny,
        data,
        other,
        early_stopping_patience=2,
        eval_every=1,
        hyper={"n_epochs": 20, "batch_size": 4, "learning_rate_multiplier": 10},
    )
    assert early.status == "succeeded"  # type: ignore[attr-defined]
    rows = [e.data for e in reversed(b.list_events(early.id, limit=1000)) if e.data]  # type: ignore[attr-defined]
    messages = [e.message for e in b.list_events(early.id, limit=1000)]  # type: ignore[attr-defined]
    stop = next(m for m in messages if m.startswith("Early stopping at step"))
    assert len(rows) < 60  # stopped well before 20 epochs x 3 steps
    best = min(r["valid_loss"] for r in rows)
    assert f"({best:.4f})" in stop and rows[-1]["valid_loss"] > best


def test_precision_is_chosen_once_and_refuses_what_cannot_run(tmp_path: Path) -> None:
    from ftadvisor.errors import InputError
    from local_backend.precision import bf16_speedup, choose, chosen
    from local_backend.store import JobDir

    with pytest.raises(InputError, match="fp16 needs a GPU"):
        choose("fp16", "cpu")
    assert choose("fp32", "cpu").name == "fp32" and choose("bf16", "cpu").name == "bf16"
    auto = choose("auto", "cpu")
    speedup = bf16_speedup()
    assert auto.name in ("bf16", "fp32") and ("bf16" in auto.reason or "fp32" in auto.reason)
    assert speedup > 0
    state = torch.get_rng_state()
    job = JobDir(tmp_path / "job")
    job.path.mkdir()
    first = chosen(job, "auto", "cpu")
    assert torch.equal(torch.get_rng_state(), state)  # the probe does not move the run's random state
    (job.path / "precision.json").write_text(json.dumps({"name": "bf16", "device_type": "cpu", "reason": "kept"}))
    assert chosen(job, "auto", "cpu").reason == "kept" and first.device_type == "cpu"


def test_compiled_decoder_layers_train_the_same_adapter(tiny: Path, tmp_path: Path) -> None:
    import shutil

    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("torch.compile on a CPU needs a C++ compiler; none is installed")
    b = LocalBackend(tmp_path / "store", poll_interval=0.2, sleep=time.sleep)
    data = dataset(tmp_path / "train.jsonl", 12)
    plain = _job(b, tiny, data)
    compiled = _job(b, tiny, data, compile=True)
    assert plain.status == compiled.status == "succeeded", compiled.error  # type: ignore[attr-defined]
    a, c = _adapter(b, plain.id), _adapter(b, compiled.id)  # type: ignore[attr-defined]
    for k in a:
        assert torch.allclose(a[k], c[k], atol=1e-5), k
    assert any("; compiled" in e.message for e in b.list_events(compiled.id, limit=1000))  # type: ignore[attr-defined]
