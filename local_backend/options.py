"""The local backend's own job options: typed, validated before a job exists, listed by `ftadvisor backends`
and passed as ``train -o KEY=VALUE``. The worker's full spec (``trainer.LocalSpec``) extends them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ftadvisor.backends.base import BackendOptions


class LocalOptions(BackendOptions):
    lora_rank: int = Field(default=16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (the update is scaled by alpha/rank)")
    lora_dropout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="dropout on the LoRA input (0 as PEFT's "
        "default: measured no worse on short runs, and 10-25 % faster; 0.05 is Axolotl's)",
    )
    target_modules: list[str] | str = Field(
        default="all-linear", description="modules to adapt, comma-separated, or all-linear"
    )
    qlora: bool = Field(default=False, description="4-bit NF4 base (QLoRA, bitsandbytes)")
    max_length: int = Field(default=1024, ge=8, description="tokens per example; longer ones are cut")
    gpu_per_hour: float | None = Field(
        default=None,
        ge=0,
        description="price of this machine per hour, for the run's cost (default: the catalogue's self-hosted row)",
    )
    num_processes: int = Field(
        default=1, ge=1, description="data-parallel processes through torchrun (one per GPU; gloo on CPU)"
    )
    nnodes: int = Field(
        default=1,
        ge=1,
        description="machines to train on; above 1 nothing starts here: the job "
        "prints the torchrun command each node runs (num_processes per node, shared job folder)",
    )
    checkpoint_every: int = Field(default=25, ge=1, description="steps between checkpoints")
    eval_every: int = Field(default=25, ge=1, description="steps between validation passes")
    gradient_accumulation_steps: int = Field(
        default=1,
        ge=1,
        description="micro-batches per optimizer step (the effective batch is batch_size x this x processes)",
    )
    max_steps: int | None = Field(default=None, ge=1, description="optimizer steps to train, instead of epochs")
    learning_rate: float | None = Field(
        default=None, gt=0, description="peak learning rate (instead of the multiplier of the base 2e-4)"
    )
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field(
        default="linear", description="learning-rate schedule after the warm-up"
    )
    warmup_ratio: float = Field(
        default=0.05, ge=0, lt=1, description="share of the steps that warm the learning rate up from 0"
    )
    warmup_steps: int | None = Field(default=None, ge=0, description="warm-up steps (instead of warmup_ratio)")
    optimizer: Literal["adamw", "adamw-8bit", "paged-adamw-8bit"] = Field(
        default="adamw", description="adamw (torch), or bitsandbytes' 8-bit AdamW (paged: GPUs only)"
    )
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(default=1.0, gt=0, description="gradient clipping norm")
    gradient_checkpointing: bool | None = Field(
        default=None, description="recompute activations in the backward pass (default: on for QLoRA and on GPUs)"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto",
        description="auto: bf16 autocast where the hardware does bf16 fast (probed at run time), "
        "fp16 with a GradScaler on GPUs without bf16, else fp32",
    )
    early_stopping_patience: int | None = Field(
        default=None,
        ge=1,
        description="stop after this many validation passes without a better loss, keeping the best adapter",
    )

    packing: bool = Field(
        default=False,
        description="pack several examples into each row (up to max_length "
        "tokens) with no padding; each example sees only itself (SFT only)",
    )
    group_by_length: bool = Field(
        default=False,
        description="put examples of similar length in the same batch "
        "(less padding); the order of the batches stays random",
    )
    batch_tokens: int | None = Field(
        default=None,
        ge=8,
        description="fill each micro-batch up to this many tokens "
        "(padded, or packed with packing) instead of batch_size examples",
    )
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2"] = Field(
        default="auto",
        description="attention kernel: auto = flash_attention_2 on a GPU with flash-attn "
        "installed (varlen with packing), else sdpa",
    )
    compile: bool = Field(
        default=False,
        description="torch.compile each decoder layer (compiled once, reused "
        "by every layer; costs tens of seconds up front; needs a C++ compiler on a CPU)",
    )
    parallel: Literal["ddp", "fsdp"] = Field(
        default="ddp",
        description="with num_processes > 1: ddp (a model copy "
        "per process) or fsdp (weights sharded across processes, torch "
        "fully_shard, for models that do not fit one GPU)",
    )

    report_to: Literal["none", "mlflow", "wandb"] = Field(
        default="none",
        description="track the run in MLflow (MLFLOW_TRACKING_URI, else a local file store) or "
        "Weights & Biases (offline unless WANDB_API_KEY or WANDB_MODE is set)",
    )
    tracking_project: str | None = Field(
        default=None, description="MLflow experiment or W&B project (default: ftadvisor)"
    )

    @model_validator(mode="after")
    def _compatible(self) -> LocalOptions:
        if self.parallel == "fsdp" and self.optimizer != "adamw":
            raise ValueError(f"optimizer {self.optimizer} cannot step FSDP's sharded parameters; use adamw")
        if self.parallel == "fsdp" and self.qlora:
            raise ValueError(
                "qlora with fsdp is not supported yet (bitsandbytes' 4-bit weights are not sharded "
                "here); use ddp, or LoRA on a bf16 base with fsdp"
            )
        return self

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str) and v != "all-linear":
            return [m.strip() for m in v.split(",") if m.strip()]
        return v
