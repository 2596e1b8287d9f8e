"""LoRA / QLoRA supervised fine-tuning (and DPO) with exact OpenAI-style masking, checkpoints and exact resume.

A plain PyTorch loop, read top to bottom: ``Run`` sets everything up (model, data, loss, optimizer,
schedule, precision), ``Checkpointer`` saves and restores every piece of state (adapter, optimizer,
scheduler, gradient scaler, position in the seeded data order, RNGs), ``Reporter`` writes events and
files, and ``_train`` is the loop. The loss is computed only at labelled positions (``losses``).
"""

from __future__ import annotations

import csv
import math
import random
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from ftadvisor.pricing.training import default_epochs
from local_backend.batching import Layout, Step, collate, plan
from local_backend.chatdata import IGNORE, Encoded, TemplateError, encode_chat, encode_preference
from local_backend.losses import sequence_logps
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


def _read_jsonl(path: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of each example (the worker validated the file first)."""
    import json

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [(n, json.loads(line)) for n, line in enumerate(lines, 1) if line.strip()]


def _dpo_loss(
    model: Any, peft_model: Any, pairs: list[tuple[Encoded, Encoded]], pad_id: int, dev: str, beta: float
) -> tuple[Any, int]:
    """DPO with the adapter-disabled model as the reference (no second model in memory). ``model`` may be
    the DDP wrapper of ``peft_model``. Returns the sum over pairs and their number."""
    import torch
    import torch.nn.functional as F

    batch = collate([c for c, _ in pairs] + [r for _, r in pairs], pad_id, dev)
    policy = sequence_logps(model, batch)
    with torch.no_grad(), peft_model.disable_adapter():
        reference = sequence_logps(peft_model, batch)
    k = len(pairs)
    margin = beta * ((policy[:k] - reference[:k]) - (policy[k:] - reference[k:]))
    return -F.logsigmoid(margin).sum(), k


def _n_targets(items: list[Any]) -> int:
    """What a step's loss is averaged over: labelled next-token targets (SFT) or pairs (DPO)."""
    return sum(1 if isinstance(e, tuple) else sum(1 for x in e.labels[1:] if x != IGNORE) for e in items)


def _n_tokens(items: list[Any]) -> int:
    seqs = [s for item in items for s in (item if isinstance(item, tuple) else (item,))]
    return sum(len(s.input_ids) for s in seqs)


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


def adapter_digest(weights: dict[str, Any]) -> str:
    """SHA-256 of the trainable (adapter) weights: equal on every rank when data parallelism is right."""
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(weights.items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


@dataclass
class TrainState:
    """What a checkpoint saves besides the adapter, the optimizer, the scheduler, the scaler and the RNGs."""

    step: int = 0
    trained_tokens: int = 0
    wall_s: float = 0.0
    best_valid: float | None = None
    evals_since_best: int = 0
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Schedule:
    """The run's shape, resolved from the spec and the data (``auto`` values as OpenAI resolves them), and
    every step laid out in advance (``batching.plan``)."""

    epochs: int
    batch_size: int  # per process and micro-batch (without a token budget)
    accumulation: int
    total: int
    lr: float
    warmup: int
    kind: str
    steps: list[Step]

    @property
    def steps_per_epoch(self) -> int:
        return sum(1 for s in self.steps if s.epoch == 0)

    @classmethod
    def of(cls, spec: LocalSpec, lengths: list[int], world: int) -> Schedule:
        n = len(lengths)
        epochs = default_epochs(n) if spec.n_epochs == "auto" else int(spec.n_epochs)
        bs = auto_batch_size(n) if spec.batch_size == "auto" else int(spec.batch_size)
        layout = Layout(
            batch_size=bs,
            world=world,
            accumulation=spec.gradient_accumulation_steps,
            batch_tokens=spec.batch_tokens,
            packing=spec.packing,
            group_by_length=spec.group_by_length,
        )
        steps = plan(lengths, layout, spec.seed, epochs, spec.max_steps)
        total = len(steps)
        lr = spec.learning_rate or BASE_LR * (
            1.0 if spec.learning_rate_multiplier == "auto" else float(spec.learning_rate_multiplier)
        )
        warmup = spec.warmup_steps if spec.warmup_steps is not None else math.ceil(spec.warmup_ratio * total)
        return cls(
            epochs=steps[-1].epoch + 1,
            batch_size=bs,
            accumulation=spec.gradient_accumulation_steps,
            total=total,
            lr=lr,
            warmup=min(warmup, total),
            kind=spec.lr_scheduler,
            steps=steps,
        )

    def factor(self, s: int) -> float:
        """Learning-rate multiplier at step ``s``: linear warm-up, then linear or cosine decay to 0, or constant."""
        if s < self.warmup:
            return (s + 1) / self.warmup
        progress = (s - self.warmup) / max(1, self.total - self.warmup)
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        if self.kind == "constant":
            return 1.0
        return max(0.0, 1.0 - progress)


class Run:
    """Everything set up for training: model (wrapped for DDP, or sharded by FSDP, when distributed), data,
    loss, optimizer, scheduler, precision and gradient scaler."""

    def __init__(self, job: JobDir, spec: LocalSpec, dist: Dist, event: Callable[..., None]) -> None:
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        from local_backend.losses import make_loss_module
        from local_backend.modelio import device, load
        from local_backend.precision import chosen

        self.spec, self.dist = spec, dist
        self.dev = dist.device(device())
        kind = "cuda" if self.dev.startswith("cuda") else "cpu"
        if dist.main:  # one process decides, so that every rank computes alike
            chosen(job, spec.precision, kind)
        dist.barrier()
        self.precision = chosen(job, spec.precision, kind)
        checkpointing = (
            spec.gradient_checkpointing
            if spec.gradient_checkpointing is not None
            else spec.qlora or self.dev.startswith("cuda")
        )
        self.sharded = dist.world > 1 and spec.parallel == "fsdp"
        event(
            f"Loading {spec.model}"
            + (" in 4-bit NF4 (QLoRA)" if spec.qlora else "")
            + (
                f" on {dist.world} processes" + (" (FSDP, sharded)" if self.sharded else " (DDP)")
                if dist.world > 1
                else ""
            )
        )
        model, tok = load(spec.model, quantize_4bit=spec.qlora, attention=spec.attention)
        self.attention = str(model.config._attn_implementation)
        if spec.qlora:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
        elif checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.checkpointing = checkpointing
        lora = LoraConfig(
            r=spec.lora_rank,
            lora_alpha=spec.lora_alpha,
            lora_dropout=spec.lora_dropout,
            target_modules=spec.target_modules,
            task_type="CAUSAL_LM",
        )
        self.peft = get_peft_model(model, lora)
        if spec.compile:  # regional compilation: one compiled graph for the repeated decoder layer
            for layer in _decoder_layers(self.peft):
                layer.compile(dynamic=True)
        self.pad = tok.pad_token_id
        self.pack_to = spec.max_length if spec.packing else None
        forward = self.peft if spec.method == "dpo" else make_loss_module(self.peft)
        if dist.world > 1:
            forward.to(self.dev)
            forward = _shard(forward, self.peft) if self.sharded else _replicate(forward, self.dev, dist)
        self.forward = forward

        def encode(path: str) -> list[Any]:
            out = []
            for line, ex in _read_jsonl(path):
                try:
                    out.append(
                        encode_preference(tok, ex, spec.max_length)
                        if spec.method == "dpo"
                        else encode_chat(tok, ex["messages"], spec.max_length, ex.get("tools"))
                    )
                except TemplateError as exc:
                    raise TemplateError(f"{Path(path).name}:{line}: {exc}") from None
            return out

        self.train_set: list[Any] = encode(spec.training_file)
        self.valid_set: list[Any] = encode(spec.validation_file) if spec.validation_file else []
        self.schedule = Schedule.of(spec, [_n_tokens([e]) for e in self.train_set], dist.world)
        self.optim = _optimizer(spec, self.trainable(), self.schedule.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.optim, self.schedule.factor)
        self.scaler = self.precision.scaler()

    def trainable(self) -> list[Any]:
        return [p for p in self.peft.parameters() if p.requires_grad]

    def loss_sum(self, items: list[Any]) -> tuple[Any, int]:
        """Summed loss of a micro-batch (over labelled tokens, or pairs for DPO) and the count it sums over."""
        with self.precision.autocast():
            if self.spec.method == "dpo":
                return _dpo_loss(self.forward, self.peft, items, self.pad, self.dev, self.spec.beta)
            loss, n = self.forward(collate(items, self.pad, self.dev, self.pack_to))
            return loss, int(n)

    def _sync(self, last: bool) -> Any:
        """Gradients are exchanged between processes on the last micro-batch of a step only."""
        import contextlib

        if self.dist.world == 1:
            return contextlib.nullcontext()
        if self.sharded:
            self.forward.set_requires_gradient_sync(last)
            return contextlib.nullcontext()
        return contextlib.nullcontext() if last else self.forward.no_sync()

    def step(self, micro: list[list[Any]], forwards: int | None = None) -> float:
        """One optimizer step over this process's micro-batches; returns the step's mean loss over all
        processes' labelled tokens (or pairs). Every process runs ``forwards`` passes, the ones it lacks on a
        zero weight (FSDP gathers weights in each pass, so every rank must make as many)."""
        import torch

        forwards = forwards or len(micro)
        local = sum(_n_targets(m) for m in micro)
        denominator = max(1.0, self.dist.total(local) / self.dist.world)  # DDP and FSDP average over processes
        total = 0.0
        for k in range(forwards):
            weight = 1.0 if k < len(micro) else 0.0
            with self._sync(k == forwards - 1):
                loss, _ = self.loss_sum(micro[k] if weight else micro[0][:1])
                scaled = loss * weight / denominator
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            total += weight * float(loss.detach())
        if self.scaler:
            self.scaler.unscale_(self.optim)
        torch.nn.utils.clip_grad_norm_(self.trainable(), self.spec.max_grad_norm)
        if self.scaler:
            self.scaler.step(self.optim)
            self.scaler.update()
        else:
            self.optim.step()
        self.sched.step()
        self.optim.zero_grad(set_to_none=True)
        return total / denominator

    def validation_loss(self) -> float | None:
        """Mean validation loss (per labelled token for SFT, per pair for DPO)."""
        import torch

        if not self.valid_set:
            return None
        self.peft.eval()
        total, count = 0.0, 0
        bs = self.schedule.batch_size
        with torch.no_grad():
            for i in range(0, len(self.valid_set), bs):
                loss, n = self.loss_sum(self.valid_set[i : i + bs])
                total, count = total + float(loss), count + n
        self.peft.train()
        return total / max(count, 1)

    def adapter_weights(self) -> dict[str, Any]:
        """The trainable weights by name, whole: under FSDP gathered from every shard, so every process must
        call it (in the same order)."""
        out = {}
        for name, p in self.peft.named_parameters():
            if p.requires_grad:
                out[name] = (p.full_tensor() if self.sharded else p).detach().cpu().clone()  # type: ignore[attr-defined]
        return out

    def save_adapter(self, path: Path, weights: dict[str, Any]) -> None:
        """Write the adapter as PEFT does (``adapter_config.json`` + safetensors) from ``adapter_weights()``,
        on the main process."""
        if self.dist.main:
            self.peft.save_pretrained(str(path), state_dict=weights)


def _replicate(module: Any, dev: str, dist: Dist) -> Any:
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[dist.local_rank] if dev.startswith("cuda") else None)


def _shard(module: Any, peft_model: Any) -> Any:
    """FSDP2 (``fully_shard``): each decoder layer is a unit whose weights are gathered for its forward and
    backward only, then the root (embeddings, norm, LM head) around the loss module, whose forward is what
    the loop calls."""
    from torch.distributed.fsdp import fully_shard

    for layer in _decoder_layers(peft_model):
        fully_shard(layer)
    fully_shard(module)
    return module


def _decoder_layers(peft_model: Any) -> list[Any]:
    """The model's repeated decoder layers (the classes transformers never splits across devices)."""
    layer_classes = set(getattr(peft_model.get_base_model(), "_no_split_modules", None) or [])
    layers = [m for m in peft_model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise ValueError("the model declares no decoder layer class (_no_split_modules) to shard or compile by")
    return layers


def _optimizer(spec: LocalSpec, params: list[Any], lr: float) -> Any:
    import torch

    if spec.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=spec.weight_decay)
    import bitsandbytes as bnb

    cls = bnb.optim.PagedAdamW8bit if spec.optimizer == "paged-adamw-8bit" else bnb.optim.AdamW8bit
    return cls(params, lr=lr, weight_decay=spec.weight_decay)


class Checkpointer:
    """Complete checkpoints only (written to a hidden folder, then renamed); the newest three are kept. Every
    process calls ``save`` (FSDP gathers its shards for it); the main one writes."""

    def __init__(self, job: JobDir) -> None:
        self.job = job

    def last(self) -> Path | None:
        found = sorted(self.job.checkpoints.glob("step-*")) if self.job.checkpoints.is_dir() else []
        return found[-1] if found else None

    def save(self, run: Run, state: TrainState) -> None:
        import torch

        optim = _full_optimizer_state(run) if run.sharded else run.optim.state_dict()
        weights = run.adapter_weights() if run.sharded else None
        if not run.dist.main:
            return
        tmp = self.job.checkpoints / f".step-{state.step:06d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        run.peft.save_pretrained(str(tmp / "adapter"), state_dict=weights)
        if weights is not None:
            torch.save(weights, tmp / "trainable.pt")
        torch.save(optim, tmp / "optimizer.pt")
        torch.save(run.sched.state_dict(), tmp / "scheduler.pt")
        extra = {"scaler": run.scaler.state_dict()} if run.scaler else {}
        torch.save(
            {
                "state": asdict(state),
                "metrics": list(state.metrics),
                "torch_rng": torch.get_rng_state(),
                "py_rng": random.getstate(),
                **extra,
            },
            tmp / "state.pt",
        )
        final = self.job.checkpoints / f"step-{state.step:06d}"
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted(self.job.checkpoints.glob("step-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)

    def restore(self, run: Run) -> TrainState | None:
        import torch

        last = self.last()
        if last is None:
            return None
        optim = torch.load(last / "optimizer.pt", weights_only=True)
        if run.sharded:
            _load_sharded(run, torch.load(last / "trainable.pt", weights_only=True), optim)
        else:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(run.peft, load_file(str(last / "adapter" / "adapter_model.safetensors")))
            run.optim.load_state_dict(optim)
        run.sched.load_state_dict(torch.load(last / "scheduler.pt", weights_only=True))
        saved = torch.load(last / "state.pt", weights_only=False)
        if run.scaler and "scaler" in saved:
            run.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["torch_rng"])
        random.setstate(saved["py_rng"])
        known = {k: v for k, v in saved["state"].items() if k in TrainState.__dataclass_fields__}
        return TrainState(**{**known, "metrics": saved["metrics"]})


def _state_options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True, strict=False)


def _full_optimizer_state(run: Run) -> dict[str, Any]:
    """The optimizer's state gathered whole from FSDP's shards (a collective: every process calls it)."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(run.forward, run.optim, options=_state_options())


def _load_sharded(run: Run, weights: dict[str, Any], optim: dict[str, Any]) -> None:
    """Put whole adapter weights and optimizer state back into FSDP's shards (every process loads them)."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    prefix = "model." if run.forward is not run.peft else ""  # the loss module holds the PEFT model as .model
    set_model_state_dict(run.forward, {prefix + k: v for k, v in weights.items()}, options=_state_options())
    set_optimizer_state_dict(run.forward, run.optim, optim, options=_state_options())


class Reporter:
    """The job's events, status, files and experiment tracking, written by the main process only."""

    def __init__(self, job: JobDir, dist: Dist, spec: LocalSpec) -> None:
        from local_backend.tracking import open_tracker

        self.job, self.main = job, dist.main
        self.tracker = (
            open_tracker(spec.report_to, spec.tracking_project, job, spec.model_dump()) if dist.main else None
        )

    def end(self, status: str) -> None:
        """Close the tracked run (once) as the job ends: succeeded, paused, cancelled or failed."""
        if self.tracker is not None:
            tracker, self.tracker = self.tracker, None
            try:
                tracker.end(status)
            except Exception as exc:  # a tracking service's failure must not fail a finished job
                self.event(f"Experiment tracking could not close its run: {type(exc).__name__}: {exc}")

    def event(self, message: str, data: dict[str, Any] | None = None) -> None:
        if self.main:
            self.job.event(message, data=data)

    def update(self, **fields: Any) -> None:
        if self.main:
            self.job.update(**fields)

    def step(self, row: dict[str, Any]) -> None:
        if self.tracker is not None:
            self.tracker.log(row)
        self.event(
            f"Step {row['step']}/{row['total_steps']}: training loss={row['train_loss']:.4f}"
            + (f", validation loss={row['valid_loss']:.4f}" if row["valid_loss"] is not None else ""),
            row,
        )

    def finished(self, run: Run, state: TrainState, wall: float) -> None:
        job = self.job
        with (job.path / "metrics.csv").open("w", newline="") as f:
            w = csv.DictWriter(
                f, fieldnames=["step", "train_loss", "valid_loss", "tokens_per_second"], extrasaction="ignore"
            )
            w.writeheader()
            w.writerows(state.metrics)
        ft_name = job.read_json("names.json")["fine_tuned_model"]
        spec = run.spec
        cost = wall / 3600 * spec.gpu_per_hour if spec.gpu_per_hour is not None else None
        job.event("New fine-tuned model created")
        job.event(
            f"Training took {wall:.1f} s, {state.trained_tokens:,} tokens, peak memory "
            f"{_peak_memory_mb():,.0f} MB" + (f", cost ${cost:.4f}" if cost is not None else "")
        )
        job.write_json(
            "usage.json",
            {
                "wall_s": wall,
                "trained_tokens": state.trained_tokens,
                "peak_memory_mb": _peak_memory_mb(),
                "cost_usd": cost,
            },
        )
        self.end("succeeded")  # the tracked run is flushed and closed before anyone can see the job succeed
        job.update(
            status="succeeded",
            finished_at=int(time.time()),
            trained_tokens=state.trained_tokens,
            fine_tuned_model=ft_name,
            result_files=[f"{job.id}:metrics.csv"],
        )
        job.event(f"The job has successfully completed: {ft_name}")


def train(job: JobDir) -> None:
    """Run (or resume) the job in ``job``: status, events, checkpoints, final adapter, metrics.csv. Under
    torchrun every rank trains its share of each global batch; rank 0 alone writes the job's files."""
    dist = Dist()
    spec = LocalSpec.model_validate(job.read_json("spec.json"))
    report = Reporter(job, dist, spec)
    try:
        _train(job, dist, spec, report)
    except BaseException:
        report.end("failed")
        raise
    finally:
        dist.close()


def _train(job: JobDir, dist: Dist, spec: LocalSpec, report: Reporter) -> None:
    import torch

    stop: dict[str, str | None] = {"to": None}

    def on_term(*_: Any) -> None:  # the backend writes "cancel" or "pause" to `control`, then signals
        control = job.path / "control"
        stop["to"] = control.read_text().strip() if control.is_file() else "cancel"

    signal.signal(signal.SIGTERM, on_term)
    random.seed(spec.seed)
    torch.manual_seed(spec.seed)
    report.update(status="running")
    run = Run(job, spec, dist, report.event)
    sch = run.schedule
    hyper: dict[str, Any] = {
        "n_epochs": sch.epochs,
        "batch_size": sch.batch_size,
        "learning_rate_multiplier": sch.lr / BASE_LR,
    }
    if spec.method == "dpo":
        hyper["beta"] = spec.beta
    report.update(hyperparameters=hyper)
    checkpoints = Checkpointer(job)
    state = checkpoints.restore(run)
    if state is not None:
        report.event(f"Resumed from checkpoint at step {state.step}")
    state = state or TrainState()
    best: dict[str, Any] | None = None  # the adapter at the best validation loss (early stopping)
    trainable = sum(p.numel() for p in run.peft.parameters() if p.requires_grad)
    n = len(run.train_set)
    report.event(
        f"Fine-tuning started: {n} examples, {sch.epochs} epochs, "
        + (
            f"micro-batches of up to {spec.batch_tokens:,} tokens"
            if spec.batch_tokens
            else f"batch size {sch.batch_size}"
        )
        + (f" x {sch.accumulation} accumulated" if sch.accumulation > 1 else "")
        + f", {sch.total} steps, "
        + ("packed, " if spec.packing else "")
        + ("grouped by length, " if spec.group_by_length else "")
        + f"{sch.kind} schedule with {sch.warmup} warm-up steps, LoRA r={spec.lora_rank} on {spec.target_modules}, "
        f"{trainable:,} trainable parameters, {run.attention} attention; {run.precision.reason}"
        + ("; gradient checkpointing" if run.checkpointing else "")
        + ("; compiled" if spec.compile else "")
    )
    run.peft.train()
    started = time.perf_counter() - state.wall_s
    for step in sch.steps[state.step : sch.total]:  # the steps not trained yet (all of them unless resumed)
        t0 = time.perf_counter()
        micro = [[run.train_set[i] for i in mb] for mb in step.micro_batches(dist.rank)]
        loss = run.step(micro, step.most_micro_batches)
        tokens = int(dist.total(sum(_n_tokens(m) for m in micro)))
        state.step += 1
        state.trained_tokens += tokens
        row: dict[str, Any] = {
            "step": state.step,
            "train_loss": round(dist.mean(loss), 6),
            "valid_loss": None,
            "tokens_per_second": round(tokens / max(time.perf_counter() - t0, 1e-9), 1),
            "total_steps": sch.total,
            "epoch": step.epoch + 1,
        }
        last_step = step.last_of_epoch or state.step == sch.total
        if run.valid_set and (state.step % spec.eval_every == 0 or last_step):
            valid = run.validation_loss()
            row["valid_loss"] = round(valid or 0.0, 6)
            if valid is not None and (state.best_valid is None or valid < state.best_valid):
                state.best_valid, state.evals_since_best = valid, 0
                if spec.early_stopping_patience:
                    best = {k: v.detach().clone() for k, v in run.peft.state_dict().items() if "lora_" in k}
            else:
                state.evals_since_best += 1
        state.metrics.append(row)
        report.step(row)
        state.wall_s = time.perf_counter() - started
        patience = spec.early_stopping_patience
        early = patience is not None and state.evals_since_best >= patience
        stopping = dist.any(stop["to"] is not None)
        if state.step % spec.checkpoint_every == 0 or last_step or stopping or early:
            checkpoints.save(run, state)
            dist.barrier()
        if stopping:
            final = "paused" if stop["to"] == "pause" else "cancelled"
            report.event(f"Job {final} at step {state.step}; its state is saved")
            report.update(status=final, trained_tokens=state.trained_tokens)
            report.end(final)
            return
        if early:
            if best is not None:
                run.peft.load_state_dict(best, strict=False)
            report.event(
                f"Early stopping at step {state.step}: the validation loss has not improved for "
                f"{patience} evaluations; keeping the adapter with the best one ({state.best_valid:.4f})"
            )
            break
    weights = run.adapter_weights()
    (job.path / f"rank-{dist.rank}.sha256").write_text(adapter_digest(weights))
    run.save_adapter(job.adapter, weights)  # the same gathered weights: FSDP gathers once
    if dist.main:
        report.finished(run, state, time.perf_counter() - started)
