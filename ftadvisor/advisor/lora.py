"""LoRA / QLoRA sizing from a Hugging Face ``config.json``: exact trainable parameters and memory estimates.

A LoRA module on ``Linear(d_in -> d_out)`` has ``r * (d_in + d_out)`` parameters. Memory rules
(shared/reference/local-fine-tuning.md §7): full fine-tuning with AdamW in mixed precision ≈ 18 B/param;
LoRA on a 16-bit base ≈ 2 B/param of base + 16 B per trainable param; QLoRA stores quantised linear
weights in NF4 with double quantisation ≈ 0.52 B/param, the rest in 16 bits. Activations per layer
(16-bit, SDPA/FlashAttention, no checkpointing) ≈ 34·s·b·h bytes, plus logits b·s·V·4 bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.errors import InputError

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + MLP
PRESETS = {"all-linear": ALL_LINEAR, "attention": ATTENTION, "qv": ("q_proj", "v_proj")}
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "granite", "olmo2", "smollm3")
GIB = 1024 ** 3
NF4_BYTES = 0.52
BF16_BYTES = 2
FULL_BYTES = 18
TRAINABLE_BYTES = 16


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
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, self.intermediate), "up_proj": (h, self.intermediate),
                "down_proj": (self.intermediate, h)}

    def linear_params(self) -> int:
        """Parameters in the per-layer linear weights (what QLoRA quantises), all layers."""
        per_layer = sum(i * o for i, o in self.linears().values())
        bias = (self.heads + 2 * self.kv_heads) * self.head_dim if self.attention_bias else 0
        return self.layers * (per_layer + bias)

    def total_params(self) -> int:
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        norms = self.layers * 2 * self.hidden + self.hidden
        return embeddings + norms + self.linear_params()


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
            model_type=model_type, hidden=hidden, intermediate=int(cfg["intermediate_size"]), heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads), layers=int(cfg["num_hidden_layers"]),
            vocab=int(cfg["vocab_size"]),
            tied_embeddings=bool(cfg.get("tie_word_embeddings", model_type.startswith("gemma"))),
            attention_bias=bool(cfg.get("attention_bias", model_type == "qwen2")))
    except KeyError as exc:
        raise InputError(f"{p}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise InputError(f"{p}: a size field is not a number: {exc}") from exc
    return shape


class LoraSize(BaseModel):
    model_type: str
    rank: int
    targets: list[str]
    trainable_params: int
    base_params: int
    total_params: int
    trainable_percent: float
    adapter_bytes: int
    seq_len: int
    batch_size: int
    activations_gb: float
    memory_gb: dict[str, float]


def lora_size(shape: ModelShape, rank: int, targets: list[str], *, seq_len: int = 2048,
              batch_size: int = 1) -> LoraSize:
    """Exact LoRA parameter count and memory estimates (GiB) for full, LoRA and QLoRA training."""
    if rank < 1:
        raise InputError(f"--rank must be at least 1, got {rank}")
    linears = shape.linears()
    unknown = [t for t in targets if t not in linears]
    if unknown:
        raise InputError(f"unknown target module(s) {', '.join(unknown)}; known: {', '.join(linears)}")
    trainable = shape.layers * sum(rank * sum(linears[t]) for t in targets)
    base = shape.total_params()
    s, b, h = seq_len, batch_size, shape.hidden
    activations = shape.layers * 34 * s * b * h + b * s * shape.vocab * 4
    non_linear = base - shape.linear_params()
    memory = {
        "full": (FULL_BYTES * base + activations) / GIB,
        "lora": (BF16_BYTES * base + TRAINABLE_BYTES * trainable + activations) / GIB,
        "qlora": (NF4_BYTES * shape.linear_params() + BF16_BYTES * non_linear + TRAINABLE_BYTES * trainable
                  + activations) / GIB,
    }
    return LoraSize(model_type=shape.model_type, rank=rank, targets=list(targets), trainable_params=trainable,
                    base_params=base, total_params=base + trainable,
                    trainable_percent=100 * trainable / (base + trainable), adapter_bytes=4 * trainable,
                    seq_len=seq_len, batch_size=batch_size, activations_gb=activations / GIB,
                    memory_gb={k: round(v, 3) for k, v in memory.items()})
