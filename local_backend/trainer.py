"""LoRA / QLoRA supervised fine-tuning with exact OpenAI-style masking, checkpoints and exact resume.

A plain PyTorch loop (not HF Trainer) so that every piece of state is ours to save and restore: the
adapter, the optimizer, the LR scheduler, the position in the seeded data order and the RNG state.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from ftadvisor.pricing.training import default_epochs
from local_backend.chatdata import IGNORE, Encoded, encode_chat, encode_preference
from local_backend.options import LocalOptions
from local_backend.store import JobDir

BASE_LR = 2e-4
KEEP_CHECKPOINTS = 3


class LocalSpec(LocalOptions):
    """What a local job trains: its options plus the job's data and hyperparameters; ``auto`` values are
    resolved in the worker, like OpenAI's."""

    model: str
    training_file: str
    validation_file: str | None = None
    method: str = "sft"
    n_epochs: int | str = "auto"
    batch_size: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"
    beta: float = Field(default=0.1, gt=0, le=2)
    seed: int = 0
    suffix: str | None = None


def auto_batch_size(n: int) -> int:
    return max(1, min(8, round(n * 0.002) or 1))


class Stop(Exception):
    """The worker was asked to stop (cancel or pause) and saved its state."""


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i:i + size] for i in range(0, len(order), size)]


def _collate(examples: list[Encoded], pad_id: int, dev: str) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids.to(dev), "labels": labels.to(dev), "attention_mask": mask.to(dev)}


def _loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Mean loss over the labelled tokens of the batch, and how many there were."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    shift_logits = logits[:, :-1].float()
    shift_labels = batch["labels"][:, 1:]
    n = int((shift_labels != IGNORE).sum())
    loss = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    return loss / max(n, 1), n


def _sequence_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of the log-probabilities of each sequence's labelled tokens."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    logps = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def _dpo_loss(model: Any, peft_model: Any, pairs: list[tuple[Encoded, Encoded]], pad_id: int, dev: str,
              beta: float) -> tuple[Any, int]:
    """DPO with the adapter-disabled model as the reference (no second model in memory). ``model`` may be
    the DDP wrapper of ``peft_model``."""
    import torch
    import torch.nn.functional as F

    batch = _collate([c for c, _ in pairs] + [r for _, r in pairs], pad_id, dev)
    policy = _sequence_logps(model, batch)
    with torch.no_grad(), peft_model.disable_adapter():
        reference = _sequence_logps(peft_model, batch)
    k = len(pairs)
    margin = beta * ((policy[:k] - reference[:k]) - (policy[k:] - reference[k:]))
    return -F.logsigmoid(margin).mean(), k


def _n_tokens(items: list[Any]) -> int:
    seqs = [s for item in items for s in (item if isinstance(item, tuple) else (item,))]
    return sum(len(s.input_ids) for s in seqs)


def evaluate(step_loss: Any, model: Any, examples: list[Any], batch_size: int) -> float | None:
    """Mean validation loss (per labelled token for SFT, per pair for DPO)."""
    import torch

    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for chunk in _batches(list(range(len(examples))), batch_size):
            loss, n = step_loss([examples[i] for i in chunk])
            total += float(loss) * n
            count += n
    model.train()
    return total / max(count, 1)


def _peak_memory_mb() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Dist:
    """The process group when started by torchrun (RANK/WORLD_SIZE set), else a single process."""

    def __init__(self) -> None:
        import os

        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.main = self.rank == 0
        if self.world > 1:
            import torch
            import torch.distributed as dist

            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            if torch.cuda.is_available():
                torch.cuda.set_device(self.local_rank)

    def device(self, default: str) -> str:
        return f"cuda:{self.local_rank}" if default == "cuda" and self.world > 1 else default

    def mean(self, value: float) -> float:
        return self._reduce(value, "sum") / self.world

    def total(self, value: float) -> float:
        return self._reduce(value, "sum")

    def any(self, flag: bool) -> bool:
        return self._reduce(1.0 if flag else 0.0, "max") > 0

    def _reduce(self, value: float, op: str) -> float:
        if self.world == 1:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
        return float(t.item())

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def adapter_digest(peft_model: Any) -> str:
    """SHA-256 of the trainable (adapter) weights: equal on every rank when data parallelism is right."""
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(peft_model.named_parameters()):
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def train(job: JobDir) -> None:
    """Run (or resume) the job in ``job``: status, events, checkpoints, final adapter, metrics.csv. Under
    torchrun every rank trains its share of each global batch; rank 0 alone writes the job's files."""
    dist = Dist()
    try:
        _train(job, dist)
    finally:
        dist.close()


def _train(job: JobDir, dist: Dist) -> None:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training, set_peft_model_state_dict
    from safetensors.torch import load_file

    from local_backend.modelio import device, load

    spec = LocalSpec.model_validate(job.read_json("spec.json"))
    stop: dict[str, str | None] = {"to": None}

    def on_term(*_: Any) -> None:  # the backend writes "cancel" or "pause" to `control`, then signals
        control = job.path / "control"
        stop["to"] = control.read_text().strip() if control.is_file() else "cancel"

    signal.signal(signal.SIGTERM, on_term)
    random.seed(spec.seed)
    torch.manual_seed(spec.seed)
    dev = dist.device(device())
    event = job.event if dist.main else (lambda *a, **k: None)
    update = job.update if dist.main else (lambda **k: None)
    update(status="running")
    event(f"Loading {spec.model}" + (" in 4-bit NF4 (QLoRA)" if spec.qlora else "")
          + (f" on {dist.world} processes" if dist.world > 1 else ""))
    model, tok = load(spec.model, quantize_4bit=spec.qlora)
    if spec.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(r=spec.lora_rank, lora_alpha=spec.lora_alpha, lora_dropout=spec.lora_dropout,
                      target_modules=spec.target_modules, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lora)
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        peft_model.to(dev)
        model = DistributedDataParallel(peft_model, device_ids=[dist.local_rank] if dev.startswith("cuda") else None)
    else:
        model = peft_model
    pad = tok.pad_token_id
    if spec.method == "dpo":
        def encode(ex: dict[str, Any]) -> Any:
            return encode_preference(tok, ex, spec.max_length)

        def step_loss(items: list[Any]) -> tuple[Any, int]:
            return _dpo_loss(model, peft_model, items, pad, dev, spec.beta)
    else:
        def encode(ex: dict[str, Any]) -> Any:
            return encode_chat(tok, ex["messages"], spec.max_length)

        def step_loss(items: list[Any]) -> tuple[Any, int]:
            return _loss(model, _collate(items, pad, dev))

    train_set = [encode(ex) for ex in _read_jsonl(spec.training_file)]
    valid_set = [encode(ex) for ex in _read_jsonl(spec.validation_file)] if spec.validation_file else []
    n = len(train_set)
    epochs = default_epochs(n) if spec.n_epochs == "auto" else int(spec.n_epochs)
    bs = auto_batch_size(n) if spec.batch_size == "auto" else int(spec.batch_size)
    lr = BASE_LR * (1.0 if spec.learning_rate_multiplier == "auto" else float(spec.learning_rate_multiplier))
    global_bs = bs * dist.world  # each rank takes bs examples of every global batch
    steps_per_epoch = math.ceil(n / global_bs)
    total = epochs * steps_per_epoch
    hyper = {"n_epochs": epochs, "batch_size": bs, "learning_rate_multiplier": lr / BASE_LR}
    if spec.method == "dpo":
        hyper["beta"] = spec.beta
    update(hyperparameters=hyper)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    warmup = max(1, total // 20)

    def lr_factor(s: int) -> float:  # linear warm-up, then linear decay to 0
        return (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor)
    state = {"step": 0, "trained_tokens": 0, "wall_s": 0.0}
    metrics: list[dict[str, Any]] = []
    last = _last_checkpoint(job)
    if last is not None:
        set_peft_model_state_dict(peft_model, load_file(str(last / "adapter" / "adapter_model.safetensors")))
        optim.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(last / "scheduler.pt", weights_only=True))
        saved = torch.load(last / "state.pt", weights_only=False)
        state, metrics = saved["state"], saved["metrics"]
        torch.set_rng_state(saved["torch_rng"])
        random.setstate(saved["py_rng"])
        event(f"Resumed from checkpoint at step {state['step']}")
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    event(f"Fine-tuning started: {n} examples, {epochs} epochs, batch size {bs}, {total} steps, LoRA r="
              f"{spec.lora_rank} on {spec.target_modules}, {trainable:,} trainable parameters")
    model.train()
    started = time.perf_counter() - state["wall_s"]
    for epoch in range(int(state["step"]) // steps_per_epoch, epochs):
        g = torch.Generator().manual_seed(spec.seed + epoch)  # the data order of an epoch never changes
        order = torch.randperm(n, generator=g).tolist()
        for b, chunk in enumerate(_batches(order, global_bs)):
            if epoch * steps_per_epoch + b < state["step"]:
                continue  # already trained before the resume
            t0 = time.perf_counter()
            mine = chunk[dist.rank::dist.world] or chunk[:1]  # a short last batch: repeat one example
            items = [train_set[i] for i in mine]
            loss, _ = step_loss(items)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            tokens = int(dist.total(_n_tokens(items)))
            state["step"] += 1
            state["trained_tokens"] += tokens
            step = state["step"]
            row: dict[str, Any] = {"step": step, "train_loss": round(dist.mean(float(loss)), 6), "valid_loss": None,
                                   "tokens_per_second": round(tokens / max(time.perf_counter() - t0, 1e-9), 1),
                                   "total_steps": total, "epoch": epoch + 1}
            end_of_epoch = b == steps_per_epoch - 1
            if valid_set and (step % spec.eval_every == 0 or end_of_epoch):
                row["valid_loss"] = round(evaluate(step_loss, model, valid_set, bs) or 0.0, 6)
            metrics.append(row)
            event(f"Step {step}/{total}: training loss={row['train_loss']:.4f}"
                      + (f", validation loss={row['valid_loss']:.4f}" if row["valid_loss"] is not None else ""),
                      data=row)
            state["wall_s"] = time.perf_counter() - started
            stopping = dist.any(stop["to"] is not None)
            if step % spec.checkpoint_every == 0 or end_of_epoch or stopping:
                if dist.main:
                    _save_checkpoint(job, peft_model, optim, sched, state, metrics)
                dist.barrier()
            if stopping:
                final = "paused" if stop["to"] == "pause" else "cancelled"
                event(f"Job {final} at step {step}; its state is saved")
                update(status=final, trained_tokens=state["trained_tokens"])
                return
    (job.path / f"rank-{dist.rank}.sha256").write_text(adapter_digest(peft_model))
    if not dist.main:
        return
    peft_model.save_pretrained(str(job.adapter))
    _write_metrics(job, metrics)
    wall = time.perf_counter() - started
    ft_name = job.read_json("names.json")["fine_tuned_model"]
    cost = wall / 3600 * spec.gpu_per_hour if spec.gpu_per_hour is not None else None
    job.event("New fine-tuned model created")
    job.event(f"Training took {wall:.1f} s, {state['trained_tokens']:,} tokens, peak memory {_peak_memory_mb():,.0f} MB"
              + (f", cost ${cost:.4f}" if cost is not None else ""))
    job.write_json("usage.json", {"wall_s": wall, "trained_tokens": state["trained_tokens"],
                                  "peak_memory_mb": _peak_memory_mb(), "cost_usd": cost})
    job.update(status="succeeded", finished_at=int(time.time()), trained_tokens=state["trained_tokens"],
               fine_tuned_model=ft_name, result_files=[f"{job.id}:metrics.csv"])
    job.event(f"The job has successfully completed: {ft_name}")


def _save_checkpoint(job: JobDir, model: Any, optim: Any, sched: Any, state: dict[str, Any],
                     metrics: list[dict[str, Any]]) -> None:
    import torch

    step = state["step"]
    tmp = job.checkpoints / f".step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "adapter")
    torch.save(optim.state_dict(), tmp / "optimizer.pt")
    torch.save(sched.state_dict(), tmp / "scheduler.pt")
    torch.save({"state": dict(state), "metrics": list(metrics), "torch_rng": torch.get_rng_state(),
                "py_rng": random.getstate()}, tmp / "state.pt")
    final = job.checkpoints / f"step-{step:06d}"
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)  # a checkpoint exists only once complete
    for old in sorted(job.checkpoints.glob("step-*"))[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _last_checkpoint(job: JobDir) -> Path | None:
    found = sorted(job.checkpoints.glob("step-*")) if job.checkpoints.is_dir() else []
    return found[-1] if found else None


def _write_metrics(job: JobDir, metrics: list[dict[str, Any]]) -> None:
    with (job.path / "metrics.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "train_loss", "valid_loss", "tokens_per_second"],
                           extrasaction="ignore")
        w.writeheader()
        w.writerows(metrics)
