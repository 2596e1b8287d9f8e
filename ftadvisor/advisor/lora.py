"""LoRA / QLoRA sizing from a Hugging Face ``config.json``: exact trainable parameters and memory estimates.

A LoRA module on ``Linear(d_in -> d_out)`` has ``r * (d_in + d_out)`` parameters. The memory model
(shared/reference/local-fine-tuning.md §7) adds, per GPU:
- weights: full fine-tuning in mixed precision 6 B/param (16-bit copy + fp32 master) + 4 B gradients +
  the optimizer (AdamW 8 B, 8-bit AdamW 2 B); LoRA keeps the base in 16 bits (2 B, or 4 B in fp32 on a CPU);
  QLoRA stores the linear layers in NF4 with double quantisation (0.52 B/param) and the rest in 16 bits,
  upcast to fp32 by PEFT's ``prepare_model_for_kbit_training`` (TRL, Axolotl, our trainer; torchtune and
  Unsloth keep them in 16 bits: ``upcast=False``);
- adapter: fp32 weights 4 B + gradients 4 B + the optimizer, per trainable parameter;
- activations (Korthikanti et al. 2022, SDPA/FlashAttention): 34·s·b·h bytes per layer in 16 bits;
  with gradient checkpointing only each layer's input (2·s·b·h) is kept and one layer is recomputed at a
  time during the backward pass;
- logits b·s·V, by loss: ``fp32`` (today's transformers, TRL and our trainer) keeps the logits, their fp32
  upcast and the log-softmax (dtype + 8 B each; measured 12 B in fp32 by benchmarks/bench_memory.py);
  ``fp32-legacy`` (transformers before 4.46 also kept fp32 logits and a shifted contiguous copy) dtype + 16 B,
  which reproduces Unsloth's HF+FA2 context limits; ``chunked`` (torchtune's compiled chunked cross-entropy,
  Liger's and Unsloth's fused ones) holds one chunk of 8 at a time: its logits and their fp32 upcast.
Peak: without checkpointing every activation and the logits are alive together at the start of the
backward pass; with it, the logits are freed before the layers are recomputed, so the larger of the two
counts. FSDP shards weights, gradients and optimizer states over the GPUs and gathers one layer at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ftadvisor.errors import InputError

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + MLP
PRESETS = {"all-linear": ALL_LINEAR, "attention": ATTENTION, "qv": ("q_proj", "v_proj")}
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "granite", "olmo2", "smollm3")
GIB = 1024**3
NF4_BYTES = 0.52


class ModelShape(BaseModel):
    model_type: str
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    layers: int
    vocab: int
    tied_embeddings: bool
    attention_bias: bool

    def linears(self) -> dict[str, tuple[int, int]]:
        """(d_in, d_out) of each linear layer in one decoder block."""
        h, q, kv = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, self.intermediate),
            "up_proj": (h, self.intermediate),
            "down_proj": (self.intermediate, h),
        }

    def linear_params(self) -> int:
        """Parameters in the per-layer linear weights (what QLoRA quantises), all layers."""
        per_layer = sum(i * o for i, o in self.linears().values())
        bias = (self.heads + 2 * self.kv_heads) * self.head_dim if self.attention_bias else 0
        return self.layers * (per_layer + bias)

    def total_params(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        norms = self.layers * 2 * self.hidden + self.hidden
        return embeddings + norms + self.linear_params()


def _shape(
    model_type: str,
    hidden: int,
    intermediate: int,
    heads: int,
    kv_heads: int,
    layers: int,
    vocab: int,
    tied: bool,
    head_dim: int | None = None,
) -> ModelShape:
    return ModelShape(
        model_type=model_type,
        hidden=hidden,
        intermediate=intermediate,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim or hidden // heads,
        layers=layers,
        vocab=vocab,
        tied_embeddings=tied,
        attention_bias=model_type == "qwen2",
    )


# Shapes of common open models, from their published config.json files, for sizing without a download.
PRESET_SHAPES: dict[str, ModelShape] = {
    "smollm2-135m": _shape("llama", 576, 1536, 9, 3, 30, 49152, True),
    "qwen2.5-0.5b": _shape("qwen2", 896, 4864, 14, 2, 24, 151936, True),
    "llama-3.2-1b": _shape("llama", 2048, 8192, 32, 8, 16, 128256, True),
    "llama-3.2-3b": _shape("llama", 3072, 8192, 24, 8, 28, 128256, True),
    "mistral-7b": _shape("mistral", 4096, 14336, 32, 8, 32, 32768, False),
    "qwen2.5-7b": _shape("qwen2", 3584, 18944, 28, 4, 28, 152064, False),
    "llama-3.1-8b": _shape("llama", 4096, 14336, 32, 8, 32, 128256, False),
    "gemma-2-9b": _shape("gemma2", 3584, 14336, 16, 8, 42, 256000, True, head_dim=256),
    "qwen2.5-14b": _shape("qwen2", 5120, 13824, 40, 8, 48, 152064, False),
    "llama-3.1-70b": _shape("llama", 8192, 28672, 64, 8, 80, 128256, False),
}


def read_config(path: str | Path) -> ModelShape:
    """The shape of a llama/mistral/qwen2/gemma-style model from its ``config.json`` (no weights loaded)."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        cfg: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON: {exc}") from exc
    if not isinstance(cfg, dict):
        raise InputError(f"{p}: expected a JSON object")
    cfg = cfg.get("text_config", cfg) if "hidden_size" not in cfg else cfg
    model_type = str(cfg.get("model_type", "llama"))
    if model_type not in SUPPORTED:
        raise InputError(f"{p}: model_type {model_type!r} is not supported (supported: {', '.join(SUPPORTED)})")
    try:
        hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        shape = ModelShape(
            model_type=model_type,
            hidden=hidden,
            intermediate=int(cfg["intermediate_size"]),
            heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            layers=int(cfg["num_hidden_layers"]),
            vocab=int(cfg["vocab_size"]),
            tied_embeddings=bool(cfg.get("tie_word_embeddings", model_type.startswith("gemma"))),
            attention_bias=bool(cfg.get("attention_bias", model_type == "qwen2")),
        )
    except KeyError as exc:
        raise InputError(f"{p}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise InputError(f"{p}: a size field is not a number: {exc}") from exc
    return shape


Method = Literal["full", "lora", "qlora"]
Optimizer = Literal["adamw", "adamw-8bit", "paged-adamw-8bit"]
OPTIMIZER_BYTES: dict[str, float] = {"adamw": 8, "adamw-8bit": 2, "paged-adamw-8bit": 2}
LOSS_CHUNKS = 8
LOSS_BYTES: dict[str, float] = {"fp32": 8, "fp32-legacy": 16}  # fp32 bytes per logit beyond the logits
FP32_UPCAST_BYTES = 4
Loss = Literal["fp32", "fp32-legacy", "chunked"]


class MemorySettings(BaseModel):
    """How the run is set up; the defaults follow every published recipe (checkpointing, bf16)."""

    seq_len: int = Field(default=2048, ge=1)
    batch_size: int = Field(default=1, ge=1)  # micro-batch per GPU
    gradient_checkpointing: bool = True
    optimizer: Optimizer = "adamw"
    loss: Loss = "fp32"
    dtype_bytes: int = Field(default=2, ge=2, le=4)  # 2 = bf16/fp16, 4 = fp32 (CPU training)
    upcast: bool = True  # PEFT upcasts QLoRA's non-quantised weights to fp32
    gpus: int = Field(default=1, ge=1)
    sharding: Literal["none", "fsdp"] = "none"


class MemoryBreakdown(BaseModel):
    """GiB per GPU."""

    weights: float
    adapter_and_optimizer: float
    activations: float
    logits: float
    total: float


def memory(shape: ModelShape, trainable: int, method: Method, m: MemorySettings) -> MemoryBreakdown:
    """Peak memory per GPU of one training step of ``method`` under ``m`` (see the module docstring)."""
    base = shape.total_params()
    linear = shape.linear_params()
    opt = OPTIMIZER_BYTES[m.optimizer]
    if method == "full":
        weights = base * (6 + 4 + opt) if m.dtype_bytes == 2 else base * (4 + 4 + opt)
        adapter = 0.0
    else:
        adapter = trainable * (4 + 4 + opt)
        if method == "lora":
            weights = base * m.dtype_bytes
        else:
            weights = linear * NF4_BYTES + (base - linear) * (4 if m.upcast else m.dtype_bytes)
    if m.sharding == "fsdp" and m.gpus > 1:
        layer = linear / shape.layers * m.dtype_bytes  # one gathered layer at a time
        weights, adapter = weights / m.gpus + layer, adapter / m.gpus
    s, b, h, L = m.seq_len, m.batch_size, shape.hidden, shape.layers
    scale = m.dtype_bytes / 2
    one_layer = 34 * s * b * h * scale
    logits_dtype = 4 if (method == "qlora" and m.upcast) else m.dtype_bytes
    per_logit = (
        (logits_dtype + FP32_UPCAST_BYTES) / LOSS_CHUNKS if m.loss == "chunked" else logits_dtype + LOSS_BYTES[m.loss]
    )
    logits = b * s * shape.vocab * per_logit
    if not m.gradient_checkpointing:
        activations = L * one_layer
    else:  # layer inputs, then the larger of the loss's logits and one recomputed layer (never both at once)
        activations = L * 2 * s * b * h * scale
        if one_layer >= logits:
            activations, logits = activations + one_layer, 0.0
    total = weights + adapter + activations + logits
    return MemoryBreakdown(
        weights=round(weights / GIB, 3),
        adapter_and_optimizer=round(adapter / GIB, 3),
        activations=round(activations / GIB, 3),
        logits=round(logits / GIB, 3),
        total=round(total / GIB, 3),
    )


class Fit(BaseModel):
    """What fits in ``gpu_memory_gib`` per GPU: the longest sequence at the batch size and the largest batch
    at the sequence length (0 when not even 1 fits)."""

    gpu_memory_gib: float
    max_seq_len: dict[str, int]
    max_batch_size: dict[str, int]


def _largest(fits: Callable[[int], bool], high: int) -> int:
    """The largest n in 1..high with fits(n) (fits is monotone), or 0."""
    if not fits(1):
        return 0
    lo, hi = 1, high
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def fit(shape: ModelShape, trainable: int, m: MemorySettings, gpu_memory_gib: float) -> Fit:
    def largest(method: Method, field: str, high: int) -> int:
        return _largest(
            lambda n: memory(shape, trainable, method, m.model_copy(update={field: n})).total <= gpu_memory_gib, high
        )

    methods: tuple[Method, ...] = ("full", "lora", "qlora")
    return Fit(
        gpu_memory_gib=gpu_memory_gib,
        max_seq_len={x: largest(x, "seq_len", 4_194_304) for x in methods},
        max_batch_size={x: largest(x, "batch_size", 65_536) for x in methods},
    )


class MatrixSize(BaseModel):
    """One adapted weight matrix: W is d_out x d_in; LoRA adds A (r x d_in) and B (d_out x r)."""

    module: str
    d_in: int
    d_out: int
    full_params: int
    lora_params: int
    reduction: float  # full / lora
    lora_percent: float  # lora / full


def _matrix(module: str, d_in: int, d_out: int, rank: int) -> MatrixSize:
    full, lora = d_in * d_out, rank * (d_in + d_out)
    return MatrixSize(
        module=module,
        d_in=d_in,
        d_out=d_out,
        full_params=full,
        lora_params=lora,
        reduction=full / lora,
        lora_percent=100 * lora / full,
    )


class LoraSize(BaseModel):
    model_type: str
    rank: int
    targets: list[str]
    trainable_params: int
    base_params: int
    total_params: int
    trainable_percent: float
    adapter_bytes: int
    per_matrix: list[MatrixSize]
    settings: MemorySettings
    memory_gb: dict[str, float]  # GiB per GPU, the totals of ``breakdown``
    breakdown: dict[str, MemoryBreakdown]
    fit: Fit | None = None


def lora_size(
    shape: ModelShape,
    rank: int,
    targets: list[str],
    settings: MemorySettings | None = None,
    *,
    gpu_memory_gib: float | None = None,
) -> LoraSize:
    """Exact LoRA parameter count and memory estimates (GiB per GPU) for full, LoRA and QLoRA training."""
    if rank < 1:
        raise InputError(f"--rank must be at least 1, got {rank}")
    m = settings or MemorySettings()
    linears = shape.linears()
    unknown = [t for t in targets if t not in linears]
    if unknown:
        raise InputError(f"unknown target module(s) {', '.join(unknown)}; known: {', '.join(linears)}")
    trainable = shape.layers * sum(rank * sum(linears[t]) for t in targets)
    base = shape.total_params()
    breakdown = {method: memory(shape, trainable, method, m) for method in ("full", "lora", "qlora")}
    per_matrix = [_matrix(t, *linears[t], rank) for t in targets]
    return LoraSize(
        model_type=shape.model_type,
        rank=rank,
        targets=list(targets),
        trainable_params=trainable,
        base_params=base,
        total_params=base + trainable,
        trainable_percent=100 * trainable / (base + trainable),
        adapter_bytes=4 * trainable,
        per_matrix=per_matrix,
        settings=m,
        memory_gb={k: v.total for k, v in breakdown.items()},
        breakdown=breakdown,
        fit=None if gpu_memory_gib is None else fit(shape, trainable, m, gpu_memory_gib),
    )
