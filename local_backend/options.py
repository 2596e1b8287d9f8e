"""The local backend's own job options: typed, validated before a job exists, listed by `ftadvisor backends`
and passed as ``train -o KEY=VALUE``. The worker's full spec (``trainer.LocalSpec``) extends them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ftadvisor.backends.base import BackendOptions


class LocalOptions(BackendOptions):
    lora_rank: int = Field(default=16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (the update is scaled by alpha/rank)")
    lora_dropout: float = Field(default=0.05, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: list[str] | str = Field(default="all-linear", description="modules to adapt, comma-separated, "
                                            "or all-linear")
    qlora: bool = Field(default=False, description="4-bit NF4 base (QLoRA, bitsandbytes)")
    max_length: int = Field(default=1024, ge=8, description="tokens per example; longer ones are cut")
    gpu_per_hour: float | None = Field(default=None, ge=0, description="price of this machine per hour, for the "
                                       "run's cost (default: the catalogue's self-hosted row)")
    num_processes: int = Field(default=1, ge=1, description="data-parallel processes through torchrun (one per "
                               "GPU; gloo on CPU)")
    checkpoint_every: int = Field(default=25, ge=1, description="steps between checkpoints")
    eval_every: int = Field(default=25, ge=1, description="steps between validation passes")
    gradient_accumulation_steps: int = Field(default=1, ge=1, description="micro-batches per optimizer step (the "
                                             "effective batch is batch_size x this x processes)")
    max_steps: int | None = Field(default=None, ge=1, description="optimizer steps to train, instead of epochs")
    learning_rate: float | None = Field(default=None, gt=0, description="peak learning rate (instead of the "
                                        "multiplier of the base 2e-4)")
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(default="linear", description="learning-rate "
                                                                   "schedule after the warm-up")
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1, description="share of the steps that warm the "
                                "learning rate up from 0")
    warmup_steps: int | None = Field(default=None, ge=0, description="warm-up steps (instead of warmup_ratio)")
    optimizer: Literal["adamw", "adamw-8bit", "paged-adamw-8bit"] = Field(
        default="adamw", description="adamw (torch), or bitsandbytes' 8-bit AdamW (paged: GPUs only)")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(default=1.0, gt=0, description="gradient clipping norm")
    gradient_checkpointing: bool | None = Field(default=None, description="recompute activations in the backward "
                                                "pass (default: on for QLoRA and on GPUs)")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="auto: bf16 autocast where the hardware does bf16 fast (probed at run time), "
                                    "fp16 with a GradScaler on GPUs without bf16, else fp32")
    early_stopping_patience: int | None = Field(default=None, ge=1, description="stop after this many validation "
                                                "passes without a better loss, keeping the best adapter")

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str) and v != "all-linear":
            return [m.strip() for m in v.split(",") if m.strip()]
        return v
